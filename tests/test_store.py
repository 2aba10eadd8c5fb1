import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest

from designlog_magics.entry import Entry, new_entry
from designlog_magics.store import (
    LOG_FILENAME,
    DesignLog,
    LogFollower,
    LogWriteError,
    find_log_file,
    log_locations,
    read_log,
)
from designlog_magics.textformat import parse, render

STAMP = datetime(2025, 10, 22, 14, 23, 15)


def entry(n: int, **fields: str) -> Entry:
    return new_entry("CALCULATE_TIME", f"estimate {n}", timestamp=STAMP, input=f"n={n}", **fields)


def run_python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def test_creates_directory_and_appends_exact_text(tmp_path):
    log = DesignLog(tmp_path / "exp" / "nested")
    assert log.path == tmp_path / "exp" / "nested" / LOG_FILENAME
    first, second = entry(1), entry(2, result="Estimated 16 minutes total")
    log.append(first)
    log.append(second)
    assert log.path.read_text() == render(first) + render(second)
    assert log.entries == [first, second]


def test_resume_loads_existing_entries_and_continues(tmp_path):
    DesignLog(tmp_path).append(entry(1))
    resumed = DesignLog(tmp_path)
    assert resumed.entries == [entry(1)]
    resumed.append(entry(2))
    assert [e.brief for e in read_log(tmp_path).entries] == ["estimate 1", "estimate 2"]


def test_secrets_are_masked_before_writing(tmp_path):
    log = DesignLog(tmp_path)
    written = log.append(new_entry("VERIFY_MODEL", "x", command="HF_TOKEN=hf_abc ls /m"))
    assert "hf_abc" not in log.path.read_text()
    assert written.get("Command") == "HF_TOKEN=**** ls /m"


def test_never_truncates_and_repairs_a_cut_last_entry(tmp_path):
    log = DesignLog(tmp_path)
    log.append(entry(1))
    cut = render(entry(2))[:30]
    with open(log.path, "a") as handle:  # what a crash mid-write leaves behind
        handle.write(cut)
    before = log.path.read_bytes()
    assert parse(before.decode()).truncated
    log.append(entry(3))
    after = log.path.read_bytes()
    assert after.startswith(before)
    result = parse(after.decode())
    assert [e.brief for e in result.entries][0] == "estimate 1"
    assert result.entries[-1] == entry(3)
    assert log.repaired_boundaries == 1


def test_follower_reads_only_new_bytes(tmp_path):
    log = DesignLog(tmp_path)
    log.append_many(entry(n) for n in range(1000))
    follower = LogFollower(log.path)
    assert len(follower.poll()) == 1000
    assert follower.poll() == []
    assert follower.last_read_bytes == 0
    log.append(entry(1000))
    assert follower.poll() == [entry(1000)]
    assert follower.last_read_bytes == len(render(entry(1000)).encode())


def test_follower_waits_for_whole_entries(tmp_path):
    path = tmp_path / LOG_FILENAME
    text = render(entry(1)) + render(entry(2))
    follower = LogFollower(path)
    path.write_text(text[:-5])
    assert follower.poll() == [entry(1)]
    with open(path, "a") as handle:
        handle.write(text[-5:])
    assert follower.poll() == [entry(2)]


def test_removed_directory_keeps_entries_pending_then_flushes_in_order(tmp_path):
    exp = tmp_path / "exp"
    log = DesignLog(exp)
    log.append(entry(1))
    os.remove(log.path)
    os.rmdir(exp)
    with pytest.raises(LogWriteError) as caught:
        log.append(entry(2))
    assert str(exp) in str(caught.value) and "no longer exists" in str(caught.value)
    with pytest.raises(LogWriteError):
        log.append(entry(3))
    assert [e.brief for e in log.pending] == ["estimate 2", "estimate 3"]
    exp.mkdir()
    log.append(entry(4))
    assert log.pending == ()
    assert [e.brief for e in read_log(exp).entries] == ["estimate 2", "estimate 3", "estimate 4"]


@pytest.mark.skipif(not hasattr(os, "setuid"), reason="needs POSIX")
def test_read_only_directory_keeps_entries_pending():
    # Permission bits do not stop root, so the writer runs as an unprivileged user when needed;
    # its directory must be reachable by that user, hence a fresh one directly under /tmp.
    exp = Path(tempfile.mkdtemp(prefix="designlog-ro-"))
    os.chmod(exp, 0o777)
    if os.geteuid() == 0:
        os.chown(exp, 65534, 65534)
    code = f"""
        import os, sys
        from designlog_magics import DesignLog, LogWriteError, new_entry
        if os.geteuid() == 0:  # imported first: root's interpreter may not be readable
            os.setgid(65534); os.setuid(65534)
        log = DesignLog({str(exp)!r})
        log.append(new_entry("VERIFY_MODEL", "one"))
        os.chmod({str(exp)!r}, 0o555)
        os.chmod(log.path, 0o444)
        try:
            log.append(new_entry("VERIFY_MODEL", "two"))
        except LogWriteError as exc:
            print("ERROR", exc)
        print("PENDING", [e.brief for e in log.pending])
        os.chmod({str(exp)!r}, 0o755)
        os.chmod(log.path, 0o644)
        log.append(new_entry("VERIFY_MODEL", "three"))
        print("PENDING", [e.brief for e in log.pending])
    """
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert "ERROR cannot write" in out.stdout and "permission denied" in out.stdout
    assert "PENDING ['two']" in out.stdout and "PENDING []" in out.stdout
    assert [e.brief for e in read_log(exp).entries] == ["one", "two", "three"]
    shutil.rmtree(exp)


def test_full_disk_keeps_entries_pending(tmp_path):
    # A file-size limit makes the write fail the way a full quota does, without filling a disk.
    code = f"""
        import resource, signal
        from designlog_magics import DesignLog, LogWriteError, new_entry
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        log = DesignLog({str(tmp_path)!r})
        log.append(new_entry("VERIFY_MODEL", "one"))
        size = log.path.stat().st_size
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
        try:
            log.append(new_entry("VERIFY_MODEL", "two", result="x" * 100))
        except LogWriteError as exc:
            print("ERROR", exc.reason)
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
        log.append(new_entry("VERIFY_MODEL", "three"))
        print("PENDING", len(log.pending))
    """
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert "ERROR" in out.stdout and "PENDING 0" in out.stdout
    assert [e.brief for e in read_log(tmp_path).entries] == ["one", "two", "three"]


WRITER = """
import sys
import tempfile
from designlog_magics import DesignLog, new_entry
log = DesignLog(sys.argv[1])
writer = sys.argv[2]
for n in range(int(sys.argv[3])):
    log.append(new_entry("CALCULATE_TIME", f"writer {writer} entry {n}",
                         input=f"writer={writer}\\nn={n}", result="x" * (n % 300)))
"""


def test_eight_processes_appending_at_once_lose_nothing(tmp_path):
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(w), "250"])
        for w in range(8)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0] * 8
    result = read_log(tmp_path)
    assert result.ok and not result.truncated, result.diagnostics[:3]
    assert len(result.entries) == 2000
    for w in range(8):
        mine = [e for e in result.entries if e.brief.startswith(f"writer {w} ")]
        assert [e.brief for e in mine] == [f"writer {w} entry {n}" for n in range(250)]
        assert all(e.get("Result") == "x" * (n % 300) for n, e in enumerate(mine))


def test_sigkill_mid_append_leaves_earlier_entries_intact(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), "k", "1000000"])
    path = tmp_path / LOG_FILENAME
    deadline = time.monotonic() + 60
    while (not path.exists() or path.stat().st_size < 200_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = read_log(tmp_path)
    n = len(killed.entries)
    assert n > 100
    assert [e.brief for e in killed.entries] == [f"writer k entry {i}" for i in range(n)]
    log = DesignLog(tmp_path)
    log.append(new_entry("COMPLETE", "after the crash"))
    result = read_log(tmp_path)
    assert result.entries[:n] == killed.entries
    assert result.entries[-1].brief == "after the crash"
    assert result.ok and not result.truncated


UPSTREAM_FIXTURE = Path(__file__).parent / "data" / "dialect" / "incomplete.log"


def test_find_log_file_takes_ours_first_then_the_upstream_location(tmp_path):
    ours, upstream = log_locations(tmp_path)
    assert (ours, upstream) == (tmp_path / LOG_FILENAME, tmp_path / "logs" / LOG_FILENAME)
    assert find_log_file(tmp_path) == ours  # neither: where a new log goes
    upstream.parent.mkdir()
    upstream.write_text("")
    assert find_log_file(tmp_path) == upstream
    ours.write_text("")
    assert find_log_file(tmp_path) == ours
    assert find_log_file(upstream) == upstream  # a file is its own log
    assert find_log_file(tmp_path / "other.log") == tmp_path / "other.log"


def test_design_log_appends_to_an_upstream_log_that_exists_only_under_logs(tmp_path):
    upstream = tmp_path / "logs" / LOG_FILENAME
    upstream.parent.mkdir()
    before = UPSTREAM_FIXTURE.read_bytes()
    upstream.write_bytes(before)
    log = DesignLog(tmp_path)
    assert log.path == upstream
    assert [e.action for e in log.entries][:2] == ["START_DESIGN", "VERIFY_MODEL"]
    log.append(entry(1))
    assert not (tmp_path / LOG_FILENAME).exists()
    after = upstream.read_bytes()
    assert after.startswith(before)  # appended, never rewritten
    result = read_log(tmp_path)
    assert result.ok and [e.action for e in result.entries][-2:] == [
        "USER_QUESTION",
        "CALCULATE_TIME",
    ]
    assert log.repaired_boundaries == 1  # the upstream file ended without its blank line


def test_design_log_keeps_our_location_otherwise(tmp_path):
    assert DesignLog(tmp_path / "new").path == tmp_path / "new" / LOG_FILENAME
    both = tmp_path / "both"
    (both / "logs").mkdir(parents=True)
    (both / "logs" / LOG_FILENAME).write_bytes(UPSTREAM_FIXTURE.read_bytes())
    (both / LOG_FILENAME).write_text(render(entry(1)))
    log = DesignLog(both)
    assert log.path == both / LOG_FILENAME and len(log.entries) == 1
    assert len(read_log(both).entries) == 1


def test_read_log_of_a_directory_without_a_log_names_both_places(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        read_log(tmp_path)
    message = str(caught.value)
    assert str(tmp_path) in message and str(tmp_path / "logs") in message


def test_a_last_entry_without_the_blank_line_after_it_is_read_and_then_appended_after(tmp_path):
    # a log written by another tool or by hand may end right after its last field line
    path = tmp_path / "design-experiment.log"
    path.write_text(
        "[2025-10-22 14:30:00] START_DESIGN\nDetails: Beginning experiment design\n"
        "Result: success\n\n[2025-10-22 14:30:01] VERIFY_MODEL\nDetails: Verifying model\n"
        "Result: success\n"
    )
    follower = LogFollower(path)
    assert [e.action for e in follower.poll()] == ["START_DESIGN", "VERIFY_MODEL"]
    log = DesignLog(tmp_path)
    assert [e.action for e in log.entries] == ["START_DESIGN", "VERIFY_MODEL"]
    log.append(new_entry("CHECK_DISK", "Checking disk", result="73G available"))
    assert [e.action for e in follower.poll()] == ["CHECK_DISK"]  # nothing read twice
    assert [e.action for e in read_log(path).entries] == [
        "START_DESIGN",
        "VERIFY_MODEL",
        "CHECK_DISK",
    ]
    assert read_log(path).diagnostics == []
    # another writer appends an entry without the blank line after it: it is taken once the
    # file has stopped growing (the next look), not while it may still be being written
    with path.open("a") as handle:
        handle.write("[2025-10-22 14:30:30] CREATE_YAML\nDetails: Writing\nResult: success\n")
    assert follower.poll() == []
    assert [e.action for e in follower.poll()] == ["CREATE_YAML"]
    assert follower.poll() == []
    # an entry cut inside a line still waits for the rest of it
    with path.open("a") as handle:
        handle.write("[2025-10-22 14:31:00] CHECK_DISK: again\nResult: 7")
    assert follower.poll() == []
