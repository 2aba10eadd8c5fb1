"""The demo's command line: demo data, and the demo notebook executed without a browser.

It is run as ``python -m designlog_magics.demo``::

    python -m designlog_magics.demo data DIR           # build the demo data in DIR
    python -m designlog_magics.demo run --workspace DIR
        # build it, execute notebooks/design_experiment.ipynb on it, save the executed
        # notebook in DIR and print the design-experiment.log, the experiment_summary.yaml
        # and the outcome table it wrote
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .data import ENV_WORKSPACE, build_demo_data
from .notebook import run_demo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m designlog_magics.demo",
        description="Demo data, and the demo notebook executed without a browser.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data = commands.add_parser("data", help="build the demo data in DIR")
    data.add_argument("directory", metavar="DIR")
    run = commands.add_parser(
        "run",
        help="build the demo data, execute the demo notebook on it, print the log it wrote",
        description="Build the demo data in the workspace, execute "
        "notebooks/design_experiment.ipynb on it (its first cell reads "
        f"${ENV_WORKSPACE}), save the executed notebook in the workspace and print the "
        "design-experiment.log to stdout (progress goes to stderr).",
    )
    run.add_argument(
        "--workspace", default="demo-workspace", metavar="DIR", help="default: ./demo-workspace"
    )
    run.add_argument(
        "--notebook", metavar="PATH", help="default: notebooks/design_experiment.ipynb"
    )
    run.add_argument(
        "--timeout", type=int, default=300, metavar="SECONDS", help="per cell (default 300)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m designlog_magics.demo data DIR | run [--workspace DIR]``."""
    args = _parser().parse_args(argv)
    if args.command == "data":
        facts = build_demo_data(args.directory)
        print(facts.describe())
        print(f"built in {facts.seconds:.1f}s")
        return 0
    try:
        from nbclient.exceptions import CellExecutionError
    except ImportError:  # pragma: no cover - nbclient is in the lab and export extras
        print(
            "demo run: needs nbclient and ipykernel (pip install nbclient ipykernel)",
            file=sys.stderr,
        )
        return 2
    print(f"building demo data in {args.workspace} ...", file=sys.stderr)
    try:
        facts, executed, log = run_demo(
            args.workspace, notebook=args.notebook, timeout=args.timeout
        )
    except CellExecutionError as exc:
        print(f"demo run: a cell failed:\n{exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"demo run: {exc}", file=sys.stderr)
        return 2
    print(f"executed notebook: {executed}", file=sys.stderr)
    print(f"design log: {log}", file=sys.stderr)
    sys.stdout.write(log.read_text(encoding="utf-8"))
    plan = log.parent / "experiment_summary.yaml"
    if plan.is_file():
        from ..outcome import read_outcome

        sys.stdout.write(f"\n# {plan}\n{plan.read_text(encoding='utf-8')}")
        sys.stdout.write(f"\n# designlog outcome {log.parent}\n{read_outcome(log.parent).render()}")
    sys.stdout.flush()
    return 0
