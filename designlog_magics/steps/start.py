"""START_DESIGN: the experiment directory and the path names bound for the design.

The bindings are recorded once, when the log is new or they change; starting again on the same
directory with the same (or no) path names resumes the log and its bindings.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..exceptions import StepError
from ..session import bindings_from_words, last_bindings, start_entry
from .base import StepContext, StepOutcome, outcome
from .table import Verb


def start(ctx: StepContext, *, directory: str, paths: Sequence[str] | None = None) -> StepOutcome:
    """The START_DESIGN entry to append (none when resuming with the same bindings); the value
    is the path names in effect (``experiment_dir`` aside)."""
    experiment_dir = ctx.require_dir()
    bindings = bindings_from_words(list(paths or []))
    if "experiment_dir" in bindings:
        raise StepError("experiment_dir is bound to the experiment directory itself")
    existing = list(ctx.entries())
    previous = last_bindings(existing)
    if paths is None and previous is not None:
        bindings = {k: v for k, v in previous.items() if k != "experiment_dir"}
    entry = None
    if not existing or previous is None or previous != bindings:
        entry = start_entry(experiment_dir, bindings, len(existing))
    state = f"resumed with {len(existing)} entries" if existing else "new log"
    notes = [f"Design log: {experiment_dir} ({state})"]
    if bindings:
        notes.append("Path names: " + ", ".join(f"{{{k}}}={v}" for k, v in bindings.items()))
    data = {"experiment_dir": str(experiment_dir), "paths": bindings, "resumed": len(existing)}
    return outcome(entry, value=bindings, data=data, notes=notes)


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="EXPERIMENT_DIR", help="the experiment directory")
    parser.add_argument(
        "--paths",
        nargs="*",
        default=None,
        metavar="NAME=DIR",
        help="path names usable as {NAME} in commands; the log keeps the placeholders",
    )


VERBS = (
    Verb(
        "start",
        start,
        _grammar,
        "START_DESIGN: open (or resume) the design log of EXPERIMENT_DIR and bind path names.",
        "designlog start /scratch/me/cap_8L_lora_comparison_2025-10-22 "
        "--paths models_dir=/scratch/models scratch_dir=/scratch/me",
        log_argument="directory",
    ),
)
