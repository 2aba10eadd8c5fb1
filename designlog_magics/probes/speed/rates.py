"""A tqdm rate and elapsed time as numbers, and the medians the speed is made of.

tqdm prints a rate as ``4.34it/s`` or, below 1 it/s, ``1.25s/it``, and an elapsed time with
``format_interval`` (``MM:SS``, or ``H:MM:SS`` with any number of hours). A run prints the
same few texts millions of times, so each is converted once and kept (up to 100,000 of them).
"""

from __future__ import annotations

from collections.abc import Iterable

_rates: dict[bytes, float] = {}
_clock: dict[bytes, int] = {}
KEPT = 100_000  # converted texts kept per kind


def rate_its(token: bytes) -> float:
    """it/s of a rate as tqdm prints it (``4.34it/s`` -> 4.34, ``1.25s/it`` -> 0.8)."""
    value = _rates.get(token)
    if value is None:
        number = float(token[:-4])
        if token.endswith(b"s/it"):
            number = 1 / number if number else 0.0
        if len(_rates) < KEPT:
            _rates[token] = number
        value = number
    return value


def interval_seconds(text: bytes) -> int:
    """Seconds of tqdm's ``format_interval`` (``01:02`` -> 62, ``1:00:05`` -> 3605)."""
    value = _clock.get(text)
    if value is None:
        value = 0
        for part in text.split(b":"):
            value = value * 60 + int(part)
        if len(_clock) < KEPT:
            _clock[text] = value
    return value


def median(values: Iterable[float]) -> float:
    """The median (the midpoint of the two middle values for an even count)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def weighted_median(pairs: Iterable[tuple[float, int]]) -> float | None:
    """Median of values with counts (the midpoint of the two middle ones for even totals);
    None when the counts add up to nothing."""
    ordered = sorted((v, c) for v, c in pairs if c > 0)
    total = sum(c for _, c in ordered)
    if not total:
        return None
    low_rank, high_rank = (total - 1) // 2, total // 2
    seen = 0
    low = None
    for value, count in ordered:
        if low is None and seen + count > low_rank:
            low = value
        if seen + count > high_rank:
            return (low + value) / 2  # type: ignore[operator]
        seen += count
    return ordered[-1][0]
