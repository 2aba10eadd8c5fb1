"""Any other entry, its fields written by the user (``%log_entry``, ``designlog add``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..entry import field_name
from ..exceptions import StepError
from .base import HAND_WRITTEN, StepContext, StepOutcome, make_entry, outcome
from .table import Verb, explain_argument


def add(
    ctx: StepContext,
    *,
    action: str,
    brief: str,
    fields: Sequence[str] = (),
    explain: str | None = None,
) -> StepOutcome:
    """An entry of ``KEY=VALUE`` fields. One that carries a ``Command:`` is marked ``Origin:
    written by hand``: its Result was not computed by the package, so replay does not take it
    for a check it can repeat."""
    pairs = []
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StepError(f"fields are KEY=VALUE, not {item!r}")
        pairs.append((field_name(key.strip()), value))
    if explain is not None:
        pairs.append(("Explanation", explain))
    if any(k == "Command" for k, _ in pairs) and not any(k == "Origin" for k, _ in pairs):
        pairs.append(("Origin", HAND_WRITTEN))
    return outcome(make_entry(action, brief, pairs))


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", metavar="ACTION", help="action type, e.g. VERIFY_MODEL")
    parser.add_argument("brief", metavar="BRIEF", help="brief description")
    parser.add_argument("fields", nargs="*", metavar="KEY=VALUE", help="fields, in order")
    explain_argument(parser)


VERBS = (
    Verb(
        "add",
        add,
        _grammar,
        "Append an entry (the same locked append as the magics; secrets are masked). "
        "KEY names become field names: next_steps=... is written as 'Next Steps: ...'.",
        'designlog add CHECK_DISK "Verifying available disk space" '
        'command="df -h /scratch" result="2.1T available"',
        needs_log=True,
    ),
)
