"""Files the package writes besides the log (the summary, the scaffolders' plan, a converted
log): each written whole or not at all, and never over an existing file unless asked.

A file is written to a temporary file beside it, flushed and synced, then renamed into place,
so a reader never sees half of it and a failure leaves no temporary file behind. Without
``force`` an existing file is refused, also one that appears while writing (the temporary file
is hard-linked into place, which fails if the name exists). Several files are written together:
every temporary file first, then the renames, so a failure while writing changes none of them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .exceptions import DesignLogError


class FileExists(DesignLogError):
    """The file is there already and was not to be replaced."""


def write_files(files: Sequence[tuple[Path, str]], *, force: bool = False) -> list[Path]:
    """Write each ``(path, text)``; all of them, or (on an ``OSError`` while writing) none.
    Raises :class:`FileExists` for an existing file without ``force``, before writing any."""
    if not force:
        refuse_existing([path for path, _ in files])
    temporaries: list[str] = []
    try:
        for path, text in files:
            temporaries.append(_temporary(path, text))
        for (path, _), temporary in zip(files, temporaries, strict=True):
            _place(temporary, path, force)
    finally:
        for temporary in temporaries:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    return [path for path, _ in files]


def refuse_existing(paths: Sequence[Path]) -> None:
    """Raise :class:`FileExists` naming those of ``paths`` that exist."""
    existing = [str(path) for path in paths if path.exists()]
    if len(existing) == 1:
        raise FileExists(f"{existing[0]} already exists; use --force to replace it")
    if existing:
        raise FileExists(f"{' and '.join(existing)} already exist; use --force to replace them")


def write_file(path: Path, text: str, *, force: bool = False) -> Path:
    """Write one file (see :func:`write_files`)."""
    return write_files([(path, text)], force=force)[0]


def _temporary(path: Path, text: str) -> str:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary


def _place(temporary: str, path: Path, force: bool) -> None:
    if force:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)  # fails if the name appeared meanwhile
    except FileExistsError:
        raise FileExists(f"{path} already exists; use --force to replace it") from None
    except OSError:  # a filesystem without hard links
        if path.exists():
            raise FileExists(f"{path} already exists; use --force to replace it") from None
        os.replace(temporary, path)
