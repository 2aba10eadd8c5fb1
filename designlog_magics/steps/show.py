"""The log's entries, filtered by action type, time and count (``designlog show``, ``%designlog
show``, an agent's ``show``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime

from ..arguments import count
from ..exceptions import StepError
from .base import StepContext, StepOutcome
from .table import Verb


def parse_time(text: str) -> datetime:
    """``2025-10-22``, ``2025-10-22 14:24``, ``2025-10-22T14:24:30``, or ``14:24`` (today)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    try:
        clock = datetime.strptime(text.strip(), "%H:%M:%S" if text.count(":") == 2 else "%H:%M")
    except ValueError:
        raise StepError(
            f"--since: cannot read {text!r} as a time "
            "(use YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]' or HH:MM[:SS])"
        ) from None
    return datetime.combine(datetime.now().date(), clock.time())


def show(
    ctx: StepContext,
    *,
    types: Sequence[str] = (),
    since: str | None = None,
    last: int | None = None,
) -> StepOutcome:
    """The entries of the log (value: the entries; data: them as JSON-ready dicts)."""
    entries = list(ctx.entries())
    wanted = {t.strip().upper() for item in types for t in item.split(",") if t.strip()}
    if wanted:
        entries = [e for e in entries if e.action in wanted]
    if since:
        moment = parse_time(since)
        entries = [e for e in entries if e.timestamp >= moment]
    if last is not None:
        if last < 0:
            raise StepError("--last must be 0 or more")
        entries = entries[-last:] if last else []
    return StepOutcome(value=entries, data=[e.as_dict() for e in entries])


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--type",
        dest="types",
        action="append",
        default=[],
        metavar="T",
        help="only entries of action type T (repeatable, or comma-separated)",
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="only entries at or after TIME (YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]', HH:MM)",
    )
    parser.add_argument("--last", type=count, metavar="N", help="only the last N entries")


VERBS = (
    Verb(
        "show",
        show,
        _grammar,
        "Print a log's entries as log text (or JSON), optionally filtered.",
        "designlog show runs/cap_8L --type CALCULATE_TIME --since 2025-10-22 --last 3",
        reads_only=True,
        logs=False,
        needs_log=True,
    ),
)
