"""Text cut to fit one line of a report: at most so many characters, ``…`` where it was cut.

Why: what a report quotes from outside (a line of a run's output, a YAML error, a refused
command) can be any length; each place that quotes it cuts it the same way.
"""

from __future__ import annotations

DETAIL_CHARS = 300  # a line quoted from a run's output (how it ended, why its config is bad)


def clip(text: str, limit: int) -> str:
    """``text`` when it has at most ``limit`` characters, else its start and ``…`` in
    ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str, limit: int = DETAIL_CHARS) -> str:
    """``text`` with every run of white space (newlines too) as one space, clipped."""
    return clip(" ".join(text.split()), limit)
