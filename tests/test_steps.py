"""The step layer: a magic and its ``designlog`` verb write the same entry, and the defects that
the step layer's first users found stay fixed."""

from __future__ import annotations

import ast
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from designlog_magics import read_log
from designlog_magics.audit import recheck_calculation
from designlog_magics.magics import DesignLogMagics
from designlog_magics.textformat import render

DATA = Path(__file__).parent / "data"
DESIGNLOG = [sys.executable, "-m", "designlog_magics"]


def start(ip, r):
    ip.run_line_magic(
        "designlog",
        f"start {r['experiment']} --paths models_dir={r['models']} repo_dir={r['repo']} "
        f"scratch_dir={r['scratch']} --no-panel",
    )


def verb(*words, check=True):
    done = subprocess.run(
        [*DESIGNLOG, *map(str, words)], capture_output=True, text=True, timeout=60
    )
    if check:
        assert done.returncode in (0, 1), done.stderr
    return done


def _without_time(entry) -> str:
    return render(entry).split("] ", 1)[1]


@pytest.fixture
def prior_run(resources):
    run = resources["scratch"] / "ck-out-happy-narwhal"
    run.mkdir()
    target = run / "slurm-4187301.out"
    shutil.copy(DATA / "example-slurm.out", target)
    return target


CASES = [
    # (magic, its line, the verb's words): the same step through both edges
    ("log_verify", "MODEL {models_dir}/Llama-3.2-1B-Instruct", ["verify", "MODEL", "{model}"]),
    (
        "log_verify",
        "DATASET {repo_dir}/data/green/capitalization/words_8L_80P_10000.json",
        ["verify", "DATASET", "{dataset}"],
    ),
    ("log_verify", "MODEL {models_dir}/missing", ["verify", "MODEL", "{models}/missing"]),
    ("log_search", "{scratch_dir} --min-size +1k", ["search", "{scratch}", "--min-size", "+1k"]),
    (
        "log_search",
        "{scratch_dir} --limit 1 --min-size 0",
        ["search", "{scratch}", "--limit", "1", "--min-size", "0"],
    ),
    ("log_speed", "{scratch_dir}/ck-out-happy-narwhal/slurm-4187301.out", ["speed", "{out}"]),
    ("log_disk", "{scratch_dir} --need 1k", ["disk", "{scratch}", "--need", "1k"]),
    ("log_disk", "{scratch_dir} --need 900P", ["disk", "{scratch}", "--need", "900P"]),
    (
        "log_decide",
        '--decision cap_8L_lora_comparison_2025-10-22 --reasoning "task, factor, date"',
        [
            "decide",
            "--decision",
            "cap_8L_lora_comparison_2025-10-22",
            "--reasoning",
            "task, factor, date",
        ],
    ),
    (
        "log_decide",
        '--decision Bad_Name --reasoning "why not"',
        ["decide", "--decision", "Bad_Name", "--reasoning", "why not"],
    ),
    (
        "log_complete",
        '--status "Plan approved" --next "Scaffold"',
        ["complete", "--status", "Plan approved", "--next", "Scaffold"],
    ),
    (
        "log_entry",
        'VERIFY_EVAL_TASK "Checking the task" command="ls tasks/cap.py" result=exists',
        [
            "add",
            "VERIFY_EVAL_TASK",
            "Checking the task",
            "command=ls tasks/cap.py",
            "result=exists",
        ],
    ),
]


@pytest.mark.parametrize(
    ("magic", "line", "words"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_a_magic_and_its_verb_write_the_same_entry(ip, resources, prior_run, magic, line, words):
    start(ip, resources)
    values = {
        "model": resources["model"],
        "dataset": resources["dataset"],
        "models": resources["models"],
        "scratch": resources["scratch"],
        "out": prior_run,
    }
    from_magic = ip.run_line_magic(magic, line)
    verb(
        *[w.format(**{k: str(v) for k, v in values.items()}) for w in words],
        "--log",
        resources["experiment"],
    )
    logged = read_log(resources["experiment"]).entries
    assert logged[-2] == from_magic
    assert _without_time(logged[-1]) == _without_time(from_magic)


def test_a_verb_prints_the_result_the_magic_logs_first(ip, resources, prior_run):
    start(ip, resources)
    entry = ip.run_line_magic("log_speed", f"{prior_run}")
    done = verb("speed", prior_run)
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == entry.get("Result")
    assert "after warmup: 7.95 it/s" in done.stdout.splitlines()[0]  # real tqdm, ~8 it/s
    missing = verb("verify", "MODEL", resources["models"] / "nope")
    assert missing.returncode == 1
    assert missing.stdout.splitlines()[0] == "Missing: path does not exist"


def test_verbs_give_json_and_one_line_errors(resources, prior_run):
    import json

    data = json.loads(verb("speed", prior_run, "--json").stdout)
    assert data["result"].startswith("Throughput after warmup: ")
    assert data["plan_its"] == pytest.approx(8.0, rel=0.05)  # the real tqdm run's ~8 it/s
    assert data["speed_its"] == pytest.approx(8.17, rel=0.01)  # tqdm's median rate
    bad = verb("speed", resources["scratch"] / "nope.out", check=False)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("designlog: error: no such file")


def test_magic_methods_are_short_and_call_their_verbs_step():
    from designlog_magics.steps import verbs

    table = verbs()
    for name, verb_name in {
        "log_verify": "verify",
        "log_search": "search",
        "log_speed": "speed",
        "log_disk": "disk",
        "log_decide": "decide",
        "log_summary": "summary",
        "log_complete": "complete",
        "log_entry": "add",
        "log_calc": "calculate",
    }.items():
        method = getattr(DesignLogMagics, name)
        source = inspect.getsource(method)
        body = [ln for ln in source.splitlines() if ln.strip()]
        assert len(body) <= 30, (name, len(body))
        called = {
            node.args[0].value
            for node in ast.walk(ast.parse(source.strip().replace("\n    ", "\n")))
            if isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("_run", "verb")
        }
        assert called == {verb_name}, name
        assert verb_name in table


# -- the defects the step layer's first users found --------------------------------------------
def test_result_template_is_formatted_with_what_the_cell_computed(ip, resources):
    start(ip, resources)
    ip.user_ns["total_r"] = 15  # an earlier cell's value, stale by the time this cell runs
    entry = ip.run_cell_magic(
        "log_calc",
        'CALCULATE_TIME "Training time" --result "Estimated {total_r} minutes total"',
        "steps = 8000 / 4\ntotal_r = steps * 2 / 2.15 / 60  # min\ntotal_r = round(total_r)\n",
    )
    assert entry.get("Result") == "Estimated 31 minutes total"


def test_line_calculation_logs_its_inputs_as_they_were_before_it_ran(ip, resources):
    start(ip, resources)
    ip.user_ns["x"] = 10
    entry = ip.run_line_magic("log_calc", "x = x * 2")
    assert entry.get("Input") == "x=10"
    assert entry.get("Calculation") == "x = x * 2 = 20"
    assert ip.user_ns["x"] == 20
    assert recheck_calculation(entry) == []


def test_cell_calculation_shows_values_it_reads_from_earlier_cells(ip, resources):
    start(ip, resources)
    ip.user_ns["speed"] = 4.0
    ip.user_ns["steps"] = 100
    entry = ip.run_cell_magic("log_calc", "", "steps = steps * 2\nseconds = steps / speed  # s\n")
    assert entry.get("Input") == "steps=100, speed=4"
    assert recheck_calculation(entry) == []


def test_line_calculation_options_are_expanded_but_not_the_result_template(ip, resources):
    start(ip, resources)
    ip.user_ns.update(model="Llama-1B", hours=1, n=3)
    entry = ip.run_line_magic(
        "log_calc", '-b "Estimate for $model" --result "{hours} h" hours = n * 2'
    )
    assert entry.brief == "Estimate for Llama-1B"
    assert entry.get("Result") == "6 h"


def test_ls_names_with_spaces_are_kept_whole(ip, resources):
    start(ip, resources)
    folder = resources["repo"] / "spaced"
    folder.mkdir()
    for name in ("my words.json", "config.json", "z.txt"):
        (folder / name).write_text("{}")
    plain = ip.run_cell_magic("log_verify", "DATASET", f"ls '{folder}'\n")
    assert plain.get("Result") == "Directory exists with 3 files (config.json, my words.json, etc.)"
    long = ip.run_cell_magic("log_verify", "DATASET", f"ls -l '{folder}'\n")
    assert long.get("Result") == "Directory exists with 3 files (config.json, my words.json, etc.)"


def test_a_failed_summary_write_leaves_no_temporary_file(ip, resources):
    start(ip, resources)
    target = resources["experiment"] / "experiment_summary.md"
    target.mkdir()  # os.replace onto a directory fails
    failed = ip.run_cell_magic("log_summary", "--force --no-yaml", "# plan\n")
    assert failed.get("Result") == "Failed: summary not written"
    assert sorted(p.name for p in resources["experiment"].iterdir()) == [
        "design-experiment.log",
        "experiment_summary.md",
    ]
    entry = read_log(resources["experiment"]).entries[-1]
    assert entry.action == "CREATE_SUMMARY" and entry.failed


def test_unload_removes_the_instance_from_the_registry(ip):
    assert "DesignLogMagics" in ip.magics_manager.registry
    ip.run_line_magic("unload_ext", "designlog_magics")
    assert "DesignLogMagics" not in ip.magics_manager.registry
    ip.run_line_magic("load_ext", "designlog_magics")
    assert "DesignLogMagics" in ip.magics_manager.registry


def test_the_progress_line_is_cleared_when_a_step_fails(ip, resources, monkeypatch):
    import designlog_magics.magics as magics_module

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", repr(obj)))

    def recording_display(obj, display_id=None, **_):
        shown.append(("display", repr(obj)))
        return Handle() if display_id else None

    clock = iter([0.0, 5.0, 5.0, 10.0, 10.0, 10.0])
    monkeypatch.setattr(magics_module, "display", recording_display)
    monkeypatch.setattr(magics_module.time, "monotonic", lambda: next(clock, 10.0))
    instance = ip._designlog_magics
    with pytest.raises(RuntimeError):
        with instance._interruptible("reading big.out") as progress:
            progress.update("10 of 500 MB")
            raise RuntimeError("disk went away")
    assert shown[0][0] == "display" and "reading big.out: 10 of 500 MB" in shown[0][1]
    assert shown[-1] == ("update", "")  # the line is replaced by nothing, not left standing


# -- prior runs as facts (the search and the speed of a like run) -------------------------------
PLAN = [
    "model=Llama-3.2-1B-Instruct",
    "batch_size=4",
    "gradient_accumulation_steps=1",
    "max_seq_len=512",
]


@pytest.fixture
def hand_tree(resources):
    sys.path.insert(0, str(Path(__file__).parent / "probes"))
    try:
        from runtree import write_tree
    finally:
        sys.path.pop(0)
    return write_tree(resources["scratch"])


def test_search_like_ranks_like_runs_first_and_lists_the_failed(ip, resources, hand_tree):
    start(ip, resources)
    entry = ip.run_line_magic("log_search", "{scratch_dir} --like " + " ".join(PLAN) + " -o runs")
    result = entry.get("Result")
    assert result.startswith("Best match: ck-out-happy-narwhal (same model, batch_size=4")
    assert "failed: ck-out-oom-run (oom at step 1" in result
    runs = ip.user_ns["runs"]
    assert [r.run for r in runs][:1] == ["ck-out-happy-narwhal"]
    oom = next(r for r in runs.ranked if r.record.run == "ck-out-oom-run")
    assert not oom.usable  # listed, never the one to plan with
    assert "<table" in runs._repr_html_() and "ck-out-bright-horizon" in repr(runs)
    assert entry.get("Command") == ("designlog search {scratch_dir} --like " + " ".join(PLAN))
    import json

    listed = json.loads(verb("search", resources["scratch"], "--like", *PLAN, "--json").stdout)
    assert [row["run"] for row in listed] == [r.run for r in runs]
    assert {"path", "job_id", "state", "its", "tokens_per_s", "config"} <= set(listed[0])
    assert listed[0]["its"] == pytest.approx(4.34, rel=0.03)


def test_speed_entry_carries_the_run_its_end_and_tokens(ip, resources, hand_tree):
    start(ip, resources)
    entry = ip.run_line_magic(
        "log_speed", f"{hand_tree['ck-out-swift-otter']} --like {' '.join(PLAN)} -o speed"
    )
    assert entry.get("Run").startswith("Llama-3.2-1B-Instruct, LoRA r8, batch_size=4")
    assert entry.get("Outcome").startswith("killed at its time limit")
    assert "still counts" in entry.get("Outcome")
    assert entry.get("Tokens").startswith("3,5")  # 3,560 tokens/s per GPU, the hand-made truth
    assert entry.get("Warning") is None  # same model, batch, accumulation and length
    speed = ip.user_ns["speed"]
    assert float(speed) == pytest.approx(3.95, rel=0.03)
    assert speed.tokens_per_s == pytest.approx(3560, rel=0.03)
    other = ip.run_line_magic(
        "log_speed", f"{hand_tree['ck-out-bright-horizon']} --like {' '.join(PLAN)}"
    )
    assert "batch_size 8 vs 4" in other.get("Warning")
    assert "tokens/s" in other.get("Warning")
    # a calculation plans with either figure, each shown as an input
    calc = ip.run_cell_magic(
        "log_calc",
        "",
        "its = speed  # it/s\ntokens_per_s = speed.tokens_per_s  # tokens/s\n"
        "minutes = 1000 / its / 60  # min\n",
    )
    assert calc.get("Input").startswith("its=3.9")
    assert "tokens_per_s=3" in calc.get("Input")


def test_speed_of_an_evaluation_logs_its_time_and_throughput(ip, resources):
    start(ip, resources)
    entry = ip.run_line_magic("log_speed", str(DATA / "inspect" / "one-model.out"))
    assert entry.action == "EXTRACT_SPEED"
    assert entry.get("Result").startswith("Eval took ")
    assert "samples/s" in entry.get("Result") and "tokens/s" in entry.get("Result")
    assert "evaluation" in entry.brief
