"""experiment_summary.yaml from the design log and the summary cell (designlog_magics.plan_yaml).

The truth for the demo log is tests/data/plan/expected-demo-plan.yaml, written by hand from the
upstream template; the upstream schema test itself (tests/upstream/) judges the plans written.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from designlog_magics.entry import Entry, new_entry
from designlog_magics.exceptions import DesignLogError
from designlog_magics.plan_yaml import (
    REQUIRED_FIELDS,
    PlanError,
    build_plan,
    check_plan,
    column_key,
    compute_time,
    dump_plan,
    load_plan,
    parse_estimate,
    validate_plan,
    write_plan,
)
from designlog_magics.store import DesignLog, read_log
from designlog_magics.summary import find_runs_table

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "plan"
UPSTREAM_TEST = Path(__file__).parent / "upstream" / "test_experiment_summary_schema.py"
DEMO_LOG = DATA / "demo-design-experiment.log"
DEMO_CELL = (DATA / "summary-cell.md").read_text(encoding="utf-8")
START = datetime(2026, 12, 1, 22, 29, 24)

YAML_BLOCK = """
```yaml
experiment:
  project: capitalization
  question: Does a higher LoRA rank capitalize better?
controls:
  system_prompt: ""
  prompt: "Capitalize the given word: {input}\\n"
  dataset_type: chat_completion
output:
  wandb_project: cap_tests
evaluation:
  scorers:
    - name: match
  tasks:
    - name: capitalization
      script: "{repo_dir}/blueprints/capitalization/inspect_task.py"
      description: Capitalize a word
```
"""
TABLE = """
| run | type | LoRA rank | epochs | batch size |
|-----|------|-----------|--------|------------|
| r8 | fine-tuned | 8 | 2 | 4 |
| r16 | fine-tuned | 16 | 2 | 4 |
| base | control | - | - | - |
"""


def demo_entries() -> list[Entry]:
    return read_log(DEMO_LOG).entries


def stamp(seconds: int) -> datetime:
    return START + timedelta(seconds=seconds)


def design_entries(
    tmp: Path, *, time_fields: dict[str, str] | None = None, like: str = "batch_size=4"
) -> tuple[list[Entry], dict[str, str]]:
    """A design log written through DesignLog, shaped like the README's; (entries, paths)."""
    paths = {
        "models_dir": str(tmp / "models"),
        "repo_dir": str(tmp / "repo"),
        "scratch_dir": str(tmp / "scratch"),
    }
    experiment = tmp / "scratch" / "cap_lora_2026-12-01"
    log = DesignLog(experiment)
    bindings = "\n".join(f"{k}={v}" for k, v in paths.items())
    fields = time_fields or {
        "Estimate": "total_min = 15.38 min per run",
        "Limit": "slurm_min = 23.07 min per run",
        "Covers": "fine-tuned",
    }
    entries = [
        new_entry(
            "START_DESIGN",
            "Experiment design started",
            timestamp=stamp(0),
            directory=str(experiment),
            paths=bindings,
        ),
        new_entry(
            "DECIDE_NAMING",
            "Experiment name chosen",
            timestamp=stamp(1),
            decision="cap_lora_2026-12-01",
        ),
        new_entry(
            "VERIFY_MODEL",
            "Checking Llama-3.2-1B-Instruct",
            timestamp=stamp(2),
            command="designlog verify MODEL {models_dir}/Llama-3.2-1B-Instruct",
            result="Directory exists with 8 files (config.json, model.safetensors, README.md, "
            "etc.), 2.3G total",
        ),
        new_entry(
            "VERIFY_DATASET",
            "Checking words_5L.json",
            timestamp=stamp(3),
            command="designlog verify DATASET {repo_dir}/data/words_5L.json",
            result="File exists, 1.5M, 1,000 records (train 800, validation 100, test 100)",
        ),
        new_entry(
            "SEARCH_PRIOR_RUNS",
            "Looking for similar experiments",
            timestamp=stamp(4),
            command="designlog search {scratch_dir} --like model=Llama-3.2-1B-Instruct "
            f"{like} gradient_accumulation_steps=1 max_seq_len=512",
            result="Best match: ck-out-happy-narwhal",
        ),
        new_entry(
            "CALCULATE_TIME",
            "Training time estimate",
            [
                ("Input", "samples=800, batch_size=4, epochs=2, speed_its=4.34 it/s"),
                ("Calculation", "total_min = samples / batch_size * epochs / speed_its / 60"),
                ("Result", "Estimated 15 minutes per run"),
                *fields.items(),
            ],
            timestamp=stamp(5),
        ),
        new_entry(
            "CALCULATE_EVAL_TIME",
            "Evaluation time estimate",
            [
                ("Input", "eval_samples=100, samples_per_s=3.99 samples/s"),
                ("Result", "About 1 minute per cell"),
                ("Estimate", "eval_min = 0.42 min per run"),
                ("Covers", "evaluation"),
            ],
            timestamp=stamp(6),
        ),
    ]
    log.append_many(entries)
    return DesignLog(experiment).entries, paths


# ---------------------------------------------------------------------------------------
# the demo log


def test_demo_log_gives_the_hand_written_plan_in_the_templates_order():
    plan = build_plan(demo_entries(), DEMO_CELL, {})
    expected = yaml.safe_load((DATA / "expected-demo-plan.yaml").read_text(encoding="utf-8"))
    assert plan == expected
    # the same key order everywhere (json keeps a dict's order)
    assert json.dumps(plan) == json.dumps(expected)
    assert validate_plan(plan) == []
    assert check_plan(plan, demo_entries(), {}) == []


def test_dump_is_block_yaml_of_the_plan_with_times_and_dates_quoted():
    plan = build_plan(demo_entries(), DEMO_CELL, {})
    text = dump_plan(plan)
    assert yaml.safe_load(text) == plan
    assert text.startswith("# experiment_summary.yaml")
    assert '      time: "0:24:00"\n' in text and '    time: "0:26:00"\n' in text
    assert "  date: '2026-12-01'\n" in text
    assert '  prompt: "Capitalize the given word: {input}\\n"\n' in text
    assert "runs:\n  - name: r8\n    type: fine-tuned\n" in text
    assert "  lora_rank: [8, 16, 32, 64]\n" in text


def test_the_runs_table_reader_keeps_columns_and_cells():
    table = find_runs_table(DEMO_CELL)
    assert table is not None and table.count == 6
    assert table.columns == ("run", "type", "LoRA rank", "epochs", "batch size")
    assert table.rows[4] == ("base", "control", "-", "-", "-")
    assert (table.name_column, table.type_column) == (0, 1)
    assert [column_key(c) for c in table.columns[2:]] == ["lora_rank", "epochs", "batch_size"]


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_validate_plan_names_each_required_field_when_it_is_gone(field):
    plan = build_plan(demo_entries(), DEMO_CELL, {})
    *parents, last = field.split(".")
    holder = plan
    for key in parents:
        holder = holder[key]
    del holder[last]
    problems = validate_plan(plan)
    assert problems and problems[0].startswith(field)


@pytest.mark.parametrize(
    ("result", "size_gb"),
    [
        # probes/paths.py: f"Directory exists with {n} {noun} ({shown}{more}), {size} total"
        ("Directory exists with 8 files (config.json, model.safetensors, etc.), 33K total", 0.01),
        ("Directory exists with 15 files (config.json, model.safetensors, etc.), 2.3G total", 2.3),
        ("Directory exists with 4 files (config.json, a, b, etc.), 15G total", 15.0),
        ("Directory exists with 1 file (model.safetensors), 1.1T total", 1126.4),
        # a %%log_verify cell's du -sh line (probes/commands.py: "4.0G for du -sh")
        ("4.0G", 4.0),
    ],
)
def test_model_sizes_are_read_as_du_writes_them(result, size_gb):
    entries = [
        e
        if e.action != "VERIFY_MODEL"
        else Entry(
            e.timestamp, e.action, e.brief, (("Command", e.get("Command")), ("Result", result))
        )
        for e in demo_entries()
    ]
    assert build_plan(entries, DEMO_CELL, {})["models"]["base"][0]["size_gb"] == size_gb


def test_an_eval_only_run_keeps_its_checkpoint_path_bound(tmp_path):
    entries, paths = design_entries(tmp_path)
    header = "| run | type | LoRA rank | epochs | batch size |"
    table = TABLE.replace(header, header + " checkpoint path |").replace(
        "|------------|", "|------------|---|"
    )
    table = table.replace("| - | - | - |\n", "| - | - | - | - |\n")
    table = table.replace("| 2 | 4 |\n", "| 2 | 4 | - |\n")
    table += "| old-r8 | eval-only | - | - | - | {scratch_dir}/old/r8/artifacts/epoch_1 |\n"
    plan = build_plan(entries, table + YAML_BLOCK, paths)
    old = plan["runs"][-1]
    assert old["type"] == "eval-only"
    assert old["parameters"] == {
        "checkpoint_path": str(tmp_path / "scratch" / "old" / "r8" / "artifacts" / "epoch_1")
    }
    assert plan["evaluation"]["matrix"][-1]["epochs"] is None
    assert plan["variables"] == {"lora_rank": [8, 16]}
    assert validate_plan(plan) == []


def test_runs_given_in_a_yaml_block_make_the_variables(tmp_path):
    entries, paths = design_entries(tmp_path)
    runs = """```yaml
runs:
  - {name: lr-low, type: fine-tuned, parameters: {lr: 1.0e-5, lora_rank: 8}}
  - {name: lr-high, type: fine-tuned, parameters: {lr: 5.0e-5, lora_rank: 8}}
  - {name: base, type: control}
```
"""
    plan = build_plan(entries, YAML_BLOCK + runs, paths)
    assert plan["variables"] == {"lr": [1e-5, 5e-5]}
    assert plan["controls"]["epochs"] == 2 and plan["controls"]["batch_size"] == 4
    assert plan["runs"][2] == {
        "name": "base",
        "type": "control",
        "model": "Llama-3.2-1B-Instruct",
        "parameters": {},
    }
    assert [c["epochs"] for c in plan["evaluation"]["matrix"]] == [[0, 1], [0, 1], None]


# ---------------------------------------------------------------------------------------
# the upstream schema test, run on what we write


def run_upstream(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EXPERIMENT_SUMMARY_YAML": str(path)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(UPSTREAM_TEST)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_upstream_schema_test_passes_on_a_plan_from_a_real_log_and_fails_on_a_broken_one(
    tmp_path,
):
    entries, paths = design_entries(tmp_path)
    plan = build_plan(entries, "# plan\n" + TABLE + YAML_BLOCK, paths)
    target = write_plan(tmp_path / "experiment_summary.yaml", dump_plan(plan))
    passed = run_upstream(target)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "33 passed" in passed.stdout

    broken = copy.deepcopy(plan)
    broken["evaluation"]["matrix"][0]["run"] = "r128"  # a run the plan does not define
    bad = write_plan(tmp_path / "broken.yaml", dump_plan(broken))
    failed = run_upstream(bad)
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout and "test_matrix_runs_reference_defined_runs" in failed.stdout
    assert "1 failed, 32 passed" in failed.stdout
    assert validate_plan(broken) == ['evaluation.matrix[0].run: "r128" is not a defined run']


def test_a_plan_from_a_real_log_has_real_paths_and_the_logged_sizes(tmp_path):
    entries, paths = design_entries(tmp_path)
    plan = build_plan(entries, TABLE + YAML_BLOCK, paths)
    model = plan["models"]["base"][0]
    assert model == {
        "name": "Llama-3.2-1B-Instruct",
        "path": str(tmp_path / "models" / "Llama-3.2-1B-Instruct"),
        "size_gb": 2.3,  # 2.3G (du -h, GiB) stays 2.3
    }
    training = plan["data"]["training"]
    assert training["path"] == str(tmp_path / "repo" / "data" / "words_5L.json")
    assert training["size_kb"] == 1536  # 1.5M = 1.5 * 1024 K
    assert training["splits"] == {"train": 800, "validation": 100, "test": 100}
    assert plan["evaluation"]["tasks"][0]["script"] == str(
        tmp_path / "repo" / "blueprints" / "capitalization" / "inspect_task.py"
    )
    assert plan["experiment"]["dir"] == str(tmp_path / "scratch" / "cap_lora_2026-12-01")
    assert [r.get("compute") for r in plan["runs"]] == [{"time": "0:24:00"}] * 2 + [None]
    assert plan["evaluation"]["compute"] == {"time": "0:01:00"}  # 0.42 min = 25.2 s
    assert check_plan(plan, entries, paths) == []


# ---------------------------------------------------------------------------------------
# estimates


def calc(action: str, **fields: str) -> Entry:
    return new_entry(action, "estimate", timestamp=START, **fields)


def test_parse_estimate_reads_the_contract():
    estimate = parse_estimate(
        calc(
            "CALCULATE_TIME",
            estimate="total_min = 15.38 min per run",
            limit="slurm_min = 23.07 min per run",
            covers="r8, r16",
        )
    )
    assert estimate is not None
    assert (estimate.variable, estimate.value, estimate.unit) == (
        "total_min",
        Decimal("15.38"),
        "min",
    )
    assert estimate.seconds == Decimal("922.80") and estimate.limit_seconds == Decimal("1384.20")
    assert estimate.covers == ("r8", "r16") and estimate.time == "0:24:00"
    hours = parse_estimate(calc("CALCULATE_TIME", estimate="t = 1.5 h per run"))
    assert hours is not None and hours.covers == ("fine-tuned",) and hours.time == "1:30:00"
    evaluation = parse_estimate(calc("CALCULATE_EVAL_TIME", estimate="e = 90 s per run"))
    assert evaluation is not None and evaluation.covers == ("evaluation",)
    assert evaluation.time == "0:02:00"
    other = parse_estimate(calc("CALCULATE_SPEED", estimate="e = 90 s per run"))
    assert other is not None and other.covers == ()  # no Covers, no default: covers nothing
    assert parse_estimate(calc("CALCULATE_DISK", estimate="need_gib = 40.00 GiB")) is None
    assert parse_estimate(calc("CALCULATE_TIME", result="15 minutes")) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"estimate": "total_min = 15.38 minutes per run"},
        {"estimate": "total_min = -3 min per run"},
        {"estimate": "15.38 min per run"},
        {"estimate": "total_min = 15.38 min per run", "limit": "about 20 min"},
        {"estimate": "total_min = 15.38 min per run", "covers": "r8,,r16"},
    ],
)
def test_a_malformed_estimate_is_one_plan_error(fields):
    with pytest.raises(PlanError) as caught:
        parse_estimate(calc("CALCULATE_TIME", **fields))
    assert isinstance(caught.value, DesignLogError) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1384.2, "0:24:00"),
        (1440, "0:24:00"),
        (1441, "0:25:00"),
        (Decimal("0.5"), "0:01:00"),
        (3600, "1:00:00"),
        (2 * 86400, "48:00:00"),
    ],
)
def test_compute_time_rounds_up_to_the_whole_minute(seconds, text):
    assert compute_time(seconds) == text


@pytest.mark.parametrize("seconds", [0, -60, float("nan"), float("inf"), True])
def test_compute_time_refuses_what_slurm_would_read_as_no_limit(seconds):
    with pytest.raises(PlanError):
        compute_time(seconds)


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e7"), places=2))
def test_compute_time_is_the_least_whole_minute_not_below_the_estimate(seconds):
    hours, minutes, secs = (int(x) for x in compute_time(seconds).split(":"))
    total = hours * 3600 + minutes * 60 + secs
    assert secs == 0 and 0 <= minutes < 60
    assert seconds <= total < seconds + 60


def with_estimate(tmp_path: Path, **fields: str) -> tuple[list[Entry], dict[str, str]]:
    entries, paths = design_entries(tmp_path)
    return [*entries, calc("CALCULATE_TIME", **fields)], paths


def test_the_latest_estimate_covering_a_run_wins(tmp_path):
    entries, paths = with_estimate(tmp_path, estimate="t = 40 min per run", covers="r16")
    plan = build_plan(entries, TABLE + YAML_BLOCK, paths)
    assert [r.get("compute") for r in plan["runs"]] == [
        {"time": "0:24:00"},
        {"time": "0:40:00"},
        None,
    ]
    entries.append(calc("CALCULATE_TIME", estimate="t = 10 min per run", covers="all"))
    plan = build_plan(entries, TABLE + YAML_BLOCK, paths)
    assert [r["compute"]["time"] for r in plan["runs"]] == ["0:10:00"] * 3
    # a failed estimate is no estimate
    entries.append(calc("CALCULATE_TIME", estimate="t = 99 min per run", error="bad speed"))
    assert build_plan(entries, TABLE + YAML_BLOCK, paths) == plan


@pytest.mark.parametrize(
    ("covers", "named"),
    [("control, r999", "r999"), ("eval-only", "eval-only"), ("r8, ghost", "ghost")],
)
def test_an_estimate_covering_no_run_is_an_error(tmp_path, covers, named):
    entries, paths = with_estimate(tmp_path, estimate="t = 5 min per run", covers=covers)
    with pytest.raises(PlanError) as caught:
        build_plan(entries, TABLE + YAML_BLOCK, paths)
    assert f"covers {named}, which no run of the plan is" in str(caught.value)


def test_an_estimate_replaced_by_a_later_one_of_its_action_is_history(tmp_path):
    entries, paths = with_estimate(tmp_path, estimate="t = 5 min per run", covers="r999")
    entries.append(calc("CALCULATE_TIME", estimate="t = 7 min per run", covers="r8"))
    plan = build_plan(entries, TABLE + YAML_BLOCK, paths)
    assert plan["runs"][0]["compute"] == {"time": "0:07:00"}


def test_covers_control_without_control_runs_is_an_error(tmp_path):
    entries, paths = with_estimate(tmp_path, estimate="t = 5 min per run", covers="control")
    table = TABLE.replace("| base | control | - | - | - |\n", "")
    with pytest.raises(PlanError, match="covers control, which no run of the plan is"):
        build_plan(entries, table + YAML_BLOCK, paths)


# ---------------------------------------------------------------------------------------
# missing and disagreeing


def test_every_missing_field_is_named_in_one_error():
    with pytest.raises(PlanError) as caught:
        build_plan(demo_entries(), DEMO_CELL.split("```yaml")[0], {})
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        "experiment_summary.yaml needs: experiment.project, experiment.question, "
        "controls.system_prompt, controls.prompt, controls.dataset_type, output.wandb_project, "
        "evaluation.scorers, evaluation.tasks (add them to a yaml block in the cell)"
    )


def test_what_the_log_lacks_is_named_with_where_it_comes_from():
    entries = [e for e in demo_entries() if e.action not in ("VERIFY_DATASET", "DECIDE_NAMING")]
    with pytest.raises(PlanError) as caught:
        build_plan(entries, DEMO_CELL, {})
    message = str(caught.value)
    assert message.startswith("experiment_summary.yaml needs: ")
    assert "experiment.name (no DECIDE_NAMING entry decides it)" in message
    assert "data.training (no VERIFY_DATASET succeeded in the log)" in message
    assert "experiment.project" not in message  # the cell gives it


def test_a_failed_verification_is_not_a_verified_model():
    entries = demo_entries()
    failed = new_entry(
        "VERIFY_MODEL",
        "Checking Llama-3.1-8B-Instruct",
        timestamp=stamp(100),
        command="designlog verify MODEL {models_dir}/Llama-3.1-8B-Instruct",
        result="Missing: path does not exist",
        error="No such file or directory",
    )
    plan = build_plan([*entries, failed], DEMO_CELL, {})
    assert [m["name"] for m in plan["models"]["base"]] == ["Llama-3.2-1B-Instruct"]


def test_the_prompt_must_keep_its_input_placeholder():
    cell = DEMO_CELL.replace("Capitalize the given word: {input}", "Capitalize the word")
    with pytest.raises(PlanError, match=r"controls.prompt: must be text with the \{input\}"):
        build_plan(demo_entries(), cell, {})


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda cell: cell.replace("| 2 | 4 |", "| 3 | 4 |"),
            "controls.epochs: the runs table says 3 but the Input of CALCULATE_TIME "
            "(2026-12-01 22:29:26) says 2",
        ),
        (
            lambda cell: cell.replace("| 2 | 4 |", "| 2 | 8 |"),
            "controls.batch_size: the runs table says 8 but the Input of CALCULATE_TIME",
        ),
        (
            lambda cell: cell.replace("  validation_during_training: true", "  epochs: 3"),
            "controls.epochs: the cell's yaml block says 3 but the runs table says 2",
        ),
        (
            lambda cell: cell.replace(
                "  dataset_type: chat_completion",
                "  dataset_type: chat_completion\n  gradient_accumulation_steps: 4",
            ),
            "controls.gradient_accumulation_steps: the cell's yaml block says 4 but the --like "
            "plan of EXTRACT_SPEED (2026-12-01 22:29:25) says 1",
        ),
        (
            lambda cell: cell.replace(
                "  project: capitalization",
                "  project: capitalization\n  name: cap_other_2026-12-02",
            ),
            "experiment.name: DECIDE_NAMING (2026-12-01 22:29:24) says "
            '"cap_8L_lora_comparison_2026-12-01" but the cell\'s yaml block says '
            '"cap_other_2026-12-02"',
        ),
    ],
)
def test_two_sources_that_disagree_are_an_error_naming_both(change, says):
    with pytest.raises(PlanError) as caught:
        build_plan(demo_entries(), change(DEMO_CELL), {})
    assert says in str(caught.value)


def test_a_compute_time_given_in_the_cell_must_match_the_estimate(tmp_path):
    entries, paths = design_entries(tmp_path)
    runs = """
runs:
  - {name: r8, type: fine-tuned, parameters: {lora_rank: 8}, compute: {time: "0:30:00"}}
  - {name: r16, type: fine-tuned, parameters: {lora_rank: 16}}
controls:
  epochs: 2
  batch_size: 4
```"""
    cell = YAML_BLOCK + "\n```yaml" + runs
    with pytest.raises(PlanError) as caught:
        build_plan(entries, cell, paths)
    assert (
        "runs[r8].compute.time: the estimate of CALCULATE_TIME (2026-12-01 22:29:29) says "
        '"0:24:00" but the cell\'s yaml block says "0:30:00"' in str(caught.value)
    )


def test_a_compute_block_of_the_cell_keeps_its_other_keys(tmp_path):
    entries, paths = design_entries(tmp_path)
    cell = YAML_BLOCK.replace("evaluation:\n", "evaluation:\n  compute: {mem: 80G, gpus: 1}\n")
    plan = build_plan(entries, TABLE + cell, paths)
    assert plan["evaluation"]["compute"] == {"time": "0:01:00", "gpus": 1, "mem": "80G"}
    assert list(plan["evaluation"]["compute"]) == ["time", "gpus", "mem"]


def test_a_compute_time_no_estimate_covers_is_refused(tmp_path):
    entries, paths = design_entries(tmp_path)
    cell = YAML_BLOCK.replace(
        "evaluation:\n", 'evaluation:\n  compute: {time: "0:10:00", mem: 80G}\n'
    )
    entries = [e for e in entries if e.action != "CALCULATE_EVAL_TIME"]
    with pytest.raises(PlanError) as caught:
        build_plan(entries, TABLE + cell, paths)
    assert (
        'evaluation.compute.time "0:10:00" is given in the cell\'s yaml block but no logged '
        "estimate covers it" in str(caught.value)
    )


@pytest.mark.parametrize("name", ["a/b", "..", "../up", "-rf", "a\\b"])
def test_run_names_with_path_characters_are_refused(name):
    cell = DEMO_CELL.replace("| r8 |", f"| {name} |")
    with pytest.raises(PlanError, match="has path characters"):
        build_plan(demo_entries(), cell, {})


def test_a_run_name_with_nul_is_refused(tmp_path):
    entries, paths = design_entries(tmp_path)
    runs = (
        '```yaml\nruns:\n  - {name: "r8\\0x", type: fine-tuned, parameters: {lora_rank: 8}}\n```\n'
    )
    with pytest.raises(PlanError, match="has path characters"):
        build_plan(entries, YAML_BLOCK + runs, paths)


def test_an_unknown_run_type_and_a_missing_type_column_are_named():
    cell = DEMO_CELL.replace("| base | control |", "| base | baseline |")
    with pytest.raises(PlanError, match='run base: type "baseline" is not fine-tuned'):
        build_plan(demo_entries(), cell, {})
    no_type = "| run | LoRA rank |\n|---|---|\n| r8 | 8 |\n" + DEMO_CELL[DEMO_CELL.index("```") :]
    with pytest.raises(PlanError, match="the runs table needs a type column"):
        build_plan(demo_entries(), no_type, {})


def test_log_text_in_braces_is_never_evaluated(tmp_path):
    entries = demo_entries()
    odd = new_entry(
        "VERIFY_MODEL",
        "Checking",
        timestamp=stamp(100),
        command="designlog verify MODEL {models_dir}/{__import__('os').getpid()}",
        result="Directory exists with 1 file (config.json), 4.0K total",
    )
    plan = build_plan([*entries, odd], DEMO_CELL, {})  # the last verified model: runs use it
    path = plan["models"]["base"][0]["path"]
    # split as a shell splits the line (quotes removed), never evaluated
    assert path == "/home/me/designlog-magics/demo-workspace/models/{__import__(os).getpid()}"
    assert str(os.getpid()) not in path
    assert plan["controls"]["prompt"] == "Capitalize the given word: {input}\n"


def test_an_unbound_path_name_is_named():
    cell = DEMO_CELL.replace("{repo_dir}/blueprints", "{tasks_dir}/blueprints")
    with pytest.raises(PlanError, match=r"unbound path name \{tasks_dir\}"):
        build_plan(demo_entries(), cell, {})
    plan = build_plan(demo_entries(), cell, {"tasks_dir": "/opt/tasks"})
    assert (
        plan["evaluation"]["tasks"][0]["script"]
        == "/opt/tasks/blueprints/capitalization/inspect_task.py"
    )


def test_a_broken_yaml_block_is_one_line_with_its_line():
    cell = DEMO_CELL.replace("  project: capitalization", "  project: [capitalization")
    with pytest.raises(PlanError) as caught:
        build_plan(demo_entries(), cell, {})
    assert "the cell's yaml block" in str(caught.value) and "line" in str(caught.value)
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------------------
# the audit's check


def test_check_plan_names_where_the_yaml_and_the_log_disagree():
    entries = demo_entries()
    plan = build_plan(entries, DEMO_CELL, {})
    edited = copy.deepcopy(plan)
    edited["runs"][0]["compute"]["time"] = "0:23:00"
    edited["runs"][4]["compute"] = {"time": "0:10:00"}
    edited["models"]["base"][0]["path"] = "/elsewhere/Llama-3.2-1B-Instruct"
    edited["data"]["training"]["path"] = "/elsewhere/words.json"
    edited["experiment"]["name"] = "renamed"
    del edited["evaluation"]["compute"]
    problems = check_plan(edited, entries, {})
    assert problems == [
        'experiment.name is "renamed" but the log\'s DECIDE_NAMING decided '
        '"cap_8L_lora_comparison_2026-12-01"',
        'models.base Llama-3.2-1B-Instruct path is "/elsewhere/Llama-3.2-1B-Instruct" but '
        "VERIFY_MODEL (2026-12-01 22:29:24) verified "
        '"/home/me/designlog-magics/demo-workspace/models/Llama-3.2-1B-Instruct"',
        'data.training.path is "/elsewhere/words.json" but VERIFY_DATASET (2026-12-01 22:29:24) '
        'verified "/home/me/designlog-magics/demo-workspace/repo/data/green/capitalization/'
        'words_8L_80P_10000.json"',
        'runs[r8].compute.time is "0:23:00" but the estimate of CALCULATE_TIME '
        "(2026-12-01 22:29:26) (total_min = 15.38 min, limit slurm_min = 23.07 min) rounds up "
        "to 0:24:00",
        'runs[base].compute.time is "0:10:00" but no logged estimate covers it',
        "evaluation.compute.time is null but the estimate of CALCULATE_EVAL_TIME "
        "(2026-12-01 22:29:26) (eval_min = 25.05 min) rounds up to 0:26:00",
    ]


def test_check_plan_binds_the_paths_it_is_given(tmp_path):
    entries, paths = design_entries(tmp_path)
    plan = build_plan(entries, TABLE + YAML_BLOCK, paths)
    assert check_plan(plan, entries, paths) == []
    moved = {**paths, "models_dir": "/other/models"}
    assert any("models.base" in p for p in check_plan(plan, entries, moved))


# ---------------------------------------------------------------------------------------
# reading and writing the file


def test_load_plan_reads_a_valid_file_and_names_a_missing_one(tmp_path):
    plan = build_plan(demo_entries(), DEMO_CELL, {})
    target = write_plan(tmp_path / "experiment_summary.yaml", dump_plan(plan))
    assert load_plan(target) == plan
    with pytest.raises(PlanError, match="no such file"):
        load_plan(tmp_path / "nothing.yaml")


def test_load_plan_gives_the_line_of_a_yaml_syntax_error(tmp_path):
    target = tmp_path / "experiment_summary.yaml"
    target.write_text("experiment:\n  name: x\n  project: [unclosed\ntools: {}\n")
    with pytest.raises(PlanError) as caught:
        load_plan(target)
    message = str(caught.value)
    assert "YAML syntax error at line 4" in message and "\n" not in message


def test_load_plan_names_the_first_problems_of_an_edited_file(tmp_path):
    plan = build_plan(demo_entries(), DEMO_CELL, {})
    text = dump_plan(plan).replace('time: "0:24:00"', "time: 1:30:00", 1)
    text = text.replace("  date: '2026-12-01'", "  date: 2026-12-01")
    text = text.replace("      epochs: [0, 1]", "      epochs: [0, 2]", 1)
    target = tmp_path / "experiment_summary.yaml"
    target.write_text(text)
    with pytest.raises(PlanError) as caught:
        load_plan(target)
    message = str(caught.value)
    assert message.startswith(f"{target} is not a valid experiment_summary.yaml: ")
    assert 'experiment.date: must be a "YYYY-MM-DD" text, not' in message
    assert "(quote it: YAML reads an unquoted date as a date)" in message
    assert 'runs[r8].compute.time: must be a positive "H:MM:SS" text, not 5400' in message
    assert "evaluation.matrix[0].epochs: 2 is past the run's 2 epochs" in message
    assert "\n" not in message


def test_load_plan_shows_three_problems_and_counts_the_rest(tmp_path):
    target = tmp_path / "experiment_summary.yaml"
    target.write_text("experiment: {}\n")
    with pytest.raises(PlanError, match=r"\(and \d+ more\)$"):
        load_plan(target)
    target.write_text("- a list\n")
    with pytest.raises(PlanError, match="the plan must be a mapping, not a list"):
        load_plan(target)


def test_write_plan_refuses_to_overwrite_without_force_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "experiment_summary.yaml"
    write_plan(target, "a: 1\n")
    with pytest.raises(PlanError, match="exists; use --force"):
        write_plan(target, "a: 2\n")
    assert target.read_text() == "a: 1\n"
    write_plan(target, "a: 2\n", force=True)
    assert target.read_text() == "a: 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment_summary.yaml"]


def test_write_plan_removes_its_temporary_when_the_rename_fails(tmp_path):
    target = tmp_path / "experiment_summary.yaml"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(PlanError, match="cannot write"):
        write_plan(target, "a: 1\n", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment_summary.yaml"]
    with pytest.raises(PlanError, match="cannot write"):
        write_plan(tmp_path / "no" / "such" / "dir.yaml", "a: 1\n")


# ---------------------------------------------------------------------------------------
# round trips


NAME = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="_-"),
    min_size=1,
    max_size=12,
).filter(lambda s: not s.startswith("-") and ".." not in s)
TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="|`\\"
    ),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() not in ("", "-", "–", "—"))  # noqa: RUF001
VALUE = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(1e-6, 1e6, allow_nan=False).map(repr),
    st.sampled_from(["true", "False", "yes", "on", "null", "1:30:00", "2026-12-01", "0x1f"]),
    TEXT,
)


@st.composite
def designs(draw):
    names = draw(st.lists(NAME, min_size=1, max_size=5, unique=True))
    controls = draw(
        st.lists(NAME, max_size=2, unique=True).filter(lambda c: not set(c) & set(names))
    )
    columns = draw(
        st.lists(
            st.sampled_from(["LoRA rank", "lr", "weight decay", "note text", "dropout"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    rows = []
    for name in names:
        rows.append([name, "fine-tuned", *(draw(VALUE) for _ in columns)])
    for name in controls:
        rows.append([name, "control", *("-" for _ in columns)])
    minutes = draw(st.decimals(Decimal("0.01"), Decimal("5000"), places=2))
    table = "| run | type | " + " | ".join(columns) + " |\n"
    table += "|" + "---|" * (len(columns) + 2) + "\n"
    table += "".join("| " + " | ".join(row) + " |\n" for row in rows)
    block = {
        "experiment": {"project": draw(TEXT), "question": draw(TEXT), "purpose": draw(TEXT)},
        "controls": {
            "system_prompt": draw(st.one_of(st.just(""), TEXT)),
            "prompt": draw(TEXT) + "{input}" + draw(st.sampled_from(["", "\n", " ✓"])),
            "dataset_type": draw(st.sampled_from(["chat_completion", "text_completion"])),
        },
        "output": {"wandb_project": draw(TEXT)},
        "evaluation": {
            "scorers": [{"name": "match"}],
            "tasks": [
                {"name": draw(NAME), "script": "{repo_dir}/task.py", "description": draw(TEXT)}
            ],
        },
    }
    markdown = (
        "# plan\n\n" + table + "\n```yaml\n" + yaml.safe_dump(block, allow_unicode=True) + "```\n"
    )
    return markdown, f"{minutes} min per run"


@settings(max_examples=150, deadline=None)
@given(designs())
def test_every_built_plan_round_trips_and_passes_the_rules(tmp_path_factory, design):
    markdown, estimate = design
    tmp = tmp_path_factory.mktemp("plan")
    entries, paths = design_entries(
        tmp,
        time_fields={"Estimate": f"t = {estimate}", "Covers": "fine-tuned"},
        like="batch_size=4",
    )
    plan = build_plan(entries, markdown, paths)
    text = dump_plan(plan)
    assert yaml.safe_load(text) == plan
    assert validate_plan(plan) == []
    assert check_plan(plan, entries, paths) == []
    for run in plan["runs"]:
        if run["type"] == "fine-tuned":
            assert run["compute"]["time"] == compute_time(Decimal(estimate.split()[0]) * 60)


def test_an_evaluation_estimate_never_gives_a_training_run_its_time():
    from designlog_magics.plan_yaml import covered_runs, parse_estimate, resolve_estimates

    training = new_entry(
        "CALCULATE_TIME",
        "Training time estimate",
        estimate="total_min = 15.00 min per run",
        covers="fine-tuned",
    )
    evaluation = new_entry(
        "CALCULATE_EVAL_TIME",
        "Evaluation time estimate",
        estimate="eval_min = 3.00 min per run",
        covers="all",  # every run's evaluation jobs, not their training
    )
    runs = [{"name": "r8", "type": "fine-tuned"}, {"name": "base", "type": "control"}]
    estimates = [(0, parse_estimate(training)), (1, parse_estimate(evaluation))]
    per_run, eval_estimate, problems = resolve_estimates(estimates, runs)
    assert problems == []
    assert {name: e.action for name, e in per_run.items()} == {"r8": "CALCULATE_TIME"}
    assert eval_estimate is not None and eval_estimate.action == "CALCULATE_EVAL_TIME"
    pairs = [("r8", "fine-tuned"), ("base", "control")]
    assert covered_runs(estimates[1][1], pairs).names == {"r8", "base"}
    assert covered_runs(estimates[1][1], pairs).evaluation
    assert not covered_runs(estimates[0][1], pairs).evaluation
