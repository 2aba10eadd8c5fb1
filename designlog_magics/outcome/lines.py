"""One run against one estimate: the line of a check, its verdict in words, its figures shown.

Why: every check (a training time, a speed, an evaluation time, the disk) says the same
things of each run (estimated, actual, actual/estimated, a verdict and why, where the figures
came from), so they are said one way, whether in a table, a log entry's ``Result:`` or JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import DesignLogError
from ..probes.runconfig import RunConfig
from ..probes.sizes import format_size

WITHIN = "within the margin"
UNDER = "UNDER-ESTIMATED"
OVER = "over-estimated"
RUNNING = "still running"
NOT_FOUND = "not found"
NOT_COMPARED = "not compared"
VERDICTS = (WITHIN, UNDER, OVER, RUNNING, NOT_FOUND, NOT_COMPARED)
WAITED = "waited in the queue for nothing"
SIZE_UNITS = {
    "TiB": 1024**4,
    "GiB": 1024**3,
    "MiB": 1024**2,
    "TB": 10**12,
    "GB": 10**9,
    "MB": 10**6,
    "T": 1024**4,
    "G": 1024**3,
    "M": 1024**2,
}


class OutcomeError(DesignLogError):
    """An experiment whose outcome cannot be read: one plain line saying why."""


@dataclass(frozen=True)
class OutcomeLine:
    """One run (or eval job, or the experiment for disk) against one estimate.

    ``estimated`` and ``actual`` are in seconds, it/s, tokens/s or bytes; ``ratio`` is
    actual/estimated (None when there is nothing to compare); ``at_least``: the actual is a
    lower bound (the run was killed at its time limit). ``projected_ratio``: for such a run,
    the ratio at the pace it went, to its planned steps (what the calibration counts).
    """

    key: str
    run: str
    estimated: float | None
    unit: str
    verdict: str
    source: str
    detail: str = ""
    actual: float | None = None
    ratio: float | None = None
    at_least: bool = False
    projected_ratio: float | None = None
    model: str | None = None
    recipe: str | None = None
    config: RunConfig | None = field(default=None, compare=False, repr=False)
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def verdict_text(self) -> str:
        return f"{self.verdict} ({self.detail})" if self.detail else self.verdict

    @property
    def estimated_text(self) -> str:
        return show_value(self.estimated, self.unit)

    @property
    def actual_text(self) -> str:
        if self.actual is None:
            return "unknown"
        shown = show_value(self.actual, self.unit)
        if self.key == "disk" and self.actual < 0.01 * SIZE_UNITS.get(self.unit, 1):
            shown = _bytes(self.actual)
        return f"at least {shown}" if self.at_least else shown

    @property
    def ratio_text(self) -> str:
        if self.ratio is None:
            return ""
        places = (
            2 if self.ratio >= 0.01 or self.ratio <= 0 else 1 - math.floor(math.log10(self.ratio))
        )
        shown = f"{self.ratio:.{places}f}"
        return f"at least {shown}" if self.at_least else shown

    def text(self) -> str:
        """``r8: estimated 15.36 min, actual 16.10 min (1.05 x): within the margin``."""
        head = f"{self.run}: estimated {self.estimated_text}, actual {self.actual_text}"
        if self.ratio is not None:
            head += f" ({self.ratio_text} x)"
        return f"{head}: {self.verdict_text}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "estimated": self.estimated,
            "actual": self.actual,
            "unit": self.unit,
            "ratio": self.ratio,
            "at_least": self.at_least,
            "projected_ratio": self.projected_ratio,
            "verdict": self.verdict,
            "detail": self.detail,
            "text": self.text(),
            "source": self.source,
            "model": self.model,
            "recipe": self.recipe,
        }


_TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}


def _bytes(value: float) -> str:
    """``2.8 MiB``: ``du -h``'s figure (powers of 1024), its unit spelled out."""
    shown = format_size(value)
    return (
        f"{shown[:-1]} {shown[-1]}iB" if shown[-1:] in ("K", "M", "G", "T", "P") else f"{shown} B"
    )


def show_value(value: float | None, unit: str) -> str:
    if value is None:
        return "unknown"
    if unit in _TIME_UNITS:
        return f"{value / _TIME_UNITS[unit]:,.2f} {unit}"
    if unit == "it/s":
        return f"{value:,.2f} it/s"
    if unit == "tokens/s":
        return f"{value:,.0f} tokens/s"
    if unit in SIZE_UNITS:
        return f"{value / SIZE_UNITS[unit]:,.2f} {unit}"
    return f"{value:,.2f} {unit}"
