"""EXTRACT_CALIBRATION: what this cluster's estimates are worth, from many experiments.

Every experiment under ROOT with a design log and finished runs gives actual/estimated ratios;
the factor that would have covered 90% of them is the safety factor to plan the next one with
(compared with the fixed 1.5). ``-o calibration`` keeps it as a number that names its source,
so a ``%%log_calc`` that multiplies by it says in its ``Input:`` how many runs and which
experiments it rests on.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence

from ..commandline import quote_path, verb_command
from .base import StepContext, StepOutcome, make_entry, outcome
from .search import like_argument, like_from_words
from .table import Verb, explain_argument


def calibrate(
    ctx: StepContext,
    *,
    root: str,
    like: Sequence[str] | None = None,
    explain: str | None = None,
) -> StepOutcome:
    """The distribution of actual/estimated per model and recipe, and the factor to use."""
    from ..calibration import calibrate as read_calibration

    tree = ctx.run_path(root)
    plan = like_from_words(like or [])
    with ctx.progress(f"reading the experiments under {tree}"):
        report = read_calibration(tree, like=plan)
    words = [quote_path(ctx.log_path(tree))]
    if like:
        words += ["--like", *(shlex.quote(word) for word in like)]
    entry = make_entry(
        "EXTRACT_CALIBRATION",
        "Calibrating estimates against past outcomes",
        command=verb_command("calibrate", *words),
        result=report.result_text(),
        explanation=explain
        or "Measuring how far past estimates were from what the runs took, to size the next one",
    )
    return outcome(
        entry,
        value=report.calibration,
        data=report.as_dict(),
        notes=[report.render().rstrip("\n")],
    )


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", metavar="ROOT", help="the tree of past experiments")
    like_argument(parser, "only runs like the plan")
    explain_argument(parser)


VERBS = (
    Verb(
        "calibrate",
        calibrate,
        _grammar,
        "EXTRACT_CALIBRATION: actual/estimated over past experiments (median, p90 per model "
        "and recipe) and the factor that would have covered 9 in 10 of their runs.",
        "designlog calibrate /scratch/me/ck-projects --like model=Llama-3.2-1B-Instruct",
        reads_only=True,
        output=True,
        paths=("root",),
    ),
)
