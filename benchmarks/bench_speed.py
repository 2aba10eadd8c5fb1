"""Speed extraction against ``grep | tail`` on 100 MB and 500 MB torchtune outputs.

The files are made by ``designlog_magics._demo.synthetic`` (deterministic: three epochs,
warmup, validation every 500 steps, log lines glued to the bars, epochs joined with
``\\r``) and kept in the work directory for the next run. For each size: the median wall
time of ``extract_speed`` (default mode, then ``mode="full"``) in this process, of
``LC_ALL=C grep -E "[0-9.]+it/s" FILE | tail -20`` through bash, the peak RSS of the probe
in a fresh interpreter, and whether each answer is within 2% of the true steady speed
(grep's tail ends with the last epoch's average, or a reading in a warmup or a dip; as the
epochs here are long, their averages are close to the steady speed).

    python benchmarks/bench_speed.py [--workdir DIR] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict
from pathlib import Path

from designlog_magics._demo.synthetic import write_torchtune_out
from designlog_magics.probes.speed import extract_speed

GREP = 'LC_ALL=C grep -E "[0-9.]+it/s" FILE | tail -20'
SIZES = {"100 MB": 100_000_000, "500 MB": 500_000_000}
PARAMS = dict(
    steady_its=4.34,
    epochs=3,
    warmup_steps=200,
    warmup_factor=3.0,
    validation_every=500,
    jitter=0.05,
    noise_lines=True,
    position1_epochs=True,
    seed=2025,
)
RSS_LIMIT_MB = 64
FULL_MB_PER_S = 150

_PEAK = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _data_file(workdir: Path, label: str, size: int) -> tuple[Path, dict]:
    """The output for ``size``, made once (its facts are kept beside it)."""
    path = workdir / f"slurm-bench-{size // 1_000_000}MB.out"
    facts_path = path.with_suffix(".facts.json")
    params = {**PARAMS, "target_bytes": size}
    if path.exists() and facts_path.exists():
        saved = json.loads(facts_path.read_text())
        if saved.get("params") == params and path.stat().st_size == saved["bytes_written"]:
            return path, saved
    started = time.perf_counter()
    facts = asdict(write_torchtune_out(path, **params))
    facts["params"] = params
    facts["generated_s"] = round(time.perf_counter() - started, 2)
    facts_path.write_text(json.dumps(facts))
    return path, facts


def _median_time(action, repeats: int) -> float:
    action()  # warm up: page cache, regex compilation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _grep_tail(path: Path, keep: bool = True) -> str:
    """The command's output (timed with it going to /dev/null, as cheap as it gets)."""
    command = GREP.replace("FILE", str(path))
    if not keep:
        subprocess.run(["bash", "-c", command + " > /dev/null"], check=True)
        return ""
    done = subprocess.run(["bash", "-c", command], capture_output=True, check=True)
    return done.stdout[-4096:].decode("utf-8", "replace")


def _last_rate(text: str) -> float | None:
    found = re.findall(r"([0-9.]+)(it/s|s/it)", text)
    if not found:
        return None
    value, unit = found[-1]
    return float(value) if unit == "it/s" else 1 / float(value)


def _peak_rss_kb(code: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.split()[-1])


def run(workdir: Path, repeats: int = 5) -> list[dict]:
    """Rows of figures for both sizes and both modes (see the module docstring)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    baseline_kb = _peak_rss_kb("import designlog_magics.probes.speed")
    rows = []
    for label, size in SIZES.items():
        path, facts = _data_file(workdir, label, size)
        truth = facts["steady_its"]
        grep_s = _median_time(lambda p=path: _grep_tail(p, keep=False), repeats)
        grep_rate = _last_rate(_grep_tail(path))
        grep_note = (
            f"grep's tail ends with {grep_rate:.2f} it/s ({grep_rate / truth - 1:+.0%} off)"
            if grep_rate
            else "grep's tail has no rate"
        )
        mb = facts["bytes_written"] / 1e6
        for mode in ("auto", "full"):
            ours_s = _median_time(lambda p=path, m=mode: extract_speed(p, mode=m), repeats)
            report = extract_speed(path, mode=mode)
            correct = report.ok and abs(report.speed_its / truth - 1) <= 0.02
            peak_kb = _peak_rss_kb(
                f"""
                from designlog_magics.probes.speed import extract_speed
                extract_speed({str(path)!r}, mode={mode!r})
                """
            )
            beyond_mb = (peak_kb - baseline_kb) / 1024
            notes = (
                f"ours {report.speed_its:.2f} it/s vs true {truth:.2f} "
                f"({'within 2%' if correct else 'WRONG'}), mode used: {report.mode}, "
                f"read {report.bytes_read / 1e6:.1f} of {mb:.0f} MB; {grep_note}; "
                f"peak RSS {beyond_mb:.1f} MB beyond the interpreter's "
                f"{baseline_kb / 1024:.1f} MB; file made in {facts.get('generated_s', '?')} s"
            )
            row = {
                "case": f"speed extraction ({'default' if mode == 'auto' else 'full'})",
                "data": label,
                "ours_s": round(ours_s, 4),
                "theirs_s": round(grep_s, 4),
                "theirs": GREP,
                "ratio": round(ours_s / grep_s, 3),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "target": f"≤ 1.0× grep, ≤ {RSS_LIMIT_MB} MB",
                "passed": correct and ours_s <= grep_s and beyond_mb <= RSS_LIMIT_MB,
                "notes": notes,
            }
            if mode == "full":
                row["mb_per_s"] = round(mb / ours_s, 1)
                row["target"] = f"≥ {FULL_MB_PER_S} MB/s, ≤ {RSS_LIMIT_MB} MB"
                row["passed"] = (
                    correct and row["mb_per_s"] >= FULL_MB_PER_S and beyond_mb <= RSS_LIMIT_MB
                )
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for row in run(args.workdir, args.repeats):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
