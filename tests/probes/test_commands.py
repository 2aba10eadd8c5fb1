import subprocess
import time

import pytest

from designlog_magics.probes.commands import (
    is_job_status_check,
    run_command,
    split_commands,
    summarize,
)


@pytest.mark.parametrize(
    "command, expected",
    [
        ("squeue -u me", True),
        ("sacct -j 12", True),
        ("sstat -j 1", True),
        ("scontrol show job 12", True),
        ("watch squeue", True),
        ("ls && squeue", True),
        ("/usr/bin/sacct -X", True),
        ("scontrol show node", False),
        ("ls -l", False),
        ("grep sacct notes.txt", False),
    ],
)
def test_job_status_checks_are_recognised(command, expected):
    assert is_job_status_check(command) is expected


def test_split_commands_joins_continuations_and_drops_comments():
    body = "# comment\nls /a\n\nfind /b \\\n  -name x\n  \n"
    assert split_commands(body) == ["ls /a", "find /b \\\n  -name x"]


def test_run_command_output_failure_and_timeout(tmp_path):
    ok = run_command("echo hi; echo err >&2")
    assert ok.ok and ok.stdout == "hi\n" and ok.stderr == "err\n"
    failed = run_command("false | true")  # pipefail
    assert not failed.ok and failed.error == "exit status 1"
    missing = run_command(f"ls {tmp_path}/none")
    assert "No such file" in missing.error
    began = time.monotonic()
    slow = run_command("sleep 30 & sleep 30; wait", timeout=0.5)
    assert slow.timed_out and time.monotonic() - began < 20
    assert "timed out" in slow.error


def test_summaries_like_a_person_writes_them(tmp_path):
    d = tmp_path / "Llama"
    d.mkdir()
    for name in ["config.json", "model.safetensors", "tokenizer.json"]:
        (d / name).write_text("x" * 700)
    assert summarize(f"ls {d}", run_command(f"ls {d}")) == (
        "Directory exists with 3 files (config.json, model.safetensors, etc.)"
    )
    f = d / "config.json"
    size = subprocess.run(["ls", "-lh", str(f)], capture_output=True, text=True).stdout.split()[4]
    assert summarize(f"ls -lh {f}", run_command(f"ls -lh {f}")) == f"File exists, {size}"
    du = subprocess.run(["du", "-sh", str(d)], capture_output=True, text=True).stdout.split()[0]
    assert summarize(f"du -sh {d}", run_command(f"du -sh {d}")) == du
    df = subprocess.run(["df", "-h", str(d)], capture_output=True, text=True).stdout
    assert summarize(f"df -h {d}", run_command(f"df -h {d}")) == (
        f"{df.splitlines()[-1].split()[3]} available"
    )
    assert summarize("echo a; echo b", run_command("echo a; echo b")) == "a (+1 more lines)"
    assert summarize(f"find {d} -name '*.json'", run_command(f"find {d} -name '*.json'")) == (
        "Found 2 matches"
    )
    assert summarize("true", run_command("true")) == "Command succeeded (no output)"
