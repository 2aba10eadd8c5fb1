"""Find a few fixed byte strings in a large file without reading it into memory.

Training outputs can be hundreds of MB, most of it progress bars; the lines a probe wants
hold a fixed key (``tokens_per_second_per_gpu``, ``total time:``). ``bytes.find`` skips the
rest at memory speed, and each hit comes with the bytes around it, so a probe parses only
those windows. A window never spans more than ``back`` bytes before the hit and ``forward``
bytes after it, so a physical line of hundreds of MB (tqdm joins its prints with ``\\r``)
costs no more than a short one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK = 4 << 20


@dataclass(frozen=True)
class Hit:
    """One occurrence of a key: where it is, and the bytes around it."""

    key: bytes
    offset: int  # of the key in the file
    window: bytes  # file bytes [offset - before, offset - before + len(window))
    before: int  # how many bytes of the window come before the key


def scan_hits(
    path: str | Path,
    keys: Sequence[bytes],
    *,
    back: int = 2048,
    forward: int = 2048,
    chunk: int = CHUNK,
) -> Iterator[Hit]:
    """Yield every occurrence of each key in file order (OSError propagates to the caller)."""
    keys = [k for k in keys if k]
    if not keys:
        return
    longest = max(len(k) for k in keys)
    chunk = max(chunk, back + forward + longest + 1)
    with open(path, "rb") as fh:
        buf = b""
        base = 0  # file offset of buf[0]
        done = 0  # hits at file offsets below this were yielded
        eof = False
        while not eof:
            data = fh.read(chunk)
            eof = not data
            buf += data
            found: list[tuple[int, bytes]] = []
            for key in keys:
                i = buf.find(key, max(0, done - base))
                while i >= 0:
                    found.append((i, key))
                    i = buf.find(key, i + 1)
            found.sort()
            pending = None
            for i, key in found:
                if not eof and i + len(key) + forward > len(buf):
                    pending = i
                    break
                start = max(0, i - back)
                yield Hit(key, base + i, buf[start : i + len(key) + forward], i - start)
                done = base + i + 1
            # keep what the next windows may need: the pending hit's context, or the tail
            keep = len(buf) - (back + longest + forward)
            if pending is not None:
                keep = min(keep, pending - back)
            keep = max(0, keep)
            buf = buf[keep:]
            base += keep
