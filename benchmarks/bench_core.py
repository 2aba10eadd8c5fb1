"""Core cases: append (lock + fsync per entry), parse throughput against grep, load time."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from designlog_magics import DesignLog, Entry, new_entry, parse, read_log, render_all


def sample_entry(n: int) -> Entry:
    """The n-th entry of a benchmark log: a realistic CALCULATE_TIME, one second apart."""
    return new_entry(
        "CALCULATE_TIME",
        f"Training time estimate {n}",
        timestamp=datetime(2025, 10, 22, 14, 0, 0) + timedelta(seconds=n),
        input=f"samples={8000 + n}, batch_size=4, speed=4.34 it/s, epochs=2",
        calculation="steps_per_epoch = samples / batch_size = 2000, time_per_epoch = "
        "steps_per_epoch / speed ≈ 461s",
        result="Estimated 16 minutes total",
        explanation="Calculated training time based on actual iteration speed\nfrom a prior run",
    )


def _entries(count: int) -> Iterator[Entry]:
    return (sample_entry(n) for n in range(count))


def bench_append(workdir: Path, count: int = 10_000) -> dict:
    log_dir = workdir / "append"
    if log_dir.exists():
        for child in log_dir.iterdir():
            child.unlink()
    log = DesignLog(log_dir)
    timings = []
    for entry in _entries(count):
        began = time.perf_counter()
        log.append(entry)
        timings.append(time.perf_counter() - began)
    median_ms = statistics.median(timings) * 1000
    p95_ms = sorted(timings)[int(len(timings) * 0.95)] * 1000
    return {
        "case": "append",
        "data": f"{count:,} entries, lock + fsync each",
        "ours_s": median_ms / 1000,
        "theirs_s": None,
        "theirs": "—",
        "ratio": None,
        "peak_rss_mb": None,
        "target": "median ≤ 2 ms per entry",
        "passed": median_ms <= 2.0,
        "notes": f"median {median_ms:.3f} ms, p95 {p95_ms:.3f} ms per entry",
    }


GREP_HEADERS = r"LC_ALL=C grep -E '^\[[0-9-]+ [0-9:]+\] [A-Z_]+' LOG"


def _grep_headers(path: Path) -> bytes:
    """What a user runs instead to list a log's entries: grep for the header lines. Its output
    is read through a pipe (written to /dev/null, grep would stop at the first match)."""
    return subprocess.run(
        ["grep", "-E", r"^\[[0-9-]+ [0-9:]+\] [A-Z_]+", str(path)],
        env={**os.environ, "LC_ALL": "C"},
        stdout=subprocess.PIPE,
        check=True,
    ).stdout


def bench_parse(workdir: Path, count: int = 100_000, repeats: int = 5) -> dict:
    """``parse`` of a 100,000-entry log against grep listing its header lines, interleaved."""
    text = render_all(_entries(count))
    data = text.encode()
    size_mb = len(data) / 1e6
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "parse.log"
    if not path.exists() or path.stat().st_size != len(data):
        path.write_bytes(data)
    grep_count = _grep_headers(path).count(b"\n")
    result = parse(text)  # warm-up
    assert len(result.entries) == count and result.ok and not result.diagnostics
    ours, theirs, from_file = [], [], []
    for _ in range(repeats):
        result = None  # the previous result is freed before the clock starts
        began = time.perf_counter()
        result = parse(text)
        ours.append(time.perf_counter() - began)
        began = time.perf_counter()
        _grep_headers(path)
        theirs.append(time.perf_counter() - began)
        began = time.perf_counter()
        loaded = read_log(path)
        from_file.append(time.perf_counter() - began)
        del loaded
    assert len(result.entries) == count and result.ok
    median, grep_median = statistics.median(ours), statistics.median(theirs)
    rate = size_mb / median
    return {
        "case": "parse",
        "data": f"{count:,}-entry log ({size_mb:.1f} MB)",
        "ours_s": median,
        "theirs_s": grep_median,
        "theirs": GREP_HEADERS,
        "ratio": median / grep_median,
        "peak_rss_mb": None,
        "target": "≥ 50 MB/s",
        "passed": rate >= 50,
        "mb_per_s": rate,
        "notes": (
            f"{rate:.0f} MB/s, {count:,} entries with their fields and line numbers; grep "
            f"lists the {grep_count:,} header lines only ({size_mb / grep_median:.0f} MB/s); "
            f"read_log of the file (read, decode, parse) "
            f"{statistics.median(from_file):.3f} s; medians of {repeats} interleaved runs, "
            f"the previous result freed outside the timing"
        ),
    }


def _ipython_time(code: str, repeats: int) -> float:
    ipython = Path(sys.executable).with_name("ipython")
    env = {
        **os.environ,
        "IPYTHONDIR": str(Path(os.environ.get("TMPDIR", "/tmp")) / "designlog-bench-ipython"),
    }
    timings = []
    for _ in range(repeats + 1):
        began = time.perf_counter()
        subprocess.run(
            [str(ipython), "--quick", "-c", code], check=True, env=env, capture_output=True
        )
        timings.append(time.perf_counter() - began)
    return statistics.median(timings[1:])


def bench_load(workdir: Path, repeats: int = 7) -> dict:
    base = _ipython_time("pass", repeats)
    ours = _ipython_time("%load_ext designlog_magics", repeats)
    ratio = ours / base
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, designlog_magics.magics; "
            "print(sorted(m for m in ('jupyterlab', 'ipywidgets', 'sidecar', 'nbconvert', "
            "'nbclient') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {
        "case": "load",
        "data": "ipython -c '%load_ext designlog_magics'",
        "ours_s": ours,
        "theirs_s": base,
        "theirs": "ipython -c 'pass'",
        "ratio": ratio,
        "peak_rss_mb": None,
        "target": "≤ 1.2×",
        "passed": ratio <= 1.2,
        "notes": f"heavy modules imported by the magics: {check}",
    }


def run(workdir: Path, repeats: int = 5) -> list[dict]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [
        bench_append(workdir),
        bench_parse(workdir, repeats=repeats),
        bench_load(workdir, repeats=max(repeats, 5)),
    ]


if __name__ == "__main__":
    for row in run(Path("benchmarks/data")):
        print(row)
