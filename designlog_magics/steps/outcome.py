"""CHECK_ESTIMATE: what the planned runs really took, beside each estimate the log holds.

``designlog outcome EXPERIMENT_DIR`` reads the runs that ``experiment_summary.yaml`` scheduled
(their SLURM outputs in ``{experiment_dir}/{run}/``, or accounting with ``--sacct``), compares
each logged estimate with what they took, and appends one ``CHECK_ESTIMATE`` entry per estimate
whose Result changed since the last check (so a rerun appends nothing when nothing changed).
Each entry's Command is ``designlog outcome ... --check KEY``, which prints exactly that Result
and appends nothing: a read, which replay runs again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..commandline import option, quote_path, verb_command
from ..exceptions import StepError
from .base import Plot, StepContext, StepOutcome
from .table import Verb


def outcome(
    ctx: StepContext,
    *,
    experiment_dir: str | None = None,
    runs_root: str | None = None,
    sacct: bool = False,
    check: str | None = None,
) -> StepOutcome:
    """The comparison (value: the report); the CHECK_ESTIMATE entries when no ``check`` is
    named, else that check's Result alone."""
    from ..outcome import CHECK_KEYS, check_entries, read_outcome, result_for

    directory = ctx.run_path(experiment_dir) if experiment_dir else str(ctx.require_dir())
    root = ctx.run_path(runs_root) if runs_root else None
    if check is not None and check not in CHECK_KEYS:
        raise StepError(f"--check takes one of {', '.join(CHECK_KEYS)}, not {check!r}")
    own_log = ctx.experiment_dir is not None and Path(directory).resolve() == (
        ctx.experiment_dir.resolve()
    )
    with ctx.progress(f"reading the runs of {directory}"):
        report = read_outcome(
            directory, runs_root=root, sacct=sacct, entries=ctx.entries() if own_log else None
        )
    if check is not None:
        result = result_for(report, check)
        return StepOutcome(
            value=report, data={"result": result, **report.as_dict()}, notes=[result]
        )
    words = [quote_path(ctx.log_path(directory))]
    if root:
        words.append(option("--runs-root", ctx.log_path(root)))
    if sacct:
        words.append("--sacct")

    def command_for(key: str) -> str:
        return verb_command("outcome", *words, option("--check", key))

    entries = check_entries(report, ctx.entries(), command_for)
    notes = [report.render().rstrip("\n")]
    if not entries:
        notes.append("no estimate's outcome changed since the last check: nothing appended")
    return StepOutcome(
        entries=list(entries),
        value=report,
        data=report.as_dict(),
        notes=notes,
        plot=Plot("outcome", (report.points(),)),
    )


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "experiment_dir",
        nargs="?",
        metavar="EXPERIMENT_DIR",
        help="the experiment (in a notebook: the session's)",
    )
    parser.add_argument(
        "--runs-root",
        metavar="DIR",
        help="the parent of the run directories (default: EXPERIMENT_DIR)",
    )
    parser.add_argument(
        "--sacct", action="store_true", help="also find each run's job by its name in accounting"
    )
    parser.add_argument(
        "--check",
        metavar="KEY",
        help="print one estimate's Result, append nothing (time, speed, tokens, eval-time, disk)",
    )


VERBS = (
    Verb(
        "outcome",
        outcome,
        _grammar,
        "CHECK_ESTIMATE: what the planned runs really took, beside each logged estimate; "
        "appends one entry per estimate whose outcome changed.",
        "designlog outcome /scratch/me/cap_8L_lora_comparison_2025-10-22",
        read_only_with=("check",),
        output=True,
        log_argument="experiment_dir",
        paths=("experiment_dir", "runs_root"),
    ),
)
