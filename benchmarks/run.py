"""Run every benchmark case and write benchmarks/RESULTS.md.

Each case module has ``run(workdir, repeats) -> list[dict]``; rows compare our time with the
tool a user would otherwise run (grep, find), measured in the same run. Data is generated
deterministically under ``benchmarks/data/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = ["bench_speed", "bench_search", "bench_runtable", "bench_core", "bench_panel"]


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not found"


def machine() -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    from importlib.metadata import version

    def ver(name: str) -> str:
        try:
            return version(name)
        except Exception:
            return "not installed"

    return [
        f"- Date: {datetime.now():%Y-%m-%d %H:%M}",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores ({cpu}), {memory} memory",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_version()}; designlog-magics {ver('designlog-magics')}, "
        f"IPython {ver('ipython')}, ipywidgets {ver('ipywidgets')}",
        f"- Compared with: {_first_line(['grep', '--version'])}; "
        f"{_first_line(['find', '--version'])}",
        "- Timings are medians of several runs after a warm-up (warm page cache).",
    ]


def _fmt(value: object, unit: str = "s") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if unit == "s" and value < 0.01:
            return f"{value * 1000:.3f} ms"
        return f"{value:.3f} {unit}".strip()
    return str(value)


def write_results(rows: list[dict], seconds: float, path: Path) -> None:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (benchmarks/run.py); the figures of the last run.",
        "",
    ]
    lines += machine()
    lines += [f"- Whole run: {seconds:.0f} s", ""]
    lines += [
        "| Case | Data | Ours | Compared with | Theirs | Ratio | Peak RSS | Target | "
        "Result | Notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = row.get("ratio")
        ours = _fmt(row.get("ours_s"))
        if row.get("mb_per_s"):
            ours += f" ({row['mb_per_s']:.0f} MB/s)"
        rss = row.get("peak_rss_mb")
        lines.append(
            "| "
            + " | ".join(
                [
                    str(row.get("case", "")),
                    str(row.get("data", "")),
                    ours,
                    f"`{row['theirs']}`" if row.get("theirs") not in (None, "—") else "—",
                    _fmt(row.get("theirs_s")),
                    f"{ratio:.2f}×" if isinstance(ratio, float) else "—",
                    f"{rss:.0f} MB" if isinstance(rss, int | float) else "—",
                    str(row.get("target", "")),
                    "PASS" if row.get("passed") else "FAIL",
                    str(row.get("notes", "")).replace("|", "\\|").replace("\n", " "),
                ]
            )
            + " |"
        )
    strategy = HERE / "STRATEGY.md"
    if strategy.exists():
        lines += ["", strategy.read_text().strip()]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="*", choices=CASES, help="run only these cases")
    parser.add_argument("--workdir", type=Path, default=HERE / "data")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[dict] = []
    for name in args.only or CASES:
        print(f"== {name}", flush=True)
        module = importlib.import_module(name)
        case_rows = module.run(args.workdir / name, repeats=args.repeats)
        for row in case_rows:
            print(
                f"   {row['case']} [{row['data']}]: {'PASS' if row['passed'] else 'FAIL'} "
                f"— {row.get('notes', '')}",
                flush=True,
            )
        rows.extend(case_rows)
    elapsed = time.monotonic() - started
    write_results(rows, elapsed, args.output)
    failed = [r for r in rows if not r.get("passed")]
    print(
        f"{len(rows) - len(failed)} passed, {len(failed)} failed; wrote {args.output} "
        f"in {elapsed:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
