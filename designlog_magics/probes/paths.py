"""Verify that a model directory or a dataset file exists, and say what it holds."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .sizes import format_size

_DATASET_SUFFIXES = (".json", ".jsonl", ".ndjson")
_SPLIT_KEYS = ("train", "validation", "valid", "val", "dev", "test")
_JSON_PARSE_LIMIT = 512 * 1024 * 1024  # larger JSON files are not loaded to count records


@dataclass(frozen=True)
class PathFacts:
    """What is at a path: kind, files, sizes, and for datasets records and splits."""

    path: str
    exists: bool
    kind: str  # "directory", "file", "symlink-broken", "missing", "other"
    size_bytes: int = 0
    file_count: int = 0
    names: tuple[str, ...] = ()
    records: int | None = None
    splits: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.exists and self.error is None

    def summary(self) -> str:
        """One line as a person would write it in the log's ``Result:``."""
        if not self.exists:
            return "Missing: path does not exist"
        if self.error:
            return f"Failed: {self.error}"
        if self.kind == "directory":
            if not self.file_count:
                return "Directory exists but is empty"
            shown = ", ".join(self.names[:3])
            more = ", etc." if self.file_count > 3 else ""
            noun = "file" if self.file_count == 1 else "files"
            return (
                f"Directory exists with {self.file_count} {noun} ({shown}{more}), "
                f"{format_size(self.size_bytes)} total"
            )
        text = f"File exists, {format_size(self.size_bytes)}"
        if self.records is not None:
            text += f", {self.records:,} records"
            if self.splits:
                text += " (" + ", ".join(f"{k} {v:,}" for k, v in self.splits.items()) + ")"
        if self.note:
            text += f" ({self.note})"
        return text


def _names_key(name: str) -> tuple[int, str]:
    # Files a reader looks for first: configs, then weights, then the rest.
    priority = 0 if name.startswith("config") else 1 if name.endswith(".safetensors") else 2
    return (priority, name)


def verify_path(
    path: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None
) -> PathFacts:
    """Look at ``path`` without following it anywhere surprising; never raises for I/O."""
    target = Path(path)
    text = str(path)
    try:
        info = target.stat()
    except FileNotFoundError:
        if target.is_symlink():
            return PathFacts(text, False, "symlink-broken", error="broken symbolic link")
        return PathFacts(text, False, "missing", error="No such file or directory")
    except OSError as exc:
        return PathFacts(text, False, "missing", error=exc.strerror or str(exc))
    if target.is_dir():
        return _directory_facts(target, text, progress)
    if target.is_file():
        return _file_facts(target, text, info.st_size)
    return PathFacts(text, True, "other", size_bytes=info.st_size)


def _directory_facts(target: Path, text: str, progress: Callable[[int], None] | None) -> PathFacts:
    top_names: list[str] = []
    total = 0
    count = 0
    error = None
    stack = [target]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if current == target:
                        top_names.append(entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                        continue
                    count += 1
                    try:
                        total += entry.stat(follow_symlinks=True).st_size
                    except OSError:
                        pass
                    if progress and count % 5000 == 0:
                        progress(count)
        except PermissionError as exc:
            error = f"cannot read {exc.filename}: permission denied"
    return PathFacts(
        text,
        True,
        "directory",
        size_bytes=total,
        file_count=count,
        names=tuple(sorted(top_names, key=_names_key)),
        error=error,
    )


def _file_facts(target: Path, text: str, size: int) -> PathFacts:
    if not target.name.lower().endswith(_DATASET_SUFFIXES):
        return PathFacts(text, True, "file", size_bytes=size, file_count=1)
    records, splits, note = dataset_records(target, size)
    return PathFacts(
        text,
        True,
        "file",
        size_bytes=size,
        file_count=1,
        records=records,
        splits=splits,
        note=note,
    )


def dataset_records(
    path: Path, size: int | None = None
) -> tuple[int | None, dict[str, int], str | None]:
    """Count the records of a JSON or JSONL dataset, and its splits when it has them.

    JSON Lines are counted by streaming; a JSON document is loaded only below 512 MB.
    Returns ``(records, splits, note)``; ``records`` is ``None`` when it cannot tell.
    """
    size = path.stat().st_size if size is None else size
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return _count_lines(path), {}, None
    if size > _JSON_PARSE_LIMIT:
        return None, {}, "too large to count records"
    try:
        with path.open("rb") as handle:
            data = json.load(handle)
    except (ValueError, UnicodeDecodeError) as exc:
        if "Extra data" in str(exc):  # JSON Lines under a .json name
            return _count_lines(path), {}, None
        return None, {}, f"not valid JSON: {str(exc).splitlines()[0]}"
    except OSError as exc:
        return None, {}, f"unreadable: {exc.strerror}"
    if isinstance(data, list):
        return len(data), {}, None
    if isinstance(data, dict):
        splits = {k: len(v) for k, v in data.items() if k in _SPLIT_KEYS and isinstance(v, list)}
        if splits:
            return sum(splits.values()), splits, None
        for key in ("data", "examples", "records", "rows"):
            if isinstance(data.get(key), list):
                return len(data[key]), {}, None
        return 1, {}, None
    return None, {}, "JSON is not a list or object of records"


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                count += 1
    return count
