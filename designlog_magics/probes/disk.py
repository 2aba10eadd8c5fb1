"""Free disk space where checkpoints will be written, as ``df -h`` reports it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from .sizes import format_size, parse_size


@dataclass(frozen=True)
class DiskFacts:
    """Space on the filesystem holding ``path``; ``enough`` only when a need was given."""

    path: str
    available_bytes: int
    total_bytes: int
    need_bytes: int | None = None

    @property
    def enough(self) -> bool | None:
        if self.need_bytes is None:
            return None
        return self.available_bytes >= self.need_bytes

    def summary(self) -> str:
        """``2.1T available`` (df -h's Avail column), with the need when one was given."""
        text = f"{format_size(self.available_bytes)} available"
        if self.need_bytes is None:
            return text
        need = format_size(self.need_bytes)
        if self.enough:
            return f"{text}, enough for the {need} needed"
        return f"Warning: only {text}, {need} needed"


def check_disk(path: str | os.PathLike[str], need: str | int | None = None) -> DiskFacts:
    """Free space for ``path`` (raises ``FileNotFoundError`` if it does not exist)."""
    usage = shutil.disk_usage(path)
    need_bytes = parse_size(need) if need is not None else None
    return DiskFacts(str(path), usage.free, usage.total, need_bytes)
