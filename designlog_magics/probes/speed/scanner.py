"""The steady training speed (it/s after warmup) of a prior run, from its SLURM output.

What a torchtune ``slurm-<id>.out`` holds: tqdm progress prints, two per optimizer step
(the update, then a re-render with the description ``EPOCH|STEP|Loss: X``), joined with
``\\r`` so that an epoch can be one "line" of hundreds of MB; every other epoch's bar at
position 1 (``\\n\\r...\\x1b[A``); ``s/it`` below 1 it/s; a slow start; validation bars,
after which the training rate dips (tqdm smooths it, so the pause shows for a while); the
finished bar printed again with the whole epoch's average; log lines glued to the bars.
``grep | tail`` ends with that average, or with a warmup or dip reading.

The answer, per epoch: the median of the training rates, leaving out

* the warmup: the first updates of a bar, until the rate is in the epoch's steady band
  (the median less a tolerance from the spread, 3% to 25%);
* validation bars (and other non-training bars);
* the dip after a validation: the k-th updates after all validations together give a
  recovery curve; its first places, until it stays within 1% of the steady rate (k counts
  tqdm's own rate updates, which above 10 it/s come only every 0.1 s);
* the re-printed final bar (a ``n == total`` print whose rate differs from the first one).

For the run: the median over all epochs of what was kept. Steps are counted once (the
re-render is not a new update); the median weighs every print.

How it is read (bounded memory: 4 MiB reads, histograms keyed by the printed rate):

* ``mode="auto"`` (the default) on outputs over 4 MiB does not read the file in full.
  Steps are in order, so each epoch's first byte is found by bisection on the epoch number
  of the descriptions (about 15 reads of 16 KiB each). 64 windows of 32 KiB spread over
  the run (each epoch its share) give a first look at the rates, hence each steady band;
  then each epoch's start (and the previous epoch's end) is parsed from its first byte
  until the rate is in the band, so the warmup is found whatever its length; the windows
  after that point are kept; the file's last 8 KiB close the last epoch. Each window
  learns from the 16 KiB before it whether it starts in a validation bar or a dip. When
  something does not fit (no descriptions at the start or end, epochs out of order or
  missing, more than 64 epochs) it falls back to the full pass.
* ``mode="full"`` reads every byte: the sampled look first (for the bands), then chunks of
  4 MiB. Between events it takes the rates with one C-level ``findall`` into a histogram
  and the number of steps from the first and last step of the stretch; only events (a
  bar's first print ``<?, ?``, an epoch's end ``100%|``, a validation) and what follows
  them (an epoch's warmup, a dip) are parsed print by print.
* Small outputs are held in memory and scanned twice the same way.
* Outputs without torchtune descriptions (plain tqdm bars, like a job's own training
  loop) are parsed print by print in full; each bar is an epoch (numbered as in an
  ``epoch N`` description when there is one).

Known limits: validations closer together than tqdm needs to forget one (some 20 of its
rate updates) leave every update in a dip, and the result comes out a little low.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..sizes import format_size

SMALL_FILE = 4 << 20  # read whole below this
CHUNK = 4 << 20  # full pass: bytes per read
PROBE = 16 << 10  # bisection probe
WINDOW = 32 << 10  # sampled window
CONTEXT = 16 << 10  # read before each window to know the state it starts in
WINDOWS = 64  # windows over the whole run
EDGE = 8 << 10  # read before each epoch start (the previous epoch's last updates)
HEAD_BLOCK = 64 << 10  # sampled mode reads an epoch's start in blocks of this
MAX_SAMPLED_EPOCHS = 64
DIP_UPDATES = 30  # updates after a validation that may still show its pause
HEAD_MIN, HEAD_MAX, HEAD_STEP = 160, 1 << 14, 32  # first updates of a bar kept in order
PROGRESS_EVERY = 0.25  # seconds between progress callbacks

REASONS = ("warmup", "validation", "after validation", "epoch-average", "other bars")

# One tqdm status print: \r[desc: ]pct%|bar| n/total [elapsed<remaining, rate]
_PRINT = re.compile(
    rb"\r(?:([^\r\n]*?): )?[ \d]{2}\d%\|[^|\r\n]*\| (\d+)/(\d+) \[[\d:]+<[\d:?]+, +"
    rb"(\?it/s|[\d.]+(?:it/s|s/it))\]"
)
_TT_DESC = re.compile(rb"(\d+)\|(\d+)\|Loss: ")  # torchtune: f"{epoch}|{step}|Loss: {loss}"
_TT_EPOCH = re.compile(rb"\r(\d+)\|\d+\|Loss: ")
_RATE = re.compile(rb", +([\d.]+(?:it/s|s/it))\]")  # between events: training prints only
_TT_STEP = re.compile(rb"\|Loss: [^\r\n|]*\|[^\r\n|]*\| (\d+)/(\d+) \[")
_TT_PRINT = re.compile(
    rb"\r(\d+)\|(\d+)\|Loss: [^\r\n|]*\|[^\r\n|]*\| (\d+)/(\d+) \[[^\]\r\n]*?, +"
    rb"([\d.]+(?:it/s|s/it))\]"
)
_ANY_RATE = re.compile(rb", +[\d.]+(?:it/s|s/it)\]")
_VALIDATION = re.compile(rb"\s*(?:valid|eval)", re.IGNORECASE)
_EPOCH_WORD = re.compile(rb"epoch\D{0,3}(\d+)", re.IGNORECASE)
_LOSS = b"|Loss: "
_START = b"<?, ?"  # only a bar's first print has neither remaining time nor rate
_FULL = b"100%|"
_VALID_WORD = b"Validation"
_QUESTION = b"?it/s"

_values: dict[bytes, float] = {}


def _value(token: bytes) -> float:
    """it/s of a rate as tqdm prints it (``4.34it/s``, ``1.25s/it``)."""
    value = _values.get(token)
    if value is None:
        number = float(token[:-4])
        if token.endswith(b"s/it"):
            number = 1 / number if number else 0.0
        if len(_values) < 100_000:
            _values[token] = number
        value = number
    return value


# -- facts ---------------------------------------------------------------------------------


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


# -- accumulation --------------------------------------------------------------------------


class _Epoch:
    """Everything seen of one epoch's training bar, before the rules are applied."""

    __slots__ = (
        "label",
        "bulk",
        "bulk_updates",
        "dip",
        "dip_updates",
        "head",
        "head_open",
        "validation",
        "other",
        "averages",
        "last_n",
        "total",
        "full_token",
        "floor",
        "offset",
    )

    def __init__(self, label: int, head_open: bool, floor: float | None = None) -> None:
        self.label = label
        self.bulk: Counter[bytes] = Counter()  # rate -> prints, steady candidates
        self.bulk_updates = 0
        # the k-th update after a validation: rate -> prints, and rate -> updates
        self.dip: defaultdict[int, Counter[bytes]] = defaultdict(Counter)
        self.dip_updates: defaultdict[int, Counter[bytes]] = defaultdict(Counter)
        self.head: list[list] = []  # [rate, prints, k after a validation or -1] per update
        self.head_open = head_open
        self.validation = self.other = self.averages = 0
        self.last_n = 0
        self.total = 0
        self.full_token: bytes | None = None
        self.floor = floor  # lowest steady rate, when known beforehand (closes the head)
        self.offset = -(1 << 62)  # torchtune: global step - n of a re-render

    def merge(self, other: _Epoch) -> None:
        """Add what another scan of the same epoch (a sampled window) saw."""
        self.bulk.update(other.bulk)
        self.bulk_updates += other.bulk_updates
        for k, seen in other.dip.items():
            self.dip[k].update(seen)
        for k, seen in other.dip_updates.items():
            self.dip_updates[k].update(seen)
        self.validation += other.validation
        self.other += other.other
        self.averages += other.averages


class _Scanner:
    """The state machine over progress prints, fed with byte ranges in file order.

    ``torchtune``: fast path between events; ``generic``: every print parsed (bars are
    told apart by their first print or by ``n`` going back).
    """

    def __init__(
        self, flavor: str, open_heads: bool = True, floors: dict[int, float] | None = None
    ) -> None:
        self.flavor = flavor
        self.open_heads = open_heads
        self.floors = floors or {}
        self.epochs: dict[int, _Epoch] = {}
        self.cur: _Epoch | None = None
        self.other: str | None = None  # "validation"/"other bars" while inside such a bar
        self.dip_left = 0
        self.dip_k = -1  # the current update's place after a validation (-1: none)
        self.new_bar = 0  # torchtune: prints to go before a new bar's epoch must show up
        self.bars = 0  # generic: bars seen

    # -- helpers
    def epoch(self, label: int, head_open: bool | None = None) -> _Epoch:
        acc = self.epochs.get(label)
        if acc is None:
            opened = self.open_heads if head_open is None else head_open
            acc = _Epoch(label, opened, self.floors.get(label))
            self.epochs[label] = acc
        return acc

    def _plain(self) -> bool:
        cur = self.cur
        return (
            self.other is None
            and not self.dip_left
            and not self.new_bar
            and cur is not None
            and not cur.head_open
            and self.flavor == "torchtune"
        )

    # -- byte ranges
    def scan(self, buf: bytes, lo: int, hi: int) -> None:
        """Account for the prints starting in ``buf[lo:hi]`` (``hi`` at a print boundary)."""
        if self.flavor != "torchtune":
            self._detailed(buf, lo, hi, stop=False, min_end=hi)
            return
        pos = lo
        events = _Events(buf, hi)
        while pos < hi:
            if self.other is not None:
                found = buf.find(_LOSS, pos, hi)
                end = hi if found < 0 else _print_start(buf, found, pos)
                count = len(_ANY_RATE.findall(buf, pos, end))
                if self.cur is not None:
                    if self.other == "validation":
                        self.cur.validation += count
                    else:
                        self.cur.other += count
                if found < 0:
                    return
                self.other = None
                self.dip_left = DIP_UPDATES
                self.dip_k = -1
                pos = end
                continue
            cur = self.cur
            if cur is None or cur.head_open or self.new_bar:
                pos = self._detailed(buf, pos, hi, stop=True, min_end=pos)
                continue
            event = events.next(pos)
            cut = hi if event >= hi else _print_start(buf, event, pos)
            if self.dip_left:
                pos = self._dip(buf, pos, hi, cut)
                continue
            if cut > pos:
                self._fast(buf, pos, cut)
            if event >= hi:
                return
            pos = self._detailed(buf, cut, hi, stop=True, min_end=event + 1)

    def _fast(self, buf: bytes, lo: int, hi: int) -> None:
        """Plain training between events: one findall for the rates, two searches for steps."""
        rates = _RATE.findall(buf, lo, hi)
        if not rates:
            return
        acc = self.cur
        assert acc is not None
        acc.bulk.update(rates)
        first = _TT_STEP.search(buf, lo, hi)
        last_at = buf.rfind(_LOSS, lo, hi)
        last = _TT_STEP.match(buf, last_at, hi) if last_at >= 0 else None
        if first and last:
            n_first, n_last = int(first[1]), int(last[1])
            start = max(n_first, acc.last_n + 1)
            if n_last >= start:
                acc.bulk_updates += n_last - start + 1
            acc.last_n = max(acc.last_n, n_last)

    def _dip(self, buf: bytes, lo: int, hi: int, stop: int) -> int:
        """The updates right after a validation, with a lighter parser than ``_detailed``.

        Up to the next event (``stop``: bar start, end of epoch, validation) only;
        ``_detailed`` takes over there, or when another epoch shows up.
        """
        acc = self.cur
        assert acc is not None
        pos = lo
        for match in _TT_PRINT.finditer(buf, lo, stop):
            label, step, n, total, token = match.groups()
            n_value = int(n)
            if int(label) != acc.label:  # another epoch: the careful parser switches
                return self._detailed(buf, match.start(), hi, stop=True, min_end=match.end())
            if not self.dip_left and n_value != acc.last_n:
                return match.start()  # the dip is over: plain again
            self._training(acc.label, n_value, int(total), token, int(step))
            pos = match.end()
        if stop >= hi:
            return hi
        return self._detailed(buf, pos, hi, stop=True, min_end=pos)

    def _detailed(self, buf: bytes, lo: int, hi: int, stop: bool, min_end: int) -> int:
        """Parse every print; with ``stop``, return once the state is plain again."""
        torchtune = self.flavor == "torchtune"
        for match in _PRINT.finditer(buf, lo, hi):
            desc, n_text, total_text, token = match.groups()
            n = int(n_text)
            if desc and _VALIDATION.match(desc):
                self._non_training("validation", token)
                if torchtune:
                    return match.end()
            elif torchtune:
                described = _TT_DESC.match(desc) if desc else None
                if described:
                    step = int(described[2])
                    self._training(int(described[1]), n, int(total_text), token, step)
                elif desc:
                    self._non_training("other bars", token)
                    return match.end()
                elif token == _QUESTION:
                    self.new_bar = 8  # a training bar starts; its epoch shows up soon
                # otherwise a bar's first update, before its description: not counted
            else:
                self._generic(desc, n, int(total_text), token)
            if stop and match.end() >= min_end and self._plain():
                return match.end()
        return hi

    def _non_training(self, kind: str, token: bytes) -> None:
        self.other = kind if self.flavor == "torchtune" else None
        self.dip_left = DIP_UPDATES
        self.dip_k = -1
        if token != _QUESTION and self.cur is not None:
            if kind == "validation":
                self.cur.validation += 1
            else:
                self.cur.other += 1

    def _generic(self, desc: bytes | None, n: int, total: int, token: bytes) -> None:
        cur = self.cur
        if token == _QUESTION:  # a new bar
            self._new_bar(desc, total)
            return
        if cur is None or total != cur.total or n < cur.last_n:
            self._new_bar(desc, total)
        self._training(self.cur.label, n, total, token, None)  # type: ignore[union-attr]

    def _new_bar(self, desc: bytes | None, total: int) -> None:
        self.bars += 1
        word = _EPOCH_WORD.search(desc) if desc else None
        label = int(word[1]) if word else self.bars
        if label in self.epochs:
            label = max(self.epochs) + 1
        self.cur = self.epoch(label)
        self.cur.total = total
        self.dip_left = 0

    def _training(self, label: int, n: int, total: int, token: bytes, step: int | None) -> None:
        """One training print. ``step`` is torchtune's global step in the description.

        A step is counted once (tqdm re-renders it after ``set_description``). The place
        after a validation counts tqdm's own updates of its smoothed rate: torchtune's
        update print shows the previous step's description (``step - n`` one less), and
        above 10 it/s tqdm prints (and smooths) only every 0.1 s.
        """
        acc = self.cur
        if acc is None or acc.label != label:
            acc = self.cur = self.epoch(label)
            self.new_bar = 0
        elif self.new_bar:
            self.new_bar -= 1
        if self.other is not None:
            self.other = None
        acc.total = total
        if token == _QUESTION:
            return
        new = n != acc.last_n
        if new:
            acc.last_n = max(acc.last_n, n)
        if step is None:
            smoothed = new
        else:
            gap = step - n
            if gap > acc.offset:
                acc.offset = gap
            smoothed = gap < acc.offset
        if smoothed:  # the re-render keeps its update's place
            self.dip_k = DIP_UPDATES - self.dip_left if self.dip_left else -1
            if self.dip_left:
                self.dip_left -= 1
        if n == total:
            if acc.full_token is None:
                acc.full_token = token
            elif token != acc.full_token:
                acc.averages += 1  # tqdm's close(): the whole epoch's average
                return
        k = self.dip_k
        if acc.head_open:
            if new or not acc.head:
                acc.head.append([token, 1, k])
                _maybe_close_head(acc)
            else:
                acc.head[-1][1] += 1
        elif k >= 0:
            acc.dip[k][token] += 1
            if new:
                acc.dip_updates[k][token] += 1
        else:
            acc.bulk[token] += 1
            if new:
                acc.bulk_updates += 1


class _Events:
    """Next place in a buffer that needs a closer look: a bar's first print (``<?, ?``),
    the end of an epoch (``100%|``), a validation. Each search runs once per occurrence.
    """

    def __init__(self, buf: bytes, hi: int) -> None:
        self.buf = buf
        self.hi = hi
        self.found = [-2, -2, -2]  # next occurrence of each (-1: none left)

    def next(self, pos: int) -> int:
        found = self.found
        for i, marker in enumerate((_START, _FULL, _VALID_WORD)):
            if found[i] != -1 and found[i] < pos:
                found[i] = self.buf.find(marker, pos, self.hi)
        return min((f for f in found if f >= 0), default=self.hi)


def _maybe_close_head(acc: _Epoch) -> None:
    """Stop keeping updates in order once the warmup is behind, checked every 32 updates.

    With the epoch's steady band known (from a first look), once the upper quartile of two
    blocks in a row is in the band (the upper quartile, because after frequent validations
    most updates are still recovering). Otherwise once the rate stops rising: the last
    block's median within 1% of the block before and 2% of the one four blocks back.
    """
    size = len(acc.head)
    if size >= HEAD_MAX:
        acc.head_open = False
    elif size >= HEAD_MIN and size % HEAD_STEP == 0:
        if acc.floor is not None:
            if min(_block_quartile(acc.head, size, 0), _block_quartile(acc.head, size, 1)) >= (
                acc.floor
            ):
                acc.head_open = False
            return
        recent = _block_median(acc.head, size, 0)
        if recent <= _block_median(acc.head, size, 1) * 1.01:
            if recent <= _block_median(acc.head, size, 4) * 1.02:
                acc.head_open = False


def _block(head: list[list], size: int, back: int) -> list[float]:
    end = size - back * HEAD_STEP
    return sorted(_value(h[0]) for h in head[end - HEAD_STEP : end])


def _block_median(head: list[list], size: int, back: int) -> float:
    return _median_of(_block(head, size, back))


def _block_quartile(head: list[list], size: int, back: int) -> float:
    values = _block(head, size, back)
    return values[len(values) * 3 // 4]


def _print_start(buf: bytes, at: int, lo: int) -> int:
    start = buf.rfind(b"\r", lo, at)
    return start if start >= 0 else lo


# -- statistics ----------------------------------------------------------------------------


def _median_of(values: Iterable[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def _weighted_median(pairs: Iterable[tuple[float, int]]) -> float | None:
    """Median of values with counts (the midpoint of the two middle ones for even totals)."""
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


def _histogram(counter: Counter[bytes]) -> dict[float, int]:
    values: dict[float, int] = {}
    for token, count in counter.items():
        value = _value(token)
        if value > 0:
            values[value] = values.get(value, 0) + count
    return values


def _band(values: dict[float, int], level: float) -> float:
    """Lowest steady rate: the level less a tolerance from the spread (3% to 25%)."""
    deviations: dict[float, int] = {}
    for value, count in values.items():
        d = abs(value - level)
        deviations[d] = deviations.get(d, 0) + count
    mad = _weighted_median(deviations.items()) or 0.0
    tolerance = min(0.25, max(0.03, 3.5 * 1.4826 * mad / level))
    return level * (1 - tolerance)


def _warmup_end(head: list[list], floor: float) -> int:
    """First update from which the rate (and the median of the next 9) is in the band."""
    values = [_value(h[0]) for h in head]
    for i, value in enumerate(values):
        if value >= floor and _median_of(values[i : i + 9]) >= floor:
            return i
    return len(values)


@dataclass
class _Result:
    epoch: EpochSpeed
    kept: dict[float, int]  # rate -> prints, for the run's median
    head_values: list[float]
    floor: float | None = None  # lowest steady rate


def _merge(*histograms: dict[float, int]) -> dict[float, int]:
    merged: dict[float, int] = {}
    for histogram in histograms:
        for value, count in histogram.items():
            merged[value] = merged.get(value, 0) + count
    return merged


def _recovered_from(
    dips: list[dict[float, int]], level: float, tolerance: float, head: list[tuple]
) -> int:
    """How many updates after a validation still show its pause.

    The k-th updates after all validations together give the recovery curve (tqdm smooths
    the rate, so it climbs back over some updates); the dip lasts until the curve's median
    stays within 1% of the level (more when few validations were seen).
    """
    curve: list[list[float]] = [[] for _ in dips]
    for k, histogram in enumerate(dips):
        for value, count in histogram.items():
            curve[k].extend([value] * min(count, 1000))
    for value, count, k in head:
        if k >= 0:
            curve[k].extend([value] * count)
    for k in range(len(curve) - 1, -1, -1):
        if curve[k]:
            margin = max(0.01, 0.7 * tolerance / len(curve[k]) ** 0.5)
            if _median_of(curve[k]) < level * (1 - margin):
                return k + 1
    return 0


def _finish(acc: _Epoch) -> _Result:
    """Apply the rules to one epoch: its level, band, warmup end and the dips' length."""
    bulk = _histogram(acc.bulk)
    dips = [_histogram(acc.dip[k]) if k in acc.dip else {} for k in range(DIP_UPDATES)]
    head = [(_value(h[0]), h[1], h[2]) for h in acc.head]
    excluded = dict.fromkeys(REASONS, 0)
    excluded["validation"] = acc.validation
    excluded["other bars"] = acc.other
    excluded["epoch-average"] = acc.averages
    basis = bulk
    if sum(bulk.values()) < 50:  # validations too frequent (or a short epoch)
        late = [d for d in dips if d][-3:]
        basis = _merge(*late) if sum(sum(d.values()) for d in late) >= 10 else {}
        if not basis:
            basis = _merge(bulk, *dips, {v: c for v, c, _ in head})
    level = _weighted_median(basis.items())
    if level is None:
        return _Result(EpochSpeed(acc.label, None, 0, excluded), {}, [v for v, _, _ in head])
    spread = basis if sum(basis.values()) >= 50 else _merge(bulk, *dips)
    kept: dict[float, int] = {}
    warm = after = updates = 0
    for _ in range(2):  # then again with the level of what was kept
        tolerance = 1 - _band(spread or basis, level) / level
        floor = level * (1 - tolerance)
        warm = _warmup_end(acc.head, floor)
        recovered = _recovered_from(dips, level, tolerance, head[warm:])
        kept = dict(bulk)
        updates = acc.bulk_updates
        after = 0
        for value, count, k in head[warm:]:
            if 0 <= k < recovered:
                after += 1
            else:
                kept[value] = kept.get(value, 0) + count
                updates += 1
        for k, histogram in enumerate(dips):
            steps = sum(acc.dip_updates[k].values()) if k in acc.dip_updates else 0
            if k < recovered:
                after += steps
            else:
                kept = _merge(kept, histogram)
                updates += steps
        new_level = _weighted_median(kept.items())
        if new_level is None:
            break
        level = new_level
    excluded["warmup"] = warm
    excluded["after validation"] = after
    speed = _weighted_median(kept.items())
    epoch = EpochSpeed(acc.label, speed, updates if speed is not None else 0, excluded)
    floor = speed * (1 - tolerance) if speed is not None else None
    return _Result(epoch, kept if speed is not None else {}, [v for v, _, _ in head], floor)


# -- reading -------------------------------------------------------------------------------


class _Reader:
    """Positional reads of one open file, counting bytes and reporting progress."""

    def __init__(self, fd: int, size: int, progress: Callable[[int, int], None] | None):
        self.fd = fd
        self.size = size
        self.read = 0
        self.progress = progress
        self.last_report = time.monotonic()

    def pread(self, offset: int, length: int) -> bytes:
        offset = max(0, offset)
        length = max(0, min(length, self.size - offset))
        data = os.pread(self.fd, length, offset) if length else b""
        self.read += len(data)
        return data

    def report(self, done: int) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if now - self.last_report >= PROGRESS_EVERY:
            self.last_report = now
            self.progress(min(done, self.size), self.size)


def _full_pass(reader: _Reader, flavor: str, floors: dict[int, float]) -> _Scanner:
    """Every byte, in chunks; prints are never split (cut at the last ``\\r`` or ``\\n``)."""
    scanner = _Scanner(flavor, floors=floors)
    offset = 0
    carry = b""
    while offset < reader.size:
        data = reader.pread(offset, CHUNK)
        if not data:
            break
        offset += len(data)
        buf = carry + data if carry else data
        if offset >= reader.size:
            scanner.scan(buf, 0, len(buf))
            carry = b""
            break
        cut = max(buf.rfind(b"\r"), buf.rfind(b"\n"))
        if cut <= 0 or len(buf) - cut > (1 << 20):  # no line ends for a long stretch
            cut = len(buf) - 4096
        scanner.scan(buf, 0, cut)
        carry = buf[cut:]
        reader.report(offset)
    if carry:
        scanner.scan(carry, 0, len(carry))
    return scanner


class _Ambiguous(Exception):
    """Sampling cannot be trusted for this file; read it in full."""


def _sampled(reader: _Reader) -> tuple[_Scanner, list[str]]:
    """Epoch starts by bisection, each start read in full, windows over the rest.

    Per epoch: the windows first (their rates give the steady band), then the epoch's
    start, read until the rate is in that band, then the windows after that point.
    """
    size = reader.size
    head = reader.pread(0, 256 << 10)
    tail = reader.pread(size - (256 << 10), 256 << 10)
    firsts = _TT_EPOCH.search(head)
    lasts = list(_TT_EPOCH.finditer(tail))
    if not firsts or not lasts:
        raise _Ambiguous("no torchtune progress at the start or end")
    first, last = int(firsts[1]), int(lasts[-1][1])
    if last < first or last - first >= MAX_SAMPLED_EPOCHS:
        raise _Ambiguous(f"epochs {first}..{last}")
    starts = [0]
    for label in range(first + 1, last + 1):
        starts.append(_epoch_start(reader, label, starts[-1]))
    bounds = starts[1:] + [size]
    scanner = _Scanner("torchtune", open_heads=True)
    total = max(1, size)
    covered = 0
    for i, label in enumerate(range(first, last + 1)):
        begin = starts[i] - EDGE if i else 0
        region_end = max(begin, bounds[i] - EDGE)
        span = region_end - begin
        count = min(max(2, round(WINDOWS * span / total)), span // (2 * WINDOW))
        windows = [
            _window(reader, label, at, at + WINDOW)
            for at in (begin + int(span / count * (j + 0.5)) - WINDOW // 2 for j in range(count))
        ]
        if windows:
            pilot = _Epoch(label, False)
            for _, _, seen in windows:
                pilot.merge(seen)
            floor = _finish(pilot).floor
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
                lo, hi, seen = _window(reader, label, pos, hi)
            acc.merge(seen)
        covered = max(covered, pos, region_end)
        reader.report(bounds[i])
    _read_span(reader, scanner, max(covered, size - EDGE), size, scanner.cur)
    return scanner, [f"{last - first + 1} epoch(s) located by bisection"]


def _window(reader: _Reader, label: int, start: int, end: int) -> tuple[int, int, _Epoch]:
    """One sampled window, scanned on its own (its state from the bytes before it)."""
    alone = _Scanner("torchtune", open_heads=False)
    seen = alone.epoch(label, head_open=False)
    stop = _read_span(reader, alone, start, end, seen)
    if alone.cur is not seen or len(alone.epochs) != 1:
        raise _Ambiguous(f"epoch {label} holds other epochs")
    return start, stop, seen


def _probe_epoch(reader: _Reader, offset: int) -> int | None:
    """Epoch of the first torchtune print at or after ``offset``."""
    for length in (PROBE, 256 << 10, 4 << 20):
        found = _TT_EPOCH.search(reader.pread(offset, length))
        if found:
            return int(found[1])
        if offset + length >= reader.size:
            return None
    return None


def _epoch_start(reader: _Reader, label: int, lo: int) -> int:
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
    for found in _TT_EPOCH.finditer(buf):
        if int(found[1]) >= label:
            if int(found[1]) != label:
                raise _Ambiguous(f"epoch {label} missing")
            first = found.start()
            bar_start = buf.rfind(_START, 0, first)
            if bar_start >= 0 and first - bar_start < 4096:
                first = _print_start(buf, bar_start, 0)
            return around + first
    raise _Ambiguous(f"epoch {label} not found")


def _enter(scanner: _Scanner, buf: bytes, before: int, acc: _Epoch | None) -> None:
    """Set the state a span starts in from the ``before`` bytes read ahead of it.

    C-level searches only: the last bar start or validation print, and how many training
    prints followed it, tell whether the span starts inside a validation bar or its dip.
    """
    scanner.cur = acc
    scanner.other = None
    scanner.dip_left = 0
    scanner.dip_k = -1
    if before <= 0:
        return
    last_train = buf.rfind(_LOSS, 0, before)
    marker = max(buf.rfind(_START, 0, before), buf.rfind(_VALID_WORD, 0, before))
    if marker < 0:
        return
    start = _print_start(buf, marker, 0)
    desc = buf[start : start + 40].lstrip(b"\r\n")
    if _VALIDATION.match(desc):
        kind = "validation"
    elif desc.startswith(b" ") or desc.startswith(b"100%") or _TT_DESC.match(desc):
        return  # a training bar's first print
    else:
        kind = "other bars"
    if marker > last_train:
        scanner.other = kind
        return
    resumed = buf.find(_LOSS, marker, before)
    done = buf.count(_LOSS, resumed, before) // 2
    scanner.dip_left = max(0, DIP_UPDATES - done)


def _read_span(
    reader: _Reader,
    scanner: _Scanner,
    start: int,
    end: int,
    acc: _Epoch | None,
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
    lo = buf.find(b"\r", before)
    if lo < 0:
        return end
    limit = end - base
    if end >= reader.size:
        hi = len(buf)
    else:
        hi = buf.find(b"\r", limit)
        if hi < 0:
            hi = min(limit, len(buf))
    if hi <= lo:
        return base + max(hi, lo)
    if enter:
        _enter(scanner, buf, before, acc)
    scanner.scan(buf, lo, hi)
    return base + hi


def _read_head(reader: _Reader, scanner: _Scanner, start: int, label: int, end: int) -> int:
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


# -- entry point ---------------------------------------------------------------------------


def extract_speed(
    path: str | os.PathLike[str],
    *,
    mode: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> SpeedReport:
    """The steady training speed after warmup in a SLURM output (see the module docstring).

    ``mode``: ``"auto"`` samples large torchtune outputs and reads the rest in full;
    ``"full"`` reads every byte; ``"sampled"`` is ``auto`` without the small-file shortcut.
    ``progress(bytes_done, bytes_total)`` is called at most four times a second.
    Raises ``FileNotFoundError`` (and other ``OSError``) when the file cannot be read.
    """
    if mode not in ("auto", "full", "sampled"):
        raise ValueError(f"mode must be auto, full or sampled, not {mode!r}")
    name = os.fspath(path)
    with open(name, "rb", buffering=0) as handle:
        reader = _Reader(handle.fileno(), os.fstat(handle.fileno()).st_size, progress)
        scanner, used, notes, tail = _scan_file(reader, mode)
    if b"DUE TO TIME LIMIT" in tail or b"CANCELLED AT" in tail:
        notes.append("the job was cancelled (time limit): its last epoch has no final bar")
    return _report(name, scanner, used, reader.read, reader.size, notes)


def _scan_file(reader: _Reader, mode: str) -> tuple[_Scanner, str, list[str], bytes]:
    """Pick the way to read: small files in memory, else sampled, else every byte.

    Every way looks twice: the first look gives each epoch's steady band, which tells the
    second where the warmup ends (the sampled mode's windows are its first look; the full
    pass uses the sampled result, or the first pass over a small file held in memory).
    """
    size = reader.size
    if size <= SMALL_FILE and mode != "sampled":
        data = reader.pread(0, size)
        flavor = "torchtune" if _TT_EPOCH.search(data) else "generic"
        first_look = _Scanner(flavor)
        first_look.scan(data, 0, len(data))
        scanner = _Scanner(flavor, floors=_floors(first_look))
        scanner.scan(data, 0, len(data))
        return scanner, "full", [], data[-4096:]
    sampled: _Scanner | None = None
    progress, reader.progress = reader.progress, reader.progress if mode != "full" else None
    try:
        sampled, notes = _sampled(reader)
    except _Ambiguous as why:
        notes = [f"read in full: {why}"]
    reader.progress = progress
    tail = reader.pread(size - 4096, 4096)
    if sampled is not None and mode != "full":
        return sampled, "sampled", notes, tail
    probe = reader.pread(0, 256 << 10) + tail
    flavor = "torchtune" if _TT_EPOCH.search(probe) else "generic"
    floors = _floors(sampled) if sampled is not None else {}
    scanner = _full_pass(reader, flavor, floors)
    return scanner, "full", notes if mode != "full" else [], tail


def _floors(scanner: _Scanner) -> dict[int, float]:
    """Each epoch's lowest steady rate from a first look, to tell when its warmup ends."""
    floors = {}
    for label, acc in scanner.epochs.items():
        floor = _finish(acc).floor
        if floor is not None:
            floors[label] = floor
    return floors


def _report(
    name: str, scanner: _Scanner, mode: str, read: int, size: int, notes: list[str]
) -> SpeedReport:
    results = [_finish(scanner.epochs[k]) for k in sorted(scanner.epochs)]
    results = [
        r for r in results if r.epoch.speed_its is not None or any(r.epoch.excluded.values())
    ]
    kept: dict[float, int] = {}
    excluded = dict.fromkeys(REASONS, 0)
    updates = 0
    for result in results:
        for value, count in result.kept.items():
            kept[value] = kept.get(value, 0) + count
        for reason, count in result.epoch.excluded.items():
            excluded[reason] += count
        updates += result.epoch.updates
    speed = _weighted_median(kept.items())
    if speed is None and results:  # never steady: the later half of what there is
        values = [v for r in results for v in r.head_values]
        if values:
            later = values[len(values) // 2 :]
            speed = _median_of(later)
            updates = len(later)
            excluded["warmup"] = max(0, excluded["warmup"] - len(later))
            notes.append("no steady phase after warmup: median of the later updates")
    ok = speed is not None
    return SpeedReport(
        path=name,
        ok=ok,
        speed_its=speed,
        epochs=tuple(r.epoch for r in results),
        updates=updates,
        excluded={r: c for r, c in excluded.items()},
        mode=mode,
        bytes_read=read,
        file_size=size,
        error=None if ok else f"no training progress found in {name}",
        notes=tuple(notes),
    )
