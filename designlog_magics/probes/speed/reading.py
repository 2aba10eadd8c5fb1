"""How an output is read, in bounded memory (reads of at most 4 MiB).

Every way looks twice: the first look gives each epoch's steady band, which tells the
second where the warmup ends. Outputs up to 4 MiB are held in memory and scanned twice.
Larger ones are sampled (``mode="auto"``): steps are in order, so each epoch's first byte is
found by bisection on the epoch number of the descriptions (about 15 reads of 16 KiB each);
64 windows of 32 KiB spread over the run (each epoch its share) are the first look; then
each epoch's start (and the previous epoch's end) is parsed from its first byte until the
rate is in the band, so the warmup is found whatever its length, and the windows after that
point are kept; the file's last 8 KiB close the last epoch. Each window learns from the
16 KiB before it whether it starts in a validation bar or a dip. When something does not fit
(no descriptions at the start or end, epochs out of order or missing, more than 64 epochs),
and with ``mode="full"``, every byte is read in chunks of 4 MiB, after the sampled look for
the bands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..regions import FileRegions
from .epochs import DIP_UPDATES, EpochTally
from .scanner import (
    BAR_START,
    LOSS,
    TT_DESC,
    TT_EPOCH,
    VALID_WORD,
    VALIDATION,
    Scanner,
    next_print,
    print_start,
)
from .stats import finish_epoch

POINTS_MAX = 2000  # points for a plot of the rate: a steady print every size/POINTS_MAX bytes

SMALL_FILE = 4 << 20  # read whole below this
CHUNK = 4 << 20  # full pass: bytes per read
PROBE = 16 << 10  # bisection probe
WINDOW = 32 << 10  # sampled window
CONTEXT = 16 << 10  # read before each window to know the state it starts in
WINDOWS = 64  # windows over the whole run
EDGE = 8 << 10  # read before each epoch start (the previous epoch's last updates)
HEAD_BLOCK = 64 << 10  # sampled mode reads an epoch's start in blocks of this
MAX_SAMPLED_EPOCHS = 64
PROGRESS_EVERY = 0.25  # seconds between progress callbacks


class FileReader:
    """The speed probe's reads of one output, counted (``read``) and reported as progress."""

    def __init__(
        self, regions: FileRegions, progress: Callable[[int, int], None] | None = None
    ) -> None:
        self.regions = regions
        self.size = regions.size
        self.read = 0
        self.progress = progress
        self.last_report = time.monotonic()

    def pread(self, offset: int, length: int, *, keep: bool = True) -> bytes:
        """The bytes at ``[offset, offset + length)`` clipped to the file (see
        ``FileRegions.pread`` for ``keep``)."""
        data = self.regions.pread(offset, length, keep=keep)
        self.read += len(data)
        return data

    def report(self, done: int) -> None:
        """Call ``progress(done, size)``, at most every ``PROGRESS_EVERY`` seconds."""
        if self.progress is None:
            return
        now = time.monotonic()
        if now - self.last_report >= PROGRESS_EVERY:
            self.last_report = now
            self.progress(min(done, self.size), self.size)


def _full_pass(reader: FileReader, flavor: str, floors: dict[int, float]) -> Scanner:
    """Every byte, in chunks; prints are never split: a chunk is scanned up to its last
    ``\\r`` or ``\\n`` and the next chunk is read from there (the few bytes after it are read
    twice, rather than a chunk copied to join them)."""
    scanner = Scanner(flavor, floors=floors, point_every=_point_every(reader.size))
    offset = 0
    size = reader.size
    while offset < size:
        buf = reader.pread(offset, CHUNK, keep=False)
        if not buf:
            break
        scanner.base = offset
        if offset + len(buf) >= size:
            scanner.scan(buf, 0, len(buf))
            break
        cut = max(buf.rfind(b"\r"), buf.rfind(b"\n"))
        if cut <= 0 or len(buf) - cut > (1 << 20):  # no line ends for a long stretch
            cut = len(buf) - 4096
        scanner.scan(buf, 0, cut)
        offset += cut
        reader.report(offset)
    return scanner


def _point_every(size: int) -> int:
    return max(4096, size // POINTS_MAX)


class _Ambiguous(Exception):
    """Sampling cannot be trusted for this file; read it in full."""


def _sampled(reader: FileReader) -> tuple[Scanner, list[str]]:
    """Epoch starts by bisection, each start read in full, windows over the rest.

    Per epoch: the windows first (their rates give the steady band), then the epoch's
    start, read until the rate is in that band, then the windows after that point.
    """
    size = reader.size
    head = reader.pread(0, 256 << 10)
    tail = reader.pread(size - (256 << 10), 256 << 10)
    firsts = TT_EPOCH.search(head)
    lasts = list(TT_EPOCH.finditer(tail))
    if not firsts or not lasts:
        raise _Ambiguous("no torchtune progress at the start or end")
    first, last = int(firsts[1]), int(lasts[-1][1])
    if last < first or last - first >= MAX_SAMPLED_EPOCHS:
        raise _Ambiguous(f"epochs {first}..{last}")
    starts = [0]
    for label in range(first + 1, last + 1):
        starts.append(_epoch_start(reader, label, starts[-1]))
    bounds = starts[1:] + [size]
    scanner = Scanner("torchtune", open_heads=True, point_every=WINDOW // 2)
    total = max(1, size)
    covered = 0
    for i, label in enumerate(range(first, last + 1)):
        begin = starts[i] - EDGE if i else 0
        region_end = max(begin, bounds[i] - EDGE)
        span = region_end - begin
        count = min(max(2, round(WINDOWS * span / total)), span // (2 * WINDOW))
        windows = [
            _window(reader, label, at, at + WINDOW, scanner.points)
            for at in (begin + int(span / count * (j + 0.5)) - WINDOW // 2 for j in range(count))
        ]
        if windows:
            pilot = EpochTally(label, False)
            for _, _, seen in windows:
                pilot.merge(seen)
            floor = finish_epoch(pilot).floor
            if floor is not None:
                scanner.floors[label] = floor
        pos = _read_head(reader, scanner, begin, label, region_end)
        acc = scanner.epochs.get(label)
        if acc is None:
            if bounds[i] - starts[i] > 2 * EDGE:
                raise _Ambiguous(f"epoch {label} not where expected")
            continue
        acc.head_open = False
        for lo, hi, seen in windows:
            if hi <= pos:
                continue  # read with the epoch's start
            if lo < pos:
                lo, hi, seen = _window(reader, label, pos, hi, scanner.points)
            acc.merge(seen)
        covered = max(covered, pos, region_end)
        reader.report(bounds[i])
    _read_span(reader, scanner, max(covered, size - EDGE), size, scanner.cur)
    return scanner, [f"{last - first + 1} epoch(s) located by bisection"]


def _window(
    reader: FileReader, label: int, start: int, end: int, points: list[tuple]
) -> tuple[int, int, EpochTally]:
    """One sampled window, scanned on its own (its state from the bytes before it)."""
    alone = Scanner("torchtune", open_heads=False, points=points, point_every=WINDOW // 2)
    seen = alone.epoch(label, head_open=False)
    stop = _read_span(reader, alone, start, end, seen)
    if alone.cur is not seen or len(alone.epochs) != 1:
        raise _Ambiguous(f"epoch {label} holds other epochs")
    return start, stop, seen


def _probe_epoch(reader: FileReader, offset: int) -> int | None:
    """Epoch of the first torchtune print at or after ``offset``."""
    for length in (PROBE, 256 << 10, 4 << 20):
        found = TT_EPOCH.search(reader.pread(offset, length))
        if found:
            return int(found[1])
        if offset + length >= reader.size:
            return None
    return None


def _epoch_start(reader: FileReader, label: int, lo: int) -> int:
    """Offset of the first print of epoch ``label``'s bar (its ``<?, ?`` start if near)."""
    hi = reader.size
    while hi - lo > PROBE:
        mid = (lo + hi) // 2
        seen = _probe_epoch(reader, mid)
        if seen is None or seen >= label:
            hi = mid
        else:
            lo = mid
    around = max(0, lo - EDGE)
    buf = reader.pread(around, hi - around + 2 * PROBE)
    for found in TT_EPOCH.finditer(buf):
        if int(found[1]) >= label:
            if int(found[1]) != label:
                raise _Ambiguous(f"epoch {label} missing")
            first = found.start()
            bar_start = buf.rfind(BAR_START, 0, first)
            if bar_start >= 0 and first - bar_start < 4096:
                first = print_start(buf, bar_start, 0)
            return around + first
    raise _Ambiguous(f"epoch {label} not found")


def _enter(scanner: Scanner, buf: bytes, before: int, acc: EpochTally | None) -> None:
    """Set the state a span starts in from the ``before`` bytes read ahead of it.

    C-level searches only: the last bar start or validation print, and how many training
    prints followed it, tell whether the span starts inside a validation bar or its dip.
    """
    for seen in scanner.epochs.values():  # a jump in the reading: no pause, no segment across
        seen.close_segment()
        seen.last_t = -1
        seen.brk = False
    scanner.cur = acc
    scanner.other = None
    scanner.dip_left = 0
    scanner.dip_k = -1
    if before <= 0:
        return
    last_train = buf.rfind(LOSS, 0, before)
    marker = max(buf.rfind(BAR_START, 0, before), buf.rfind(VALID_WORD, 0, before))
    if marker < 0:
        return
    start = print_start(buf, marker, 0)
    desc = buf[start : start + 40].lstrip(b"\r\n")
    if VALIDATION.match(desc):
        kind = "validation"
    elif desc.startswith(b" ") or desc.startswith(b"100%") or TT_DESC.match(desc):
        return  # a training bar's first print
    else:
        kind = "other bars"
    if marker > last_train:
        scanner.other = kind
        return
    resumed = buf.find(LOSS, marker, before)
    done = buf.count(LOSS, resumed, before) // 2
    scanner.dip_left = max(0, DIP_UPDATES - done)


def _read_span(
    reader: FileReader,
    scanner: Scanner,
    start: int,
    end: int,
    acc: EpochTally | None,
    enter: bool = True,
) -> int:
    """Scan the prints starting in ``[start, end)``; returns where the next span begins.

    With ``enter``, the state at ``start`` is taken from the bytes before it; without, the
    scanner goes on from the span just scanned.
    """
    if end <= start:
        return start
    before = min(CONTEXT, start) if enter else 0
    base = start - before
    buf = reader.pread(base, before + (end - start) + 4096)
    lo = next_print(buf, before)
    if lo < 0:
        return end
    limit = end - base
    if end >= reader.size:
        hi = len(buf)
    else:
        hi = next_print(buf, limit)
        if hi < 0:
            hi = min(limit, len(buf))
    if hi <= lo:
        return base + max(hi, lo)
    if enter:
        _enter(scanner, buf, before, acc)
    scanner.base = base
    scanner.next_point = max(scanner.next_point, base + lo)
    scanner.scan(buf, lo, hi)
    return base + hi


def _read_head(reader: FileReader, scanner: Scanner, start: int, label: int, end: int) -> int:
    """Read an epoch's start block by block until its warmup is behind (head closed)."""
    pos = max(0, start)
    first = True
    while pos < end:
        pos = _read_span(reader, scanner, pos, min(end, pos + HEAD_BLOCK), scanner.cur, first)
        first = False
        acc = scanner.epochs.get(label)
        if acc is not None and not acc.head_open:
            break
    return pos


@dataclass
class Scan:
    """What reading an output gave: the scanner's epochs and points, the way it was read
    (``"full"`` or ``"sampled"``), notes for the reader, and the file's last 4 KiB."""

    scanner: Scanner
    mode: str
    notes: list[str]
    tail: bytes


def scan_file(reader: FileReader, mode: str) -> Scan:
    """Pick the way to read: small files in memory, else sampled, else every byte.

    Every way looks twice: the first look gives each epoch's steady band, which tells the
    second where the warmup ends (the sampled mode's windows are its first look; the full
    pass uses the sampled result, or the first pass over a small file held in memory).
    """
    size = reader.size
    if size <= SMALL_FILE and mode != "sampled":
        data = reader.pread(0, size)
        flavor = "torchtune" if TT_EPOCH.search(data) else "generic"
        first_look = Scanner(flavor)
        first_look.scan(data, 0, len(data))
        scanner = Scanner(flavor, floors=_floors(first_look), point_every=_point_every(size))
        scanner.scan(data, 0, len(data))
        return Scan(scanner, "full", [], data[-4096:])
    sampled: Scanner | None = None
    progress, reader.progress = reader.progress, reader.progress if mode != "full" else None
    try:
        sampled, notes = _sampled(reader)
    except _Ambiguous as why:
        notes = [f"read in full: {why}"]
    reader.progress = progress
    tail = reader.pread(size - 4096, 4096)
    if sampled is not None and mode != "full":
        return Scan(sampled, "sampled", notes, tail)
    probe = reader.pread(0, 256 << 10) + tail
    flavor = "torchtune" if TT_EPOCH.search(probe) else "generic"
    floors = _floors(sampled) if sampled is not None else {}
    scanner = _full_pass(reader, flavor, floors)
    return Scan(scanner, "full", notes if mode != "full" else [], tail)


def _floors(scanner: Scanner) -> dict[int, float]:
    """Each epoch's lowest steady rate from a first look, to tell when its warmup ends."""
    floors = {}
    for label, acc in scanner.epochs.items():
        floor = finish_epoch(acc).floor
        if floor is not None:
            floors[label] = floor
    return floors
