"""What the speed probe returns, and how it reads in the log.

The frozen facts (``SpeedReport``, one ``EpochSpeed`` per epoch, the reasons an update was
left out), the ``Result:`` summary and the notebook's detail, and the ``grep | tail`` a
reader would type instead, for the log's ``Command:`` line.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from ..sizes import format_size

REASONS = ("warmup", "validation", "after validation", "epoch-average", "other bars")


@dataclass(frozen=True)
class EpochSpeed:
    """One epoch (one training bar): its steady speed and what was left out."""

    epoch: int
    speed_its: float | None
    updates: int
    excluded: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SpeedReport:
    """What ``extract_speed`` found; ``ok`` is False when there was no training progress."""

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

    def summary(self) -> str:
        """The log's Result: ``Average speed after warmup: 4.34 it/s (median of ...)``."""
        if not self.ok or self.speed_its is None:
            return f"Failed: {self.error or 'no training progress found'}"
        what = "sampled updates" if self.mode == "sampled" else "updates"
        text = f"Average speed after warmup: {_speed(self.speed_its)} "
        text += f"(median of {self.updates:,} {what}"
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
                left_out = _excluded_text(epoch.excluded)
                lines.append(line + (f"; excluded {left_out})" if left_out else ")"))
        how = "sampled" if self.mode == "sampled" else "every byte"
        read = f"{format_size(self.bytes_read)} of {format_size(self.file_size)}"
        lines.append(f"{read} read ({how})")
        lines.extend(self.notes)
        return "\n".join(lines)


def _speed(its: float) -> str:
    if its < 1:
        return f"{its:.2f} it/s ({1 / its:.2f} s/it)"
    return f"{its:.2f} it/s"


def _excluded_text(excluded: dict[str, int]) -> str:
    return ", ".join(f"{excluded[r]:,} {r}" for r in REASONS if excluded.get(r))


def grep_command(path_as_written: str) -> str:
    """The shell equivalent for the log's ``Command:`` line."""
    quoted = path_as_written if path_as_written.startswith("{") else shlex.quote(path_as_written)
    return f'grep -E "[0-9.]+it/s" {quoted} | tail -20'
