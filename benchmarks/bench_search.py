"""Prior-run search: ``search_runs`` against ``find`` on a 200,000-file scratch tree.

The tree (benchmarks/scratch_tree.py) is built once and reused while its marker says it was
built with the same settings. Both sides are timed interleaved after a warm-up (warm page
cache), and their results must be the same set of paths: a fast wrong answer fails.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    import scratch_tree
except ImportError:  # imported as benchmarks.bench_search
    from benchmarks import scratch_tree

from designlog_magics.probes.runs import search_runs

FILES = 200_000
TARGET_RATIO = 1.2
PAIRS = 9  # interleaved find/ours timings at least: a ~0.2 s walk is noisy on a shared machine
REPO = Path(__file__).resolve().parents[1]
THEIRS = "find ROOT -name 'slurm-*.out' -path '*/ck-out-*' -size +100k"
# A fresh interpreter doing the search, reporting its own peak RSS in KiB: VmHWM belongs to
# its own address space (ru_maxrss would include the parent's pages from before exec).
FRESH = (
    "import re, sys\n"
    "from designlog_magics.probes.runs import search_runs\n"
    "found = search_runs(sys.argv[1])\n"
    "with open('/proc/self/status') as status:\n"
    "    peak = re.search(r'VmHWM:\\s+(\\d+)', status.read()).group(1)\n"
    "print(len(found.paths), peak)\n"
)


def _find_args(find: str, root: str) -> list[str]:
    return [find, root, "-name", "slurm-*.out", "-path", "*/ck-out-*", "-size", "+100k"]


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - began
    if done.returncode not in (0, 1):  # find exits 1 after a "Permission denied"
        raise RuntimeError(f"{command[0]} failed: {done.stderr.strip()}")
    return elapsed, done.stdout


def _find_peak_rss_mb(find: str, root: str) -> float | None:
    """find's own peak RSS, via GNU time (which forks it cleanly), if installed."""
    gnu_time = shutil.which("time")
    if gnu_time is None:
        return None
    done = subprocess.run(
        [gnu_time, "-f", "%M", *_find_args(find, root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
    )
    try:
        return int(done.stderr.strip().splitlines()[-1]) / 1024
    except (IndexError, ValueError):
        return None


def run(workdir: Path, repeats: int = 5) -> list[dict]:
    find = shutil.which("find")
    if find is None:
        raise RuntimeError("the search benchmark compares with find, which is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    facts = scratch_tree.ensure(workdir / "scratch", files=FILES)
    build_s = time.perf_counter() - began
    root = facts.root

    # warm-up, then the two answers, compared byte for byte (newlines in names: -print0)
    _timed(_find_args(find, root))
    ours = search_runs(root)
    listed = subprocess.run(
        [*_find_args(find, root), "-print0"], capture_output=True, timeout=600
    ).stdout
    theirs_paths = [p for p in listed.split(b"\0") if p]
    ours_paths = [os.fsencode(p) for p in ours.paths]
    identical = sorted(theirs_paths) == ours_paths

    ours_times, theirs_times = [], []
    for _ in range(max(repeats, PAIRS)):
        elapsed, _ = _timed(_find_args(find, root))
        theirs_times.append(elapsed)
        started = time.perf_counter()
        search_runs(root)
        ours_times.append(time.perf_counter() - started)

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    fresh_times, startup_times, fresh_rss_kb = [], [], 0
    for _ in range(max(3, repeats // 2)):
        elapsed, out = _timed([sys.executable, "-c", FRESH, root], env)
        fresh_times.append(elapsed)
        count, rss = (int(x) for x in out.split())
        identical = identical and count == len(ours_paths)
        fresh_rss_kb = max(fresh_rss_kb, rss)
        startup_times.append(_timed([sys.executable, "-c", "pass"], env)[0])

    ours_s = statistics.median(ours_times)
    theirs_s = statistics.median(theirs_times)
    fresh_s = statistics.median(fresh_times)
    ratio = ours_s / theirs_s
    find_rss_mb = _find_peak_rss_mb(find, root)
    find_rss = f"{find_rss_mb:.0f} MB" if find_rss_mb is not None else "not measured"
    notes = (
        f"{len(ours_paths)} matches, {'identical' if identical else 'DIFFERENT'} set; "
        f"in-process median {ours_s:.3f} s (best {min(ours_times):.3f}) vs find "
        f"{theirs_s:.3f} s (best {min(theirs_times):.3f}); fresh `python -c` "
        f"{fresh_s:.3f} s, {fresh_s / theirs_s:.2f}× find, of which interpreter start "
        f"{statistics.median(startup_times):.3f} s; peak RSS {fresh_rss_kb / 1024:.0f} MB "
        f"(fresh process) vs find {find_rss}; {ours.scanned:,} entries scanned in "
        f"{facts.directories:,} directories, {facts.symlinks:,} symlinks, "
        f"{len(ours.skipped)} unreadable dirs skipped; tree built/checked in {build_s:.1f} s"
    )
    return [
        {
            "case": "prior-run search",
            "data": f"{facts.files:,} files",
            "ours_s": ours_s,
            "theirs_s": theirs_s,
            "theirs": THEIRS,
            "ratio": ratio,
            "peak_rss_mb": fresh_rss_kb / 1024,
            "target": f"≤ {TARGET_RATIO}× find, identical set",
            "passed": identical and ratio <= TARGET_RATIO,
            "notes": notes,
        }
    ]


if __name__ == "__main__":
    for row in run(Path(__file__).resolve().parent / "data" / "bench_search"):
        print(row)
