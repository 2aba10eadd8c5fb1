"""Why a command line will not be re-run: one printable line.

Why: a refusal quotes the words it refuses, and those come from a log, which is untrusted
text; whatever they hold (control characters, a line of any length), the reason stays one
printable line.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..probes.clipping import clip

_MAX_REASON = 200


@dataclass(frozen=True)
class Refusal:
    """Why a command line will not be re-run."""

    reason: str


def printable(reason: str) -> str:
    """One printable line, whatever the quoted words hold, clipped."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in reason)
    return clip(shown, _MAX_REASON)


class Refused(Exception):
    """Raised while judging a command: the line will not run, and why (made printable)."""

    def __init__(self, reason: str) -> None:
        self.reason = printable(reason)
        super().__init__(self.reason)
