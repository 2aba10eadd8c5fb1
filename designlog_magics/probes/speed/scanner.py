"""The tqdm progress prints of a torchtune ``slurm-<id>.out``, sorted into what each epoch saw.

Such a file holds two prints per optimizer step (the update, then a re-render with the
description ``EPOCH|STEP|Loss: X``) joined with ``\\r``, so that an epoch can be one "line"
of hundreds of MB; every other epoch's bar at position 1 (``\\n\\r...\\x1b[A``); ``s/it``
below 1 it/s; a slow start; validation bars, after which the training rate dips (tqdm
smooths it, so the pause shows for a while); the finished bar printed again with the whole
epoch's average; log lines glued to the bars (``grep | tail`` ends with that average, or
with a warmup or dip reading). ``_Scanner`` is a state machine fed byte ranges in file
order. On torchtune outputs it takes the rates between events with one C-level ``findall``
into a histogram, and the number of steps from the first and last step of the stretch; only
events (a bar's first print ``<?, ?``, an epoch's end ``100%|``, a validation) and what
follows them (an epoch's warmup, a dip) are parsed print by print. Outputs without torchtune
descriptions (plain tqdm bars, like a job's own training loop) are parsed print by print,
each bar an epoch (numbered as in an ``epoch N`` description when there is one). Steps are
counted once (the re-render is not a new update).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from .stats import DIP_UPDATES, _maybe_close_head, _value

# One tqdm status print: [\r\n][desc: ]pct%|bar| n/total [elapsed<remaining, rate]. A print
# starts with ``\r`` as tqdm writes it, or with ``\n`` once each print is on a line of its own
# (``tr '\r' '\n'``, some launchers, a copy out of a terminal); both forms, and a mix, parse.
_PRINT = re.compile(
    rb"[\r\n](?:([^\r\n]*?): )?[ \d]{2}\d%\|[^|\r\n]*\| (\d+)/(\d+) \[(\d[\d:]*)<[\d:?]+, +"
    rb"(\?it/s|[\d.]+(?:it/s|s/it))\]"
)
_TT_DESC = re.compile(rb"(\d+)\|(\d+)\|Loss: ")  # torchtune: f"{epoch}|{step}|Loss: {loss}"
_TT_EPOCH = re.compile(rb"[\r\n](\d+)\|\d+\|Loss: ")
_RATE = re.compile(rb", +([\d.]+(?:it/s|s/it))\]")  # between events: training prints only
_ELAPSED = re.compile(rb"\| \d+/\d+ \[(\d[\d:]*)<")  # between events: training prints only
_TT_STEP = re.compile(rb"\|Loss: [^\r\n|]*\|[^\r\n|]*\| (\d+)/(\d+) \[(\d[\d:]*)<")
_TT_PRINT = re.compile(
    rb"[\r\n](\d+)\|(\d+)\|Loss: [^\r\n|]*\|[^\r\n|]*\| (\d+)/(\d+) \[(\d[\d:]*)<[^\]\r\n]*?, +"
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
PAUSE_MIN_S = 5  # a jump in elapsed longer than this and than PAUSE_STEPS steps is a pause
PAUSE_STEPS = 10
POINTS_MAX = 2000  # points kept for a plot of the rate over the run

_clock: dict[bytes, int] = {}


def _seconds(text: bytes) -> int:
    """Seconds of tqdm's ``format_interval`` (``MM:SS``, or ``H:MM:SS`` with any number of
    hours; tqdm has no days form), cached like the rates."""
    value = _clock.get(text)
    if value is None:
        value = 0
        for part in text.split(b":"):
            value = value * 60 + int(part)
        if len(_clock) < 100_000:
            _clock[text] = value
    return value


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
        "seg_n",
        "seg_t",
        "last_t",
        "step_token",
        "steps",
        "seconds",
        "runs",
        "pauses",
        "brk",
        "segments",
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
        # throughput: the open steady segment starts at (seg_n, seg_t) (-1: none) and ends at
        # (last_n, last_t); closed segments add up in steps and seconds
        self.seg_n = self.seg_t = self.last_t = -1
        self.step_token = b""  # the rate at the last training print (b"": unknown)
        self.steps = 0
        self.seconds = 0
        self.runs = self.pauses = 0  # validation runs and pauses (jumps in elapsed)
        self.brk = False  # a validation or another bar since the last training print
        self.segments = 0  # closed segments (each adds at most 1 s of rounding to seconds)

    def close_segment(self) -> None:
        """End the open steady segment at the last training print (before a pause or a jump
        in the reading)."""
        if self.seg_n >= 0 and self.last_t >= self.seg_t and self.last_n > self.seg_n:
            self.steps += self.last_n - self.seg_n
            self.seconds += self.last_t - self.seg_t
            self.segments += 1
        self.seg_n = self.seg_t = -1

    def is_pause(self, n: int, t: int) -> bool:
        """Whether elapsed jumped far more than the steps since the last print take."""
        jump = t - self.last_t
        if jump <= PAUSE_MIN_S or self.last_t < 0 or not self.step_token:
            return False
        rate = _value(self.step_token)
        return rate > 0 and jump * rate > PAUSE_STEPS * max(1, n - self.last_n)

    def split(self, n_before: int, t_before: int, n_after: int, t_after: int) -> None:
        """A pause between two prints: the open segment ends before it, the next starts after."""
        if self.seg_n >= 0 and n_before > self.seg_n and t_before >= self.seg_t:
            self.steps += n_before - self.seg_n
            self.seconds += t_before - self.seg_t
            self.segments += 1
        self.seg_n, self.seg_t = n_after, t_after
        self.pauses += 1

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
        other.close_segment()
        self.steps += other.steps
        self.seconds += other.seconds
        self.runs += other.runs
        self.pauses += other.pauses
        self.segments += other.segments


class _Scanner:
    """The state machine over progress prints, fed with byte ranges in file order.

    ``torchtune``: fast path between events; ``generic``: every print parsed (bars are
    told apart by their first print or by ``n`` going back).
    """

    def __init__(
        self,
        flavor: str,
        open_heads: bool = True,
        floors: dict[int, float] | None = None,
        points: list[tuple] | None = None,
        point_every: int = 1 << 62,
    ) -> None:
        self.flavor = flavor
        # (offset, n, elapsed s, rate, kind) for a plot; a steady print every point_every bytes
        self.points: list[tuple] = [] if points is None else points
        self.point_every = max(1, point_every)
        self.next_point = 0
        self.base = 0  # file offset of the buffer being scanned
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
            t_first, t_last = _seconds(first[3]), _seconds(last[3])
            fastest = max(_value(rates[0]), _value(rates[len(rates) // 2]), _value(rates[-1]))
            self._clock(acc, n_first, t_first, rates[0], first.start())
            # a pause needs more seconds than the steps take even at 10% above the fastest
            # rate seen: only then are the elapsed times looked at one by one
            slack = t_last - t_first - (n_last - n_first) / (1.1 * fastest) if fastest else 1e9
            if t_last - t_first > PAUSE_MIN_S and slack > PAUSE_MIN_S - 1:
                self._pauses_within(buf, lo, hi, acc, fastest, t_last - t_first)
            if t_last > acc.last_t:
                acc.last_t = t_last
            start = max(n_first, acc.last_n + 1)
            if n_last >= start:
                acc.bulk_updates += n_last - start + 1
            acc.last_n = max(acc.last_n, n_last)
            acc.step_token = rates[-1]
        if self.next_point < self.base + hi:
            self._sample_points(buf, lo, hi)

    def _pauses_within(
        self, buf: bytes, lo: int, hi: int, acc: _Epoch, fastest: float, span: int
    ) -> None:
        """Jumps in elapsed inside a stretch of plain training (a checkpoint save, a validation
        without a bar): the distinct elapsed values in order, then a closer look at each jump.
        When fewer seconds are missing from them than a pause would skip, there is none."""
        limit = max(PAUSE_MIN_S, PAUSE_STEPS / fastest if fastest else PAUSE_MIN_S)
        distinct = dict.fromkeys(_ELAPSED.findall(buf, lo, hi))
        if span + 1 - len(distinct) < limit - 1:
            return
        before = -1
        before_text = b""
        for text in distinct:
            second = _seconds(text)
            if before >= 0 and second - before > limit:
                after_at = buf.find(b"[" + text + b"<", lo, hi)
                before_at = buf.rfind(b"[" + before_text + b"<", lo, after_at)
                after = _TT_STEP.search(buf, _print_start(buf, after_at, lo), hi)
                prior = _TT_STEP.search(buf, _print_start(buf, before_at, lo), hi)
                if after and prior:
                    acc.split(int(prior[1]), before, int(after[1]), second)
                    rate = _RATE.search(buf, after.end(), hi)
                    token = rate[1] if rate else None
                    self._point(after.start(), int(after[1]), second, token, "pause")
            before, before_text = second, text

    def _sample_points(self, buf: bytes, lo: int, hi: int) -> None:
        """A steady print every ``point_every`` bytes, for a plot (C-level searches only)."""
        while self.next_point < self.base + hi:
            pos = max(lo, self.next_point - self.base)
            self.next_point = self.base + pos + self.point_every
            match = _TT_PRINT.search(buf, pos, hi)
            if match is None:
                break
            _, _, n, _, elapsed, token = match.groups()
            self._point(match.start(), int(n), _seconds(elapsed), token, "steady")

    def _point(self, at: int, n: int, t: int, token: bytes | None, kind: str) -> None:
        points = self.points
        rate = _value(token) if token is not None and token != _QUESTION else None
        points.append((self.base + at, n, t, rate, kind))
        if len(points) > 4 * POINTS_MAX:
            points[:] = _thin(points)

    def _clock(self, acc: _Epoch, n: int, t: int, token: bytes, at: int) -> bool:
        """The time of a training print: a pause since the last one (a validation, another
        bar, a jump in elapsed) ends the open steady segment. True after such a break."""
        brk = acc.brk
        pause = not brk and acc.is_pause(n, t)
        if pause:
            acc.pauses += 1
            self._point(at, n, t, token, "pause")
        acc.brk = False
        if not acc.head_open:  # the head's segments are cut at its warmup end later
            if (brk or pause) and acc.seg_n >= 0:
                acc.close_segment()
            if acc.seg_n < 0:
                acc.seg_n, acc.seg_t = n, t
        if t > acc.last_t:
            acc.last_t = t
        return brk or pause

    def _dip(self, buf: bytes, lo: int, hi: int, stop: int) -> int:
        """The updates right after a validation, with a lighter parser than ``_detailed``.

        Up to the next event (``stop``: bar start, end of epoch, validation) only;
        ``_detailed`` takes over there, or when another epoch shows up.
        """
        acc = self.cur
        assert acc is not None
        pos = lo
        for match in _TT_PRINT.finditer(buf, lo, stop):
            label, step, n, total, elapsed, token = match.groups()
            n_value = int(n)
            if int(label) != acc.label:  # another epoch: the careful parser switches
                return self._detailed(buf, match.start(), hi, stop=True, min_end=match.end())
            if not self.dip_left and n_value != acc.last_n:
                return match.start()  # the dip is over: plain again
            t = _seconds(elapsed)
            self._training(acc.label, n_value, int(total), token, int(step), t, match.start())
            pos = match.end()
        if stop >= hi:
            return hi
        return self._detailed(buf, pos, hi, stop=True, min_end=pos)

    def _detailed(self, buf: bytes, lo: int, hi: int, stop: bool, min_end: int) -> int:
        """Parse every print; with ``stop``, return once the state is plain again."""
        torchtune = self.flavor == "torchtune"
        for match in _PRINT.finditer(buf, lo, hi):
            desc, n_text, total_text, elapsed, token = match.groups()
            n = int(n_text)
            at = match.start()
            if desc and _VALIDATION.match(desc):
                self._non_training("validation", token, at)
                if torchtune:
                    return match.end()
            elif torchtune:
                described = _TT_DESC.match(desc) if desc else None
                if described:
                    step = int(described[2])
                    t = _seconds(elapsed)
                    self._training(int(described[1]), n, int(total_text), token, step, t, at)
                elif desc:
                    self._non_training("other bars", token, at)
                    return match.end()
                elif token == _QUESTION:
                    self.new_bar = 8  # a training bar starts; its epoch shows up soon
                # otherwise a bar's first update, before its description: not counted
            else:
                self._generic(desc, n, int(total_text), token, _seconds(elapsed), at)
            if stop and match.end() >= min_end and self._plain():
                return match.end()
        return hi

    def _non_training(self, kind: str, token: bytes, at: int) -> None:
        self.other = kind if self.flavor == "torchtune" else None
        self.dip_left = DIP_UPDATES
        self.dip_k = -1
        cur = self.cur
        if cur is not None and not cur.brk:  # a new pause: the steady segment ends here
            cur.brk = True
            if kind == "validation":
                cur.runs += 1
            mark = kind if kind == "validation" else "pause"
            self._point(at, cur.last_n, cur.last_t, cur.step_token or None, mark)
        if token != _QUESTION and self.cur is not None:
            if kind == "validation":
                self.cur.validation += 1
            else:
                self.cur.other += 1

    def _generic(
        self, desc: bytes | None, n: int, total: int, token: bytes, t: int, at: int
    ) -> None:
        cur = self.cur
        if token == _QUESTION:  # a new bar
            self._new_bar(desc, total)
            return
        if cur is None or total != cur.total or n < cur.last_n:
            self._new_bar(desc, total)
        self._training(self.cur.label, n, total, token, None, t, at)  # type: ignore[union-attr]

    def _new_bar(self, desc: bytes | None, total: int) -> None:
        self.bars += 1
        word = _EPOCH_WORD.search(desc) if desc else None
        label = int(word[1]) if word else self.bars
        if label in self.epochs:
            label = max(self.epochs) + 1
        self.cur = self.epoch(label)
        self.cur.total = total
        self.dip_left = 0

    def _training(
        self, label: int, n: int, total: int, token: bytes, step: int | None, t: int, at: int
    ) -> None:
        """One training print. ``step`` is torchtune's global step in the description, ``t``
        the bar's elapsed seconds, ``at`` where the print starts in the buffer.

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
        average = n == total and acc.full_token is not None and token != acc.full_token
        brk = False
        if not average:  # close() re-prints the bar later, its elapsed after the pauses
            last_t = acc.last_t
            if (
                not acc.brk
                and 0 <= last_t <= t <= last_t + PAUSE_MIN_S
                and (acc.head_open or acc.seg_n >= 0)
            ):
                acc.last_t = t  # the common case of _clock: no pause
            else:
                brk = self._clock(acc, n, t, token, at)
            acc.step_token = token
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
                self._point(at, n, t, token, "epoch-average")
                return
        k = self.dip_k
        if acc.head_open:
            if new or not acc.head:
                acc.head.append([token, 1, k, n, t, brk, self.base + at])
                _maybe_close_head(acc)
                if not acc.head_open:  # steady from here on: the segment starts here
                    acc.seg_n, acc.seg_t = n, t
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


def _print_start(buf: bytes, at: int, lo: int) -> int:
    """Where the print holding ``at`` starts: its ``\r``, or ``\n`` when prints are lines."""
    start = max(buf.rfind(b"\r", lo, at), buf.rfind(b"\n", lo, at))
    return start if start >= 0 else lo


def _next_print(buf: bytes, at: int) -> int:
    """The first ``\r`` or ``\n`` at or after ``at`` (-1: none)."""
    r = buf.find(b"\r", at)
    n = buf.find(b"\n", at, r if r >= 0 else len(buf))
    return n if n >= 0 else r


def _thin(points: list[tuple]) -> list[tuple]:
    """Every other point, keeping each pause and epoch average (bounded memory for a plot)."""
    kept = []
    flip = False
    for point in points:
        flip = not flip
        if flip or point[4] in ("pause", "epoch-average"):
            kept.append(point)
    return kept
