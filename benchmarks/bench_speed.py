"""Speed extraction and ``%log_speed`` against ``grep | tail`` on large torchtune outputs.

The files are made by ``designlog_magics._demo.synthetic`` (deterministic: three epochs,
warmup, validation every 500 steps, log lines glued to the bars, epochs joined with
``\\r``) and kept in the work directory for the next run. For each size: the median wall
time of ``extract_speed`` (default mode, then ``mode="full"``) in this process, of
``LC_ALL=C grep -E "[0-9.]+it/s" FILE | tail -20`` through bash, the peak RSS of the probe
in a fresh interpreter, and whether each answer is within 2% of the true steady speed
(grep's tail ends with the last epoch's average, or a reading in a warmup or a dip; as the
epochs here are long, their averages are close to the steady speed).

Then, on a realistic ~300 MB output (the same generator with torchtune's resolved config at
the head and a StdoutLogger line every step, as the demo's runs): the full pass in MB/s, and
``%log_speed FILE`` itself, run through a real IPython ``InteractiveShell`` after
``%load_ext designlog_magics`` with its figure drawn, timed in this process interleaved with
the ``grep | tail`` (medians), its peak RSS beyond the shell after loading measured in a
fresh interpreter that runs it once; and the same for what the step reads and draws, called
directly (``read_prior_run`` + ``speed_figure``).

    python benchmarks/bench_speed.py [--workdir DIR] [--repeats N] [--only-realistic]
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

from designlog_magics._demo.synthetic import TorchtuneConfig, write_torchtune_out
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
REALISTIC_BYTES = 300_000_000
REALISTIC_FULL_MB_PER_S = 200
STEP_RATIO = 0.5  # %log_speed with its figure at most half the grep | tail time
STEP_RSS_MB = 32  # and at most this much peak RSS beyond the shell after %load_ext

_PEAK = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _data_file(workdir: Path, label: str, size: int, realistic: bool = False) -> tuple[Path, dict]:
    """The output for ``size``, made once (its facts are kept beside it). ``realistic``: with
    torchtune's resolved config and a StdoutLogger line every step."""
    name = f"slurm-bench-{size // 1_000_000}MB{'-realistic' if realistic else ''}.out"
    path = workdir / name
    facts_path = path.with_suffix(".facts.json")
    params = {**PARAMS, "target_bytes": size, "realistic": realistic}
    if path.exists() and facts_path.exists():
        saved = json.loads(facts_path.read_text())
        if saved.get("params") == params and path.stat().st_size == saved["bytes_written"]:
            return path, saved
    started = time.perf_counter()
    made = {k: v for k, v in params.items() if k != "realistic"}
    if realistic:
        made["config"] = TorchtuneConfig()
    facts = asdict(write_torchtune_out(path, **made))
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


def run(workdir: Path, repeats: int = 5, realistic_only: bool = False) -> list[dict]:
    """Rows of figures for both sizes and both modes, then the realistic output's rows (see
    the module docstring)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rows = [] if realistic_only else _size_rows(workdir, repeats)
    return rows + realistic_rows(workdir, repeats)


def _size_rows(workdir: Path, repeats: int) -> list[dict]:
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


_STEP_RSS = """
import resource, sys
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "designlog_magics")
shell.run_line_magic("designlog", "start " + sys.argv[2] + " --no-panel")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with capture_output() as captured:
    if sys.argv[3] == "magic":
        shell.run_line_magic("log_speed", sys.argv[1])
    else:
        from designlog_magics.figures import speed_figure
        from designlog_magics.probes.prior_run import read_prior_run
        prior = read_prior_run(sys.argv[1])
        speed_figure(prior.speed, prior.tokens)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
svgs = sum("image/svg+xml" in o.data for o in captured.outputs)
print(before, after, svgs)
"""


def _step_rss_kb(path: Path, logdir: Path, what: str) -> tuple[int, int]:
    """Peak RSS of a fresh shell after ``%load_ext`` and how much one ``what`` adds to it.

    Started from a small interpreter: a process keeps its parent's peak RSS across exec,
    and this one may be large."""
    launch = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            launch,
            sys.executable,
            "-c",
            _STEP_RSS,
            str(path),
            str(logdir),
            what,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after, _ = (int(x) for x in done.stdout.split()[-3:])
    return before, after - before


def _shell(logdir: Path):
    """A real IPython shell with the extension loaded and a design log started."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "designlog_magics")
    shell.run_line_magic("designlog", f"start {logdir} --no-panel")
    return shell


def _log_speed(shell, path: Path) -> tuple[object, int]:
    """``%log_speed FILE`` as a cell runs it: its entry and how many SVG figures it showed."""
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        entry = shell.run_line_magic("log_speed", str(path))
    return entry, sum("image/svg+xml" in o.data for o in captured.outputs)


def _probe_and_figure(path: Path) -> tuple[object, str | None]:
    from designlog_magics.figures import speed_figure
    from designlog_magics.probes.prior_run import read_prior_run

    prior = read_prior_run(path)
    return prior, speed_figure(prior.speed, prior.tokens)


def _interleaved(ours, theirs, repeats: int) -> tuple[float, float, list[float]]:
    """Medians of ``ours`` and ``theirs`` run in turn (after one warm-up of each)."""
    ours()
    theirs()
    mine, other = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        theirs()
        other.append(time.perf_counter() - started)
        started = time.perf_counter()
        ours()
        mine.append(time.perf_counter() - started)
    return statistics.median(mine), statistics.median(other), mine


def realistic_rows(workdir: Path, repeats: int = 3) -> list[dict]:
    """The full pass, ``%log_speed`` and what it reads and draws, on the realistic output."""
    path, facts = _data_file(workdir, "300 MB", REALISTIC_BYTES, realistic=True)
    truth, tokens_truth = facts["steady_its"], facts["tokens_per_s"]
    mb = facts["bytes_written"] / 1e6
    label = f"{mb:.0f} MB, config + StdoutLogger"
    grep = lambda: _grep_tail(path, keep=False)  # noqa: E731
    rows = []

    full_s, grep_s, _ = _interleaved(lambda: extract_speed(path, mode="full"), grep, repeats)
    report = extract_speed(path, mode="full")
    correct = report.ok and abs(report.speed_its / truth - 1) <= 0.02
    baseline_kb = _peak_rss_kb("import designlog_magics.probes.speed")
    peak_kb = _peak_rss_kb(
        f"from designlog_magics.probes.speed import extract_speed\n"
        f"extract_speed({str(path)!r}, mode='full')"
    )
    beyond_mb = (peak_kb - baseline_kb) / 1024
    rows.append(
        {
            "case": "speed extraction (full), realistic output",
            "data": label,
            "ours_s": round(full_s, 4),
            "mb_per_s": round(mb / full_s, 1),
            "theirs_s": round(grep_s, 4),
            "theirs": GREP,
            "ratio": round(full_s / grep_s, 3),
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "target": f"≥ {REALISTIC_FULL_MB_PER_S} MB/s, ≤ {RSS_LIMIT_MB} MB",
            "passed": correct
            and mb / full_s >= REALISTIC_FULL_MB_PER_S
            and beyond_mb <= RSS_LIMIT_MB,
            "notes": (
                f"ours {report.speed_its:.2f} it/s vs true {truth:.2f} "
                f"({'within 2%' if correct else 'WRONG'}); medians of {repeats} runs "
                f"interleaved with grep; peak RSS {beyond_mb:.1f} MB beyond the interpreter's "
                f"{baseline_kb / 1024:.1f} MB; file made in {facts.get('generated_s', '?')} s"
            ),
        }
    )

    logdir = workdir / "log"
    shell = _shell(logdir)
    step_s, grep_s, runs = _interleaved(lambda: _log_speed(shell, path), grep, repeats)
    entry, svgs = _log_speed(shell, path)
    result = entry.get("Result") if entry is not None else None
    found = re.search(r"([0-9.]+) it/s", result or "")
    its = float(found[1]) if found else None
    correct = its is not None and abs(its / truth - 1) <= 0.02 and svgs == 1
    before_kb, extra_kb = _step_rss_kb(path, workdir / "log-rss", "magic")
    rows.append(
        {
            "case": "%log_speed FILE, in-process after %load_ext, with its figure",
            "data": label,
            "ours_s": round(step_s, 4),
            "theirs_s": round(grep_s, 4),
            "theirs": GREP,
            "ratio": round(step_s / grep_s, 3),
            "peak_rss_mb": round((before_kb + extra_kb) / 1024, 1),
            "target": f"≤ {STEP_RATIO}× grep, ≤ {STEP_RSS_MB} MB beyond the loaded shell",
            "passed": correct and step_s <= STEP_RATIO * grep_s and extra_kb / 1024 <= STEP_RSS_MB,
            "notes": (
                f"Result: {result}; {svgs} SVG figure(s) shown; plan with {its} it/s vs true "
                f"{truth:.2f} ({'within 2%' if correct else 'WRONG or no figure'}); runs "
                f"{min(runs):.3f}-{max(runs):.3f} s, medians of {repeats} interleaved with grep; "
                f"peak RSS {extra_kb / 1024:.1f} MB beyond the shell's {before_kb / 1024:.1f} MB "
                "after %load_ext (a fresh interpreter, one %log_speed)"
            ),
        }
    )

    read_s, grep_s, runs = _interleaved(lambda: _probe_and_figure(path), grep, repeats)
    prior, svg = _probe_and_figure(path)
    plan = prior.speed.plan_its if prior.speed else None
    tokens = prior.tokens.tokens_per_s if prior.tokens else None
    correct = (
        plan is not None
        and abs(plan / truth - 1) <= 0.02
        and tokens is not None
        and abs(tokens / tokens_truth - 1) <= 0.03
        and svg is not None
    )
    before_kb, extra_kb = _step_rss_kb(path, workdir / "log-rss", "direct")
    rows.append(
        {
            "case": "what %log_speed reads and draws: read_prior_run + speed_figure",
            "data": label,
            "ours_s": round(read_s, 4),
            "theirs_s": round(grep_s, 4),
            "theirs": GREP,
            "ratio": round(read_s / grep_s, 3),
            "peak_rss_mb": round((before_kb + extra_kb) / 1024, 1),
            "target": f"≤ {STEP_RATIO}× grep, ≤ {STEP_RSS_MB} MB beyond the loaded shell",
            "passed": correct and read_s <= STEP_RATIO * grep_s and extra_kb / 1024 <= STEP_RSS_MB,
            "notes": (
                f"plan with {plan or 0:.2f} it/s vs true {truth:.2f}, {tokens or 0:,.0f} tokens/s "
                f"per GPU vs true {tokens_truth:,.0f} ({'within 2%/3%' if correct else 'WRONG'}); "
                f"figure {len(svg or '') / 1000:.0f} kB of SVG; read "
                f"{prior.bytes_read / 1e6:.1f} of {mb:.0f} MB, each part once; runs "
                f"{min(runs):.3f}-{max(runs):.3f} s; peak RSS {extra_kb / 1024:.1f} MB beyond "
                f"the shell's {before_kb / 1024:.1f} MB after %load_ext (fresh interpreter)"
            ),
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only-realistic", action="store_true")
    args = parser.parse_args()
    for row in run(args.workdir / "bench_speed", args.repeats, args.only_realistic):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
