"""One open file read by offset, its head and tail kept for the next probe that asks.

Why: the facts of a prior run come from several probes over one output (the config at its
head, how it ended at its tail, the speed and the tokens/s from sampled regions), and each
would otherwise open the file and read the same head and tail again. ``FileRegions`` is
opened once and handed to each: a read inside the kept head or tail is served from memory,
any other goes to the file. Memory stays bounded (at most ``KEEP_HEAD`` + ``KEEP_TAIL``
bytes kept). The size is the one at opening, so every probe sees the same file even while
a running job appends to it.
"""

from __future__ import annotations

import errno
import os
import stat

KEEP_HEAD = 4 << 20  # a head read from offset 0 up to this long is kept
KEEP_TAIL = 256 << 10  # a tail read to the end up to this long is kept


class FileRegions:
    """Positional reads of one regular file opened once; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open ``path`` (``OSError`` when it cannot be read or is not a regular file; a FIFO
        given by mistake does not block)."""
        self.path = os.fspath(path)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            st = os.fstat(self.fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", self.path)
        except BaseException:
            os.close(self.fd)
            raise
        self.size = st.st_size
        self.mtime = st.st_mtime
        self.disk_bytes = 0  # bytes read from the file (not served from what was kept)
        self._head = b""  # the file's first len(_head) bytes
        self._tail = b""  # the file's last len(_tail) bytes

    def pread(self, offset: int, length: int, *, keep: bool = True) -> bytes:
        """``length`` bytes from ``offset`` (from 0 when it is before the start), clipped to
        the file; a head or tail read is kept for later reads unless ``keep`` is False (a
        full pass's chunks)."""
        offset = max(0, offset)
        end = min(self.size, offset + max(0, length))
        if end <= offset:
            return b""
        if end <= len(self._head):
            return self._head[offset:end]
        tail_at = self.size - len(self._tail)
        if self._tail and offset >= tail_at:
            return self._tail[offset - tail_at : end - tail_at]
        if offset < len(self._head):  # starts in the kept head: only the rest from the file
            rest = self.pread(len(self._head), end - len(self._head), keep=keep)
            return self._head[offset:] + rest
        if self._tail and end > tail_at:  # ends in the kept tail: only the start from the file
            return self._read(offset, tail_at - offset) + self._tail[: end - tail_at]
        data = self._read(offset, end - offset)
        if keep:
            if offset == 0 and len(self._head) < len(data) <= KEEP_HEAD:
                self._head = data
            elif offset + len(data) == self.size and len(self._tail) < len(data) <= KEEP_TAIL:
                self._tail = data
        return data

    def _read(self, offset: int, length: int) -> bytes:
        pieces = []  # more than one only after a short read
        while length > 0:
            piece = os.pread(self.fd, length, offset)
            if not piece:
                break
            pieces.append(piece)
            offset += len(piece)
            length -= len(piece)
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self.disk_bytes += len(data)
        return data

    def close(self) -> None:
        """Close the file (the kept bytes go with it)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self._head = self._tail = b""

    def __enter__(self) -> FileRegions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
