"""COMPLETE: the design declared finished; what the audit finds missing goes in a ``Warning:``."""

from __future__ import annotations

import argparse

from ..spec import default_explanation, missing_steps, unsettled_failures, unsettled_message
from .base import StepContext, StepOutcome, make_entry, outcome
from .table import Verb, explain_argument


def complete(
    ctx: StepContext, *, status: str, next_steps: str, explain: str | None = None
) -> StepOutcome:
    """Always written; the log's missing steps and unsettled failures are its ``Warning:``."""
    entries = ctx.entries()
    problems = [f"missing: {m}" for m in missing_steps(entries)]
    problems += [unsettled_message(entries[i]) for i in unsettled_failures(entries)]
    note = (
        "Before COMPLETE, the log lacks: " + "; ".join(problems)
        if problems
        else "Audit before COMPLETE: every expected step is logged"
    )
    entry = make_entry(
        "COMPLETE",
        "Experiment design finished",
        status=status,
        next_steps=next_steps,
        warning="; ".join(problems) if problems else None,
        explanation=default_explanation("COMPLETE", explain),
    )
    return outcome(entry, value=problems, data={"problems": problems}, notes=[note])


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", "-s", required=True, metavar="S")
    parser.add_argument("--next", "-n", dest="next_steps", required=True, metavar="N")
    explain_argument(parser)


VERBS = (
    Verb(
        "complete",
        complete,
        _grammar,
        "COMPLETE: declare the design finished; what the audit finds missing is a Warning:.",
        'designlog complete --status "Plan approved" --next "Scaffold the configs" --log DIR',
        needs_log=True,
    ),
)
