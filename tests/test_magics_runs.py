"""%log_search and %log_speed against scratch trees and realistic torchtune outputs, and a
whole design session from start to complete checked against the specification's examples."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from IPython.core.error import UsageError

from designlog_magics import read_log
from designlog_magics._demo.synthetic import write_failed_out, write_torchtune_out
from tests.test_magics import start
from tests.test_notebooks import SPEC_ORDER


@pytest.fixture
def scratch(resources):
    root = resources["scratch"]
    runs = {"ck-out-happy-narwhal": 4.34, "ck-out-bright-horizon": 3.9, "ck-out-calm-dolphin": 0.6}
    for seed, (name, speed) in enumerate(runs.items()):
        (root / name).mkdir()
        write_torchtune_out(
            root / name / f"slurm-{1000 + seed}.out",
            steady_its=speed,
            epochs=2,
            steps_per_epoch=400,
            warmup_steps=25,
            validation_every=150,
            seed=seed,
            target_bytes=200_000,
        )
    (root / "ck-out-quiet-falcon").mkdir()
    write_failed_out(root / "ck-out-quiet-falcon" / "slurm-1005.out")
    (root / "old-ck-out-2024").mkdir()
    (root / "old-ck-out-2024" / "slurm-1.out").write_bytes(b"x" * 200_000)
    edge = root / "ck-out-edge"
    edge.mkdir()
    (edge / "slurm-2.out").write_bytes(b"x" * 102_400)  # exactly 100k: not "more than"
    (edge / "slurm-3.out").write_bytes(b"x" * 102_401)
    os.symlink(root / "ck-out-happy-narwhal" / "slurm-1000.out", edge / "slurm-4.out")
    return root, runs


def find(root) -> list[str]:
    out = subprocess.run(
        ["find", str(root), "-name", "slurm-*.out", "-path", "*/ck-out-*", "-size", "+100k"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(out.splitlines())


def test_search_returns_what_find_returns(ip, resources, scratch):
    root, _ = scratch
    start(ip, resources)
    entry = ip.run_line_magic("log_search", "{scratch_dir} -o runs")
    assert sorted(ip.user_ns["runs"]) == find(root)
    assert entry.get("Command") == (
        'find {scratch_dir} -name "slurm-*.out" -path "*/ck-out-*" -size +100k'
    )
    assert entry.get("Result") == (
        "Found 4 similar runs: ck-out-bright-horizon, "
        "ck-out-calm-dolphin, ck-out-edge, ck-out-happy-narwhal"
    )
    limited = ip.run_line_magic("log_search", "{scratch_dir} --limit 2")
    assert limited.get("Command") == "designlog search {scratch_dir} --limit 2"
    cell = ip.run_cell_magic(
        "log_search", "", "find {scratch_dir} -name 'slurm-*.out' -path '*/ck-out-*' -size +100k\n"
    )
    assert cell.get("Result").startswith("Found 4 similar runs")
    with pytest.raises(UsageError, match="no such directory"):
        ip.run_line_magic("log_search", "{scratch_dir}/nowhere")


def test_speed_is_the_steady_speed_after_warmup(ip, resources, scratch):
    root, runs = scratch
    start(ip, resources)
    for name, speed in runs.items():
        out = next((root / name).glob("slurm-*.out"))
        entry = ip.run_line_magic("log_speed", f"{{scratch_dir}}/{name}/{out.name} -o speed")
        logged = float(re.search(r"after warmup: ([0-9.]+) it/s", entry.get("Result")).group(1))
        assert logged == pytest.approx(speed, rel=0.02)
        assert ip.user_ns["speed"] == pytest.approx(speed, rel=0.02)
        assert entry.brief == f"Analyzing {name} for training speed"
        assert entry.get("Command") == (f"designlog speed {{scratch_dir}}/{name}/{out.name}")
    failed = ip.run_line_magic("log_speed", "{scratch_dir}/ck-out-quiet-falcon/slurm-1005.out")
    assert failed.failed and "no training progress" in failed.get("Error")


def test_speed_bad_input_logs_nothing(ip, resources, scratch):
    log_path = start(ip, resources)
    before = log_path.read_bytes()
    with pytest.raises(UsageError, match="no such file"):
        ip.run_line_magic("log_speed", "{scratch_dir}/missing.out")
    with pytest.raises(UsageError, match="required"):
        ip.run_line_magic("log_speed", "")
    assert log_path.read_bytes() == before


def test_whole_design_session_reads_back_like_the_specification(ip, resources, scratch):
    start(ip, resources)
    ip.run_line_magic(
        "log_decide",
        "--decision cap_8L_lora_comparison_2025-10-22 --reasoning "
        '"Capitalization task (cap), 8-letter words (8L), comparing LoRA ranks, '
        'dated" -e "User confirmed this naming follows convention and is '
        'descriptive"',
    )
    ip.run_line_magic("log_verify", "MODEL {models_dir}/Llama-3.2-1B-Instruct")
    ip.run_cell_magic(
        "log_verify",
        "DATASET",
        "ls -lh {repo_dir}/data/green/capitalization/words_8L_80P_10000.json",
    )
    ip.run_line_magic("log_search", "{scratch_dir} --limit 5")
    ip.run_line_magic("log_speed", "{scratch_dir}/ck-out-happy-narwhal/slurm-1000.out -o speed")
    ip.run_cell_magic(
        "log_calc",
        '"Training time estimate" --result "Estimated '
        '{total_min:.0f} minutes total ({epoch_min:.0f} min × {epochs} epochs)"',
        "samples = 8000\nbatch_size = 4\nspeed = speed  # it/s\nepochs = 2\n"
        "steps_per_epoch = samples / batch_size\n"
        "time_per_epoch = steps_per_epoch / speed  # s\n"
        "epoch_min = time_per_epoch / 60  # min\n"
        "total_min = epoch_min * epochs  # min\n",
    )
    ip.run_line_magic("log_disk", "{scratch_dir} --need 1k")
    ip.run_cell_magic(
        "log_summary",
        "--no-yaml",
        "# cap_8L_lora_comparison_2025-10-22\n\n"
        "| run | type |\n|---|---|\n| r8 | fine-tuned |\n| r16 | fine-tuned |\n"
        "| base | control |\n| base-p | control |\n",
    )
    done = ip.run_line_magic(
        "log_complete",
        '--status "Plan approved by user, files written" '
        '--next "User can now run scaffold-experiment to generate configs"',
    )
    assert done.get("Warning") is None
    result = read_log(resources["experiment"])
    assert result.ok and not result.truncated
    got = {e.action: e for e in result.entries}
    assert [e.action for e in result.entries] == SPEC_ORDER
    for entry in result.entries:  # the specification's header form, second resolution
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", entry.time_text)
    # field by field, in the specification's order
    assert [k for k, _ in got["VERIFY_MODEL"].fields] == ["Command", "Result", "Explanation"]
    assert (
        got["VERIFY_MODEL"].get("Command")
        == "designlog verify MODEL {models_dir}/Llama-3.2-1B-Instruct"
    )
    assert got["VERIFY_MODEL"].get("Result").startswith("Directory exists with 6 files (")
    assert got["VERIFY_DATASET"].get("Result").startswith("File exists, ")
    assert got["SEARCH_PRIOR_RUNS"].get("Command") == ("designlog search {scratch_dir} --limit 5")
    assert got["SEARCH_PRIOR_RUNS"].get("Result").startswith("Found 4 similar runs: ")
    assert got["EXTRACT_SPEED"].get("Result").startswith("Throughput after warmup: 4.")
    calc = got["CALCULATE_TIME"]
    assert [k for k, _ in calc.fields] == ["Input", "Calculation", "Result"]
    assert calc.get("Input").startswith("samples=8000, batch_size=4, speed=4.3")
    assert calc.get("Calculation").startswith(
        "steps_per_epoch = samples / batch_size = 2000, "
        "time_per_epoch = steps_per_epoch / speed ≈ 46"
    )
    assert re.fullmatch(r"Estimated 1[56] minutes total \(8 min × 2 epochs\)", calc.get("Result"))
    assert got["CHECK_DISK"].get("Command") == "designlog disk {scratch_dir} --need 1k"
    assert got["CHECK_DISK"].get("Result").endswith("enough for the 1.0K needed")
    assert [k for k, _ in got["DECIDE_NAMING"].fields] == ["Decision", "Reasoning", "Explanation"]
    assert got["CREATE_SUMMARY"].get("Command") == (
        "Created {scratch_dir}/cap_8L_lora_comparison_2025-10-22/experiment_summary.md"
    )
    assert got["CREATE_SUMMARY"].get("Result") == (
        "File created with 4 runs (2 fine-tuned + 2 control)"
    )
    assert [k for k, _ in got["COMPLETE"].fields] == ["Status", "Next Steps", "Explanation"]
    from designlog_magics.audit import audit_entries

    assert audit_entries(result.entries, lines=result.entry_lines).passed
