"""The notebooks as a person runs them ("Run All" on a fresh ``python3`` kernel), the log the
demo notebook writes, the demo data they run on, and the headless demo job.

Every notebook is executed with nbclient in a kernel of this interpreter, each in a
workspace of its own (``DESIGNLOG_DEMO_DIR``), and must run without an error.
"""

from __future__ import annotations

import filecmp
import json
import math
import os
import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import nbformat
import pytest
import yaml

from designlog_magics import read_log
from designlog_magics._demo import (
    DemoFacts,
    build_demo_data,
    clear_previous_design,
    execute_notebook,
    find_matches,
    kernel_manager,
    read_safetensors_header,
)
from designlog_magics.audit import audit_path
from designlog_magics.plan_yaml import compute_time

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
DEMO = "design_experiment.ipynb"
# The specification's steps, in the order a design goes through them.
SPEC_ORDER = [
    "START_DESIGN",
    "DECIDE_NAMING",
    "VERIFY_MODEL",
    "VERIFY_DATASET",
    "SEARCH_PRIOR_RUNS",
    "EXTRACT_SPEED",
    "CALCULATE_TIME",
    "CHECK_DISK",
    "CREATE_SUMMARY",
    "COMPLETE",
]


def clean_env(workspace: Path) -> dict[str, str]:
    """The environment of a kernel run on demo data: no cluster paths, our workspace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESIGNLOG_")}
    env["DESIGNLOG_DEMO_DIR"] = str(workspace)
    return env


def outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif output.output_type == "error":
                parts.append("\n".join(output.traceback))
            else:
                parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def errors_of(nb) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and "Traceback (most recent call last)" in (
                output.text
            ):
                found.append(f"cell {index}: a traceback on {output.name}")
    return found


# -- the saved notebooks -------------------------------------------------------------------------
def test_the_three_notebooks_are_there():
    assert NOTEBOOK_NAMES == [
        "design_experiment.ipynb",
        "python_api_and_cli.ipynb",
        "real_cluster.ipynb",
    ]


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebooks_are_saved_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["kernelspec"]["language"] == "python"
    assert "widgets" not in nb.metadata, "saved widget state: clear the outputs"
    assert "designlog" not in nb.metadata, "an attached log: save the notebook clean"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: cell {index} was saved with outputs"
            assert cell.execution_count is None, f"{name}: cell {index} has an execution count"
        assert cell.source.strip(), f"{name}: cell {index} is empty"


def test_demo_notebook_goes_through_every_step_in_order():
    nb = nbformat.read(NOTEBOOKS / DEMO, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    steps = [
        "%designlog start",
        "%log_decide",
        "%log_verify MODEL",
        "%log_verify DATASET",
        "%log_search {scratch_dir} --like $plan -o runs",
        "%log_speed",
        "%%log_calc CALCULATE_TIME",
        "%%log_calc CALCULATE_DISK",
        "%log_disk {scratch_dir} --need",
        "%%log_decide",
        "%%log_summary",
        "%log_complete",
        "audit_path(",
        "%designlog record",
    ]
    positions = [source.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    # markdown between the steps says why each is logged
    kinds = [c.cell_type for c in nb.cells]
    assert kinds.count("markdown") >= 10


# -- the kernel --------------------------------------------------------------------------------
def test_python3_kernel_is_this_interpreter(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("import sys\nprint(sys.executable)\nprint(sys.prefix)")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "which.ipynb"
    nbformat.write(nb, path)
    executed = execute_notebook(path, timeout=60)
    executable, prefix = executed.cells[0].outputs[0].text.split()
    assert os.path.realpath(executable) == os.path.realpath(sys.executable)
    assert prefix == sys.prefix
    manager = kernel_manager("python3", str(tmp_path))
    assert manager.kernel_name == "python3"


# -- executing every notebook --------------------------------------------------------------------
_RUNS: dict[str, tuple[object, Path]] = {}


def executed(name: str, base: Path):
    """Execute a notebook once per test session, in its own workspace; (notebook, workspace)."""
    if name not in _RUNS:
        workspace = base / name.removesuffix(".ipynb")
        nb = execute_notebook(
            NOTEBOOKS / name,
            env=clean_env(workspace),
            cwd=NOTEBOOKS,
            timeout=180,
            save_to=workspace / name,
        )
        _RUNS[name] = (nb, workspace)
    return _RUNS[name]


@pytest.fixture(scope="module")
def runs_base(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_runs_top_to_bottom_without_error(name, runs_base):
    nb, workspace = executed(name, runs_base)
    assert errors_of(nb) == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "a cell did not run"
    assert (workspace / ".designlog-demo").is_file(), "the notebook did not use its workspace"


def test_demo_notebook_log_has_every_step_in_order_and_passes_its_audit(runs_base):
    nb, workspace = executed(DEMO, runs_base)
    logs = sorted((workspace / "scratch").glob("*/design-experiment.log"))
    assert len(logs) == 1, logs
    result = read_log(logs[0])
    assert result.ok, result.diagnostics
    actions = [e.action for e in result.entries]
    positions = [actions.index(a) for a in SPEC_ORDER]
    assert positions == sorted(positions), actions
    complete = actions.index("COMPLETE")
    assert actions.count("START_DESIGN") == 1 and "EXTRACT_CALIBRATION" in actions[:complete]
    # after the design, only the outcome's checks (one per estimate)
    assert set(actions[complete + 1 :]) == {"CHECK_ESTIMATE"}
    assert not [e for e in result.entries[:complete] if e.failed or e.warned]
    assert audit_path(logs[0]).passed, audit_path(logs[0]).render()
    # the saved notebook agrees with its log (the record holds every entry)
    notebook_audit = audit_path(workspace / DEMO)
    assert notebook_audit.passed, notebook_audit.render()


def test_demo_notebook_log_says_what_the_demo_data_holds(runs_base):
    nb, workspace = executed(DEMO, runs_base)
    facts = build_demo_data(workspace)
    log = next((workspace / "scratch").glob("*/design-experiment.log"))
    entries = read_log(log).entries
    by_action: dict = {}
    for entry in entries:  # the first of each action: the training speed, not the eval's
        by_action.setdefault(entry.action, entry)
    # commands are logged with path names, not this machine's paths
    for entry in entries:
        if entry.action != "START_DESIGN":
            assert str(workspace) not in "".join(v for _, v in entry.fields), entry
    assert by_action["VERIFY_MODEL"].get("Command") == (
        "designlog verify MODEL {models_dir}/Llama-3.2-1B-Instruct"
    )
    assert "train 8,000, validation 1,000, test 1,000" in by_action["VERIFY_DATASET"].get("Result")
    search = by_action["SEARCH_PRIOR_RUNS"].get("Result")
    assert search.startswith(f"Best match: {facts.reference.name} (same model, batch_size=4")
    for run in facts.runs:
        # --like drops the size filter: every ck-out-* run is listed, a failed one as failed
        listed = fnmatch(str(run.path), "*/ck-out-*") and fnmatch(run.path.name, "slurm-*.out")
        assert (run.name in search) == listed, (run, search)
    assert "failed: ck-out-quiet-falcon (oom at step 1" in search
    speed = by_action["EXTRACT_SPEED"]
    assert "ck-out-happy-narwhal" in speed.brief + speed.get("Command")
    measured = [float(x) for x in _numbers(speed.get("Result"))]
    assert any(math.isclose(x, facts.reference.steady_its, rel_tol=0.03) for x in measured), (
        speed.get("Result"),
        facts.reference.steady_its,
    )
    calc = by_action["CALCULATE_TIME"]
    assert "samples=8000" in calc.get("Input") and "it/s" in calc.get("Input")
    # it plans with the best match's tokens/s as well as its it/s
    assert "tokens_per_s=" in calc.get("Input") and "from tokens/s" in calc.get("Result")
    tokens = float(re.search(r"tokens_per_s=([0-9.]+)", calc.get("Input")).group(1))
    assert tokens == pytest.approx(facts.reference.tokens_per_s, rel=0.03)
    assert speed.get("Tokens").startswith(f"{tokens:,.0f} tokens/s per GPU")
    assert speed.get("Run").startswith("Llama-3.2-1B-Instruct, LoRA r8, batch_size=4")
    assert speed.get("Outcome").startswith("completed")
    # evaluation time from a measured inspect-ai run, not a guess
    evaluation = [e for e in entries if e.action == "EXTRACT_SPEED"][-1]
    assert evaluation.get("Result").startswith("Eval took 0:04:10 (250 s): 1,000 samples")
    assert "samples_per_s=3.99" in by_action["CALCULATE_EVAL_TIME"].get("Input")
    assert by_action["CHECK_DISK"].get("Command") == "designlog disk {scratch_dir} --need 30G"
    # the scaffolders' plan: each run's compute.time is the logged limit, rounded up
    limit = re.fullmatch(r"slurm_min = ([0-9.]+) min per run", calc.get("Limit"))
    time = compute_time(float(limit.group(1)) * 60)
    assert by_action["CREATE_SUMMARY"].get("Result") == (
        "File created with 4 runs (3 fine-tuned + 1 control)\n"
        f"experiment_summary.yaml for the scaffolders: 4 runs; compute.time {time} "
        "(r8, r16, r32); evaluation 0:05:00 per job"
    )
    assert "safety=1.27 (p90 of actual/estimated over" in calc.get("Input")
    plan = yaml.safe_load((log.parent / "experiment_summary.yaml").read_text())
    assert [r.get("compute", {}).get("time") for r in plan["runs"]] == [time] * 3 + [None]
    assert plan["models"]["base"][0]["path"] == str(facts.models_dir / "Llama-3.2-1B-Instruct")
    summary = log.parent / "experiment_summary.md"
    assert "| r32 | fine-tuned |" in summary.read_text()
    # the outcome: the three runs with their verdicts, the killed one under-estimated
    checks = {
        e.get("Command").rsplit(" ", 1)[-1]: e for e in entries if e.action == "CHECK_ESTIMATE"
    }
    lines = checks["time"].get("Result").splitlines()
    assert lines[0].startswith("r8:") and lines[0].endswith("within the margin")
    assert lines[1].startswith("r16:") and "UNDER-ESTIMATED (killed at its time limit" in lines[1]
    assert lines[2].startswith("r32:") and "over-estimated" in lines[2]
    # the job status check was shown, not logged
    assert "squeue" not in log.read_text()
    assert "job status check" in outputs_text(nb)


def _numbers(text: str) -> list[str]:
    import re

    return re.findall(r"\d+(?:\.\d+)?", text)


def test_real_cluster_notebook_falls_back_to_the_demo_data(runs_base):
    nb, workspace = executed("real_cluster.ipynb", runs_base)
    assert "using the demo data" in outputs_text(nb)
    logs = list((workspace / "scratch").glob("*/design-experiment.log"))
    assert len(logs) == 1
    assert audit_path(logs[0]).passed, audit_path(logs[0]).render()


def test_api_notebook_uses_the_command_line(runs_base):
    nb, workspace = executed("python_api_and_cli.ipynb", runs_base)
    text = outputs_text(nb)
    assert "HF_TOKEN=****" in text and "hf_abcdefghijklmnopqrstuvwx" not in text
    assert "usage: designlog" in text
    assert "command not found" not in text and "No such file" not in text
    log = workspace / "scratch" / "api_example" / "design-experiment.log"
    assert [e.action for e in read_log(log).entries] == [
        "VERIFY_MODEL",
        "VERIFY_EVAL_TASK",
        "CHECK_DISK",
    ]


# -- the demo data --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoFacts:
    return build_demo_data(tmp_path_factory.mktemp("demo") / "data")


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_two_builds_are_byte_identical(tmp_path, demo):
    other = build_demo_data(tmp_path / "again")
    assert _tree(demo.root) == _tree(other.root)
    files = [p for p in _tree(demo.root) if (demo.root / p).is_file()]
    match, mismatch, errors = filecmp.cmpfiles(demo.root, other.root, files, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(files)
    for run in demo.runs:
        assert run.path.stat().st_mtime == other.run(run.name).path.stat().st_mtime
    assert [r.steady_its for r in demo.runs] == [r.steady_its for r in other.runs]


def test_build_is_small_fast_and_idempotent(demo):
    assert 1_000_000 < demo.total_bytes < 5_000_000
    assert demo.seconds < 10
    experiment = demo.scratch_dir / "cap_8L_lora_comparison_2025-10-22"
    experiment.mkdir()
    (experiment / "design-experiment.log").write_text("")
    again = build_demo_data(demo.root)
    assert (experiment / "design-experiment.log").exists(), "a rebuild removed an experiment"
    assert again.search_matches == demo.search_matches
    assert clear_previous_design(experiment) is True
    assert not experiment.exists()
    assert clear_previous_design(experiment) is False


@pytest.mark.parametrize(
    "where",
    ["", "models", "repo", "scratch", "scratch/ck-out-happy-narwhal", "models/Llama-3.2-1B"],
)
def test_clearing_refuses_anything_but_an_experiment_inside_demo_data(demo, where):
    with pytest.raises(ValueError, match="not an experiment directory"):
        clear_previous_design(demo.root / where)


def test_clearing_refuses_outside_demo_data(tmp_path):
    outside = tmp_path / "scratch" / "cap_8L_real_2025-10-22"
    outside.mkdir(parents=True)
    with pytest.raises(ValueError):
        clear_previous_design(outside)
    assert outside.exists()


def test_the_model_directory_looks_like_the_real_one(demo):
    names = sorted(p.name for p in demo.model_dir.iterdir())
    for name in [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]:
        assert name in names
    config = json.loads((demo.model_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (
        2048,
        16,
        128256,
    )
    header = read_safetensors_header(demo.model_dir / "model.safetensors")
    assert header["__metadata__"] == {"format": "pt"}
    assert header["model.embed_tokens.weight"]["dtype"] == "BF16"
    assert "model.layers.1.mlp.down_proj.weight" in header
    assert (demo.model_dir / "model.safetensors").stat().st_size < 64 * 1024
    tokenizer = json.loads((demo.model_dir / "tokenizer.json").read_text())
    assert tokenizer["model"]["type"] == "BPE" and len(tokenizer["model"]["vocab"]) > 256


def test_the_dataset_has_realistic_splits(demo):
    data = json.loads(demo.dataset.read_text())
    assert {k: len(v) for k, v in data.items()} == {"train": 8000, "validation": 1000, "test": 1000}
    assert dict(demo.dataset_splits) == {"train": 8000, "validation": 1000, "test": 1000}
    words = [r["input"] for split in data.values() for r in split]
    assert len(set(words)) == 10_000 and all(len(w) == 8 and w.isalpha() for w in words)
    assert all(r["output"] == r["input"].upper() for r in data["test"])
    assert 400_000 < demo.dataset.stat().st_size < 900_000


def test_find_lists_exactly_the_runs_the_facts_say(demo):
    found = subprocess.run(
        [
            "find",
            str(demo.scratch_dir),
            "-name",
            "slurm-*.out",
            "-path",
            "*/ck-out-*",
            "-size",
            "+100k",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(Path(p) for p in found) == list(demo.search_matches)
    assert len(found) >= 3
    for run in demo.runs:
        assert find_matches(run.path, run.size) == (str(run.path) in found)


def test_the_runs_hold_what_a_search_must_cope_with(demo):
    kinds = {r.kind for r in demo.runs}
    assert {"training", "slow", "killed", "failed", "smoke", "decoy", "unrelated"} <= kinds
    by_kind = {r.kind: r for r in demo.runs}
    reference = demo.reference
    assert reference.name == "ck-out-happy-narwhal" and reference.matches_search
    assert reference.steady_its == 4.34 and reference.size > 100 * 1024
    text = reference.path.read_bytes().decode()
    assert "\r" in text and "it/s]" in text and "Starting checkpoint save..." in text
    # torchtune's resolved-config header, and StdoutLogger lines glued to the bars
    assert text.startswith(
        "INFO:torchtune.utils._logging:Running LoRAFinetuneRecipeSingleDevice with resolved "
        "config:\n\nbatch_size: 4\n"
    )
    step_line = (
        r"(?:it/s|s/it)\] *(?:\x1b\[A)?Step \d+ \| loss:[\d.]+ lr:0.0003 "
        r"tokens_per_second_per_gpu:[\d.]+ \n"
    )
    steps = reference.epochs * reference.steps_per_epoch
    assert len(re.findall(step_line, text)) == steps
    configs = {r.name: r.config for r in demo.runs if r.config is not None}
    assert configs["ck-out-happy-narwhal"].batch_size == 4
    assert configs["ck-out-happy-narwhal"].max_seq_len == 512
    assert configs["ck-out-bright-horizon"].batch_size == 8
    assert configs["ck-out-calm-dolphin"].model == "Llama-3.1-8B-Instruct"
    assert by_kind["failed"].outcome == "oom" and by_kind["killed"].outcome == "timeout"
    assert demo.run("ck-out-happy-narwhal").tokens_per_s is not None
    assert "s/it]" in by_kind["slow"].path.read_text() and by_kind["slow"].steady_its < 1
    assert by_kind["slow"].matches_search
    assert "TIME LIMIT" in by_kind["killed"].path.read_text()
    assert "Traceback" in by_kind["failed"].path.read_text()
    assert not by_kind["failed"].matches_search and by_kind["failed"].steady_its is None
    small = by_kind["smoke"]
    assert small.name.startswith("ck-out-") and small.size < 100 * 1024
    assert not small.matches_search
    decoy = by_kind["decoy"]
    assert decoy.path.parent.name == "old-ck-out-2024" and decoy.size > 100 * 1024
    assert not decoy.matches_search
    assert all(not r.matches_search for r in demo.runs if r.kind == "unrelated")
    assert demo.speeds["ck-out-calm-dolphin"] == 0.57


def test_demo_data_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "designlog_magics.demo", "data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "scratch_dir" in result.stdout and "* ck-out-happy-narwhal" in result.stdout
    assert (tmp_path / "d" / "repo" / "data" / "green" / "capitalization").is_dir()


# -- the headless main job ---------------------------------------------------------------------
def test_headless_demo_run_prints_the_log_and_runs_again(tmp_path):
    workspace = tmp_path / "workspace"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESIGNLOG_")}
    command = [sys.executable, "-m", "designlog_magics.demo", "run", "--workspace", str(workspace)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    log = next((workspace / "scratch").glob("*/design-experiment.log"))
    assert first.stdout.startswith(log.read_text())
    assert "experiment_summary.yaml" in first.stdout and "UNDER-ESTIMATED: r16" in first.stdout
    assert [e.action for e in read_log(log).entries][-1] == "CHECK_ESTIMATE"
    executed_copy = workspace / DEMO
    assert executed_copy.is_file() and errors_of(nbformat.read(executed_copy, 4)) == []
    assert f"design log: {log}" in first.stderr
    # again on the same workspace: a new design, the same steps
    second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    entries = read_log(log).entries
    assert [e.action for e in entries].count("START_DESIGN") == 1
    assert audit_path(log).passed
    assert second.stdout.startswith(log.read_text())


def test_headless_demo_run_reports_a_failing_cell(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("raise RuntimeError('boom')")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, broken)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "designlog_magics.demo",
            "run",
            "--workspace",
            str(tmp_path / "w"),
            "--notebook",
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "boom" in result.stderr and result.stdout == ""


# -- the README shows what the code does -----------------------------------------------------------
def test_readme_log_sample_is_a_complete_design_log():
    from designlog_magics import parse
    from designlog_magics.audit import audit_entries

    section = (ROOT / "README.md").read_text().split("## What the log looks like", 1)[1]
    sample = section.split("```", 2)[1].lstrip("\n")
    result = parse(sample)
    assert result.ok and result.diagnostics == []
    actions = [e.action for e in result.entries]
    first = [a for i, a in enumerate(actions) if a in SPEC_ORDER and a not in actions[:i]]
    assert first == SPEC_ORDER  # each step first seen in the specification's order
    report = audit_entries(result.entries)
    assert report.passed, report.render()


def test_readme_links_binder_to_the_demo_notebook():
    text = (ROOT / "README.md").read_text()
    link = "https://mybinder.org/v2/gh/designlog-magics/designlog-magics/HEAD"
    assert f"{link}?labpath=notebooks%2F{DEMO}" in text
    assert (ROOT / "docs" / "panel.png").is_file()
    assert "(docs/panel.png)" in text and "(benchmarks/RESULTS.md)" in text
    for magic in [
        "%designlog start",
        "%log_verify",
        "%log_search",
        "%log_speed",
        "%%log_calc",
        "%log_disk",
        "%log_decide",
        "%%log_summary",
        "%log_complete",
        "%log_entry",
    ]:
        assert f"`{magic}" in text, magic


def test_the_workspace_keeps_itself_out_of_git_without_touching_an_existing_ignore(tmp_path):
    facts = build_demo_data(tmp_path / "fresh")
    assert (facts.root / ".gitignore").read_text() == "*\n"
    existing = tmp_path / "project"
    existing.mkdir()
    (existing / ".gitignore").write_text("build/\n")
    build_demo_data(existing)
    assert (existing / ".gitignore").read_text() == "build/\n"


def test_the_demo_plan_passes_the_upstream_schema_test(runs_base):
    # the scaffolders' own structural checks (tests/upstream: vendored, unchanged but for the
    # path they load), run on what the demo notebook wrote
    nb, workspace = executed(DEMO, runs_base)
    plan = next((workspace / "scratch").glob("cap_8L_*/experiment_summary.yaml"))
    upstream = Path(__file__).parent / "upstream" / "test_experiment_summary_schema.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(upstream)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "EXPERIMENT_SUMMARY_YAML": str(plan)},
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
