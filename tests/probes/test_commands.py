import os
import signal
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


def _alive(marker: str, within: float = 5.0) -> list[int]:
    """Processes whose command line holds ``marker`` as one argument, once those killed have had
    ``within`` seconds to go (bash's children are signalled with the group, not waited for)."""
    deadline = time.monotonic() + within
    while True:
        found = []
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read().split(b"\0"):
                        found.append(int(pid))
            except (OSError, ValueError):
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_one_runner_takes_bash_text_or_a_pipeline_of_argvs(tmp_path):
    (tmp_path / "a.txt").write_text("x1\ny\nx2\n")
    text = run_command("grep x a.txt | head -n 1", cwd=str(tmp_path))
    argvs = run_command([["grep", "x", "a.txt"], ["head", "-n", "1"]], cwd=str(tmp_path))
    assert (text.returncode, text.stdout) == (argvs.returncode, argvs.stdout) == (0, "x1\n")
    assert argvs.command == "grep x a.txt | head -n 1"
    # no shell for argvs: a ; is a character of a file name
    literal = run_command([["ls", "a.txt; touch CANARY"]], cwd=str(tmp_path))
    assert literal.returncode == 2 and not (tmp_path / "CANARY").exists()
    failed = run_command([["false"], ["true"]])
    assert failed.returncode == 1  # pipefail, as bash -o pipefail gives
    env = run_command("echo $ONLY_HERE", env={**os.environ, "ONLY_HERE": "given"})
    assert env.stdout == "given\n"
    with pytest.raises(ValueError):
        run_command([])


def test_the_output_cap_and_the_timeout_kill_the_whole_group(tmp_path):
    capped = run_command("yes; sleep 30", max_output=100_000, timeout=30)
    assert not capped.ok and "output over 100000 bytes" in capped.stderr
    assert 100_000 < len(capped.stdout) <= 100_000 + 65536
    marker = str(tmp_path / "never-written")
    os.mkfifo(marker)
    slow = run_command([["head", marker], ["tail", "-n", "1"]], timeout=0.5)
    assert slow.timed_out and slow.returncode is None and _alive(marker) == []
    bash = run_command(f"head {marker} & head {marker}; wait", timeout=0.5)
    assert bash.timed_out and _alive(marker) == []


def test_an_interrupt_kills_the_group_and_is_raised(tmp_path):
    marker = str(tmp_path / "interrupted")
    os.mkfifo(marker)
    seen: list[str] = []

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_command(f"head {marker}", timeout=30, on_output=seen.append, poll_interval=0.05)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert _alive(marker) == []
    assert seen and all(note.startswith("running for ") for note in seen)
