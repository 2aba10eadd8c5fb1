"""CHECK_DISK: the free space where checkpoints will go, and with a need whether it is enough."""

from __future__ import annotations

import argparse

from ..commandline import option, quote_path, verb_command
from ..exceptions import StepError
from ..spec import default_explanation
from .base import StepContext, StepOutcome, facts_of, make_entry, outcome
from .table import Verb, explain_argument

ACTION = "CHECK_DISK"
BRIEF = "Verifying available disk space"


def disk(
    ctx: StepContext, *, path: str, need: str | None = None, explain: str | None = None
) -> StepOutcome:
    """``df -h PATH`` without a need (the same free space); ``designlog disk --need`` with one
    (the verdict is computed)."""
    from ..probes.disk import check_disk

    where = ctx.run_path(path)
    written = quote_path(ctx.log_path(where))
    if need:
        command = verb_command("disk", written, option("--need", need))
        explanation: str | None = explain or f"Ensuring sufficient space for ~{need} of checkpoints"
    else:
        command = f"df -h {written}"
        explanation = default_explanation(ACTION, explain)
    try:
        facts = check_disk(where, need)
    except ValueError as exc:
        raise StepError(f"--need: {exc}") from None
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError)
        entry = make_entry(
            ACTION,
            BRIEF,
            command=command,
            result="Failed: path does not exist" if missing else "Failed: cannot check",
            error=f"{where}: {exc.strerror}",
            explanation=explanation,
        )
        return outcome(entry)
    result = facts.summary()
    warning = (
        f"not enough space: {result.removeprefix('Warning: ')}" if facts.enough is False else None
    )
    entry = make_entry(
        ACTION, BRIEF, command=command, result=result, warning=warning, explanation=explanation
    )
    data = {**facts_of(facts), "enough": facts.enough}
    return outcome(entry, value=facts, data=data, notes=[f"checked {where}"])


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH")
    parser.add_argument("--need", metavar="SIZE", help="space needed, e.g. 40G")
    explain_argument(parser)


VERBS = (
    Verb(
        "disk",
        disk,
        _grammar,
        "CHECK_DISK: free space at PATH, and with --need whether it is enough.",
        "designlog disk /scratch/me --need 40G",
        reads_only=True,
        paths=("path",),
    ),
)
