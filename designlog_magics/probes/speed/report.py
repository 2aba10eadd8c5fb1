"""What the speed probe returns, and how it reads in the log.

The frozen facts (``SpeedReport``, one ``EpochSpeed`` per epoch, the reasons an update was
left out), the ``Result:`` summary and the notebook's detail, and the ``grep | tail`` a
reader would type instead, for the log's ``Command:`` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..sizes import format_size

REASONS = ("warmup", "validation", "after validation", "epoch-average", "other bars")


POINT_KINDS = ("warmup", "steady", "validation", "pause", "epoch-average")


class SpeedPoint(NamedTuple):
    """One progress update for a plot of the rate over the run.

    ``order``: the print's byte offset in the file (file order; in sampled mode only the
    parts read have points); ``n`` and ``elapsed_s``: tqdm's counters of its bar (each epoch
    restarts both); ``rate_its``: tqdm's smoothed rate (a validation is marked with the rate
    before it, a pause with the one after; None if unknown); ``kind``: one of ``POINT_KINDS``,
    ``steady`` being the stretch the throughput counts.
    """

    order: int
    n: int
    elapsed_s: int
    rate_its: float | None
    kind: str


@dataclass(frozen=True)
class EpochSpeed:
    """One epoch (one training bar): its steady speed, its throughput, what was left out."""

    epoch: int
    speed_its: float | None
    updates: int
    excluded: dict[str, int] = field(default_factory=dict)
    throughput_its: float | None = None
    steps: int = 0  # steps counted for the throughput
    seconds: float = 0  # their training seconds


@dataclass(frozen=True)
class SpeedReport:
    """What ``extract_speed`` found; ``ok`` is False when there was no training progress.

    ``speed_its`` is the median of tqdm's smoothed rates after warmup; ``throughput_its`` is
    steps per second of training after warmup (tqdm's ``n`` over its elapsed time, pauses
    left out: ``steps_counted`` in ``training_seconds``), the figure a time estimate divides
    by. ``plan_its`` is the throughput where there is one, else the median. ``left_out``:
    warmup steps, validation runs and pauses kept out of the throughput.
    """

    path: str
    ok: bool
    speed_its: float | None
    epochs: tuple[EpochSpeed, ...]
    updates: int
    excluded: dict[str, int]
    mode: str  # "sampled" or "full"
    bytes_read: int
    file_size: int
    error: str | None = None
    notes: tuple[str, ...] = ()
    throughput_its: float | None = None
    training_seconds: float = 0.0
    steps_counted: int = 0
    left_out: dict[str, int] = field(default_factory=dict)
    points: tuple[SpeedPoint, ...] = ()

    @property
    def plan_its(self) -> float | None:
        """The figure to plan with: the throughput when there is one, else the median rate."""
        return self.throughput_its if self.throughput_its is not None else self.speed_its

    def summary(self) -> str:
        """The log's Result, led by the planning figure: ``Throughput after warmup: 6.45 it/s
        (1,980 steps in 307 s of training; tqdm's median rate 7.07 it/s; excluded ...)``."""
        if not self.ok or self.speed_its is None:
            return f"Failed: {self.error or 'no training progress found'}"
        sampled = "sampled " if self.mode == "sampled" else ""
        if self.throughput_its is not None:
            text = f"Throughput after warmup: {_speed(self.throughput_its)} "
            text += f"({self.steps_counted:,} {sampled}steps in "
            text += f"{self.training_seconds:,.0f} s of training; "
            text += f"tqdm's median rate {_speed(self.speed_its)}"
            left_out = _left_out_text(self.left_out)
        else:
            text = f"Average speed after warmup: {_speed(self.speed_its)} "
            text += f"(median of {self.updates:,} {sampled}updates"
            left_out = _excluded_text(self.excluded)
        return text + (f"; excluded {left_out})" if left_out else ")")

    def detail(self) -> str:
        """Per-epoch speeds and how much was read, for the notebook."""
        lines = []
        if len(self.epochs) > 1:
            for epoch in self.epochs:
                if epoch.speed_its is None:
                    lines.append(f"epoch {epoch.epoch}: no steady updates")
                    continue
                line = f"epoch {epoch.epoch}: {_speed(epoch.speed_its)} ({epoch.updates:,} updates"
                if epoch.throughput_its is not None:
                    line += (
                        f"; throughput {_speed(epoch.throughput_its)}, "
                        f"{epoch.steps:,} steps in {epoch.seconds:,} s"
                    )
                left_out = _excluded_text(epoch.excluded)
                lines.append(line + (f"; excluded {left_out})" if left_out else ")"))
        if self.throughput_its is not None and self.speed_its is not None:
            lines.append(
                f"median of {self.updates:,} tqdm rates after warmup: {_speed(self.speed_its)}"
                f" (excluded {_excluded_text(self.excluded) or 'nothing'})"
            )
        how = "sampled" if self.mode == "sampled" else "every byte"
        read = f"{format_size(self.bytes_read)} of {format_size(self.file_size)}"
        lines.append(f"{read} read ({how})")
        lines.extend(self.notes)
        return "\n".join(lines)


def _speed(its: float) -> str:
    if its < 1:
        return f"{its:.2f} it/s ({1 / its:.2f} s/it)"
    return f"{its:.2f} it/s"


def _left_out_text(left_out: dict[str, int]) -> str:
    words = []
    if left_out.get("warmup"):
        words.append(f"{left_out['warmup']:,} warmup")
    if left_out.get("validation"):
        words.append(f"{left_out['validation']:,} validation")
    pauses = left_out.get("pause", 0)
    if pauses:
        words.append(f"{pauses:,} pause" + ("s" if pauses > 1 else ""))
    return ", ".join(words)


def _excluded_text(excluded: dict[str, int]) -> str:
    return ", ".join(f"{excluded[r]:,} {r}" for r in REASONS if excluded.get(r))
