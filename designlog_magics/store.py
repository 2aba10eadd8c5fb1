"""The log file: ``{experiment_dir}/design-experiment.log``, append-only and shared.

Where it is: :func:`find_log_file` is the one answer for every reader and writer. Our location
is ``{experiment_dir}/design-experiment.log``; the later upstream workflow keeps it in
``{experiment_dir}/logs/design-experiment.log``. Readers take ours first, then the upstream one.
A new log is created at ours; an experiment whose log exists only under ``logs/`` (designed with
the upstream workflow) is appended to there, so it keeps one design record, append-only as ever.

Why it is written the way it is:

* Every entry goes to the file in one ``write`` on a descriptor opened with ``O_APPEND``, under
  an exclusive POSIX record lock (``fcntl.lockf``). Record locks are the kind NFS and GPFS
  scratch filesystems honour across machines (``flock`` may not), so two notebooks, a notebook
  and a script, or two nodes never interleave entries.
* Each write is flushed and ``fsync``-ed before the call returns: a planning record that
  vanishes in a crash is worse than a slow append.
* Nothing is ever truncated or rewritten. If the file does not end on an entry boundary (a
  crash cut the last entry), the next append first completes the boundary, so the cut entry
  cannot swallow the new one.
* When the file cannot be written, the entry is kept in a pending queue (in this process) and
  a :class:`LogWriteError` names the path and the reason; the queue is written, in order, before
  the next entry once writing works again.
* Readers follow the file by offset (:class:`LogFollower`), so a panel or ``tail -f`` costs in
  proportion to what is new, not to the length of the log.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from .entry import Entry
from .exceptions import DesignLogError
from .masking import SecretMasker, default_masker
from .textformat import Diagnostic, ParseResult, parse, render

LOG_FILENAME = "design-experiment.log"
UPSTREAM_LOG_DIR = "logs"  # the upstream workflow's {experiment_dir}/logs/design-experiment.log
_READ_CHUNK = 1 << 20

# POSIX record locks belong to the process, not the descriptor: threads of one process do not
# exclude each other with them, and closing *any* descriptor of the file drops the process's
# lock. This lock serialises appends and follower reads inside the process.
_PROCESS_LOCK = threading.RLock()


class LogWriteError(DesignLogError, OSError):
    """The log could not be written; the entry is pending and will be written later."""

    def __init__(self, path: Path, reason: str, pending: int) -> None:
        self.path = path
        self.reason = reason
        self.pending = pending
        super().__init__(
            f"cannot write {path}: {reason} "
            f"({pending} entr{'y' if pending == 1 else 'ies'} pending; they are written "
            f"before the next entry once the log is writable again)"
        )


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "the directory no longer exists"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied (read-only directory or file)"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on device (disk full or quota exceeded)"
    return exc.strerror or str(exc)


def log_locations(experiment_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Where an experiment's design log may be, in the order they are looked at: ours
    (``{experiment_dir}/design-experiment.log``), then the upstream workflow's
    (``{experiment_dir}/logs/design-experiment.log``)."""
    directory = Path(experiment_dir).expanduser()
    return directory / LOG_FILENAME, directory / UPSTREAM_LOG_DIR / LOG_FILENAME


def find_log_file(path: str | os.PathLike[str]) -> Path:
    """The design log of ``path``: an experiment directory or a log file.

    For a directory, the first of :func:`log_locations` that exists; if neither does, ours,
    where a new log is created. Any other path is taken to be the log file itself.
    """
    target = Path(path).expanduser()
    if not target.is_dir():
        return target
    ours, upstream = log_locations(target)
    if not ours.exists() and upstream.exists():
        return upstream
    return ours


class LogFollower:
    """Reads a log incrementally: each :meth:`poll` parses only the bytes added since the last.

    Only whole entries are returned: text after the last entry boundary waits for the rest of
    its entry, unless it already reads as whole entries ending on a complete line (a log whose
    writer left out the blank line after its last entry). If the file shrinks or is replaced,
    the follower starts again from the beginning and :attr:`restarted` is set, since an
    append-only log should never do that.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.offset = 0
        self.lines_read = 0
        self.restarted = False
        self.last_read_bytes = 0
        self.diagnostics: list[Diagnostic] = []
        self._buffer = b""
        self._identity: tuple[int, int] | None = None

    def poll(self) -> list[Entry]:
        """Entries completed since the last call (empty when nothing new or no file yet)."""
        with _PROCESS_LOCK:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return []
            try:
                info = os.fstat(fd)
                identity = (info.st_dev, info.st_ino)
                if self._identity not in (None, identity) or info.st_size < self.offset:
                    self._reset()
                    self.restarted = True
                self._identity = identity
                if info.st_size == self.offset:
                    self.last_read_bytes = 0
                    return self._settled_tail()
                chunks = []
                position = self.offset
                while True:
                    chunk = os.pread(fd, _READ_CHUNK, position)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    position += len(chunk)
            finally:
                os.close(fd)
        first_read = self.offset == 0
        self.last_read_bytes = position - self.offset
        self.offset = position
        data = self._buffer + b"".join(chunks)
        cut = _last_boundary(data)
        if first_read and cut < len(data) and data.endswith(b"\n") and _whole_entries(data[cut:]):
            cut = len(data)  # a last entry written without the blank line after it
        self._buffer = data[cut:]
        if not cut:
            return []
        text = data[:cut].decode("utf-8", errors="replace")
        result = parse(text, first_line=self.lines_read + 1)
        self.lines_read += text.count("\n")
        self.diagnostics.extend(result.diagnostics)
        return result.entries

    def _settled_tail(self) -> list[Entry]:
        """The entries of a tail with no blank line after it, once the file has not grown
        since the last look: a writer that leaves out the blank line is done with them (an
        append cut at a field line on a network filesystem is still growing, and waits)."""
        if not self._buffer.endswith(b"\n") or not _whole_entries(self._buffer):
            return []
        text = self._buffer.decode("utf-8", errors="replace")
        self._buffer = b""
        result = parse(text, first_line=self.lines_read + 1)
        self.lines_read += text.count("\n")
        self.diagnostics.extend(result.diagnostics)
        return result.entries

    def _reset(self) -> None:
        self.offset = 0
        self.lines_read = 0
        self._buffer = b""
        self.diagnostics = []

    @property
    def partial_bytes(self) -> int:
        """Bytes after the last complete entry (a write in progress, or a cut entry)."""
        return len(self._buffer)


def _whole_entries(tail: bytes) -> bool:
    """Whether the text after the last boundary already reads as whole entries: a log written
    by hand or by another tool may end without the blank line this package writes after each
    entry (the next append writes it first). A cut entry (a crash) reads as truncated."""
    result = parse(tail.decode("utf-8", errors="replace"))
    return bool(result.entries) and not result.diagnostics and not result.truncated


def _last_boundary(data: bytes) -> int:
    """Offset just after the last entry boundary: a blank line followed by a header or EOF."""
    end = len(data)
    if data.endswith(b"\n\n"):
        return end
    position = data.rfind(b"\n\n[")
    return position + 2 if position >= 0 else 0


class DesignLog:
    """An experiment's design log: create or resume, append, read, follow.

    The file is :func:`find_log_file` of ``experiment_dir``: ``design-experiment.log`` in it, or
    the upstream workflow's ``logs/design-experiment.log`` when only that one exists (then new
    entries go there). ``filename`` names another file in ``experiment_dir`` instead. Values are
    masked for secrets before they are written (``masker``; ``None`` for the defaults). The
    entries already in the file are loaded when the log is opened.
    """

    def __init__(
        self,
        experiment_dir: str | os.PathLike[str],
        *,
        masker: SecretMasker | None = None,
        filename: str = LOG_FILENAME,
    ) -> None:
        self.experiment_dir = Path(experiment_dir).expanduser()
        self.path = self.experiment_dir / filename
        self.masker = masker or default_masker()
        self.repaired_boundaries = 0
        self._pending: list[Entry] = []
        try:
            self.experiment_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogWriteError(self.path, _reason(exc), 0) from exc
        if self.experiment_dir.exists() and not self.experiment_dir.is_dir():
            raise LogWriteError(self.path, "the experiment path is not a directory", 0)
        if filename == LOG_FILENAME:
            self.path = find_log_file(self.experiment_dir)
        self._follower = LogFollower(self.path)
        self._entries: list[Entry] = []
        self.refresh()

    # -- reading -------------------------------------------------------------------------
    def refresh(self) -> list[Entry]:
        """Read what other writers appended since the last read; return the new entries."""
        new = self._follower.poll()
        if self._follower.restarted:
            self._follower.restarted = False
            self._entries = []
        self._entries.extend(new)
        return new

    @property
    def entries(self) -> list[Entry]:
        """All entries in the file (refreshed), in file order. Pending ones are not included."""
        self.refresh()
        return list(self._entries)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return list(self._follower.diagnostics)

    def read(self) -> ParseResult:
        """Parse the whole file afresh (entries, diagnostics, truncation)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return ParseResult()
        return parse(data.decode("utf-8", errors="replace"))

    def follow(self) -> LogFollower:
        """A new follower at the start of the file (its first poll returns everything)."""
        return LogFollower(self.path)

    # -- writing -------------------------------------------------------------------------
    @property
    def pending(self) -> tuple[Entry, ...]:
        """Entries that could not be written yet, oldest first."""
        return tuple(self._pending)

    def append(self, entry: Entry) -> Entry:
        """Mask and append ``entry`` (after any pending ones); return what was written.

        Raises :class:`LogWriteError` when the file cannot be written; the entry then waits in
        :attr:`pending`.
        """
        masked = self.masker.mask_entry(entry)
        self._pending.append(masked)
        self._write_pending()
        return masked

    def append_many(self, entries: Iterable[Entry]) -> list[Entry]:
        """Append several entries in one locked write."""
        masked = [self.masker.mask_entry(entry) for entry in entries]
        self._pending.extend(masked)
        self._write_pending()
        return masked

    def flush_pending(self) -> int:
        """Write the pending entries now; return how many were written."""
        count = len(self._pending)
        if count:
            self._write_pending()
        return count

    def _write_pending(self) -> None:
        batch = list(self._pending)
        data = "".join(render(entry) for entry in batch).encode("utf-8")
        try:
            self.repaired_boundaries += append_locked(self.path, data)
        except OSError as exc:
            raise LogWriteError(self.path, _reason(exc), len(self._pending)) from exc
        del self._pending[: len(batch)]

    def __repr__(self) -> str:
        return f"DesignLog({str(self.experiment_dir)!r})"


def append_locked(path: Path, data: bytes) -> int:
    """Append ``data`` in one write under an exclusive record lock; fsync; return 1 if the
    file's end had to be repaired to an entry boundary first, else 0."""
    with _PROCESS_LOCK:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                prefix = b""
                if size:
                    tail = os.pread(fd, 2, max(0, size - 2))
                    if tail != b"\n\n" and not (size == 1 and tail == b"\n"):
                        prefix = b"\n" if tail.endswith(b"\n") else b"\n\n"
                payload = prefix + data
                written = os.write(fd, payload)
                while written < len(payload):  # a short write: keep going or raise
                    written += os.write(fd, payload[written:])
                os.fsync(fd)
                return 1 if prefix else 0
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def read_log(path: str | os.PathLike[str]) -> ParseResult:
    """Parse a log file given by path: a file, or an experiment directory holding one in
    either place (:func:`find_log_file`). ``FileNotFoundError`` when there is none."""
    target = find_log_file(path)
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        if not Path(path).expanduser().is_dir():
            raise
        ours, upstream = log_locations(path)
        raise FileNotFoundError(
            errno.ENOENT, f"no {LOG_FILENAME} in {ours.parent} or in {upstream.parent}", str(ours)
        ) from None
    return parse(data.decode("utf-8", errors="replace"))
