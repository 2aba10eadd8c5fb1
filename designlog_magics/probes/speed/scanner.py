"""The tqdm progress prints of a torchtune ``slurm-<id>.out``, sorted into what each epoch saw.

Such a file holds two prints per optimizer step (the update, then a re-render with the
description ``EPOCH|STEP|Loss: X``) joined with ``\\r``, so that an epoch can be one "line"
of hundreds of MB; every other epoch's bar at position 1 (``\\n\\r...\\x1b[A``); ``s/it``
below 1 it/s; a slow start; validation bars, after which the training rate dips (tqdm
smooths it, so the pause shows for a while); the finished bar printed again with the whole
epoch's average; log lines glued to the bars (``grep | tail`` ends with that average, or
with a warmup or dip reading). ``Scanner`` is a state machine fed byte ranges in file
order. On torchtune outputs it takes the rates between events with one C-level ``findall``
into a histogram, and the number of steps from the first and last step of the stretch; only
events (a bar's first print ``<?, ?``: a training bar, a validation, another bar; an epoch's
end ``100%|``, looked for only where the stretch's last training print is at its total) and
what follows them (an epoch's warmup, parsed print by print; the updates after a
validation, one light search each) are looked at closely. Jumps in elapsed within a
stretch (a pause) are found by cutting it at a few prints, not by parsing each. Outputs
without torchtune descriptions (plain tqdm bars, like a job's own training loop) are parsed
print by print, each bar an epoch (numbered as in an ``epoch N`` description when there is
one). Steps are counted once (the re-render is not a new update).
"""

from __future__ import annotations

import re

from .epochs import DIP_UPDATES, PAUSE_MIN_S, PAUSE_STEPS, EpochTally
from .rates import interval_seconds, rate_its

# One tqdm status print: [\r\n][desc: ]pct%|bar| n/total [elapsed<remaining, rate]. A print
# starts with ``\r`` as tqdm writes it, or with ``\n`` once each print is on a line of its own
# (``tr '\r' '\n'``, some launchers, a copy out of a terminal); both forms, and a mix, parse.
_PRINT = re.compile(
    rb"[\r\n](?:([^\r\n]*?): )?[ \d]{2}\d%\|[^|\r\n]*\| (\d+)/(\d+) \[(\d[\d:]*)<[\d:?]+, +"
    rb"(\?it/s|[\d.]+(?:it/s|s/it))\]"
)
TT_DESC = re.compile(rb"(\d+)\|(\d+)\|Loss: ")  # torchtune: f"{epoch}|{step}|Loss: {loss}"
TT_EPOCH = re.compile(rb"[\r\n](\d+)\|\d+\|Loss: ")
_RATE = re.compile(rb", +([\d.]+(?:it/s|s/it))\]")  # between events: training prints only
_ELAPSED = re.compile(rb"\| \d+/\d+ \[(\d[\d:]*)<")  # between events: training prints only
_TT_STEP = re.compile(rb"\|Loss: [^\r\n|]*\|[^\r\n|]*\| (\d+)/(\d+) \[(\d[\d:]*)<")
_TT_PRINT = re.compile(
    rb"[\r\n](\d+)\|(\d+)\|Loss: [^\r\n|]*\|[^\r\n|]*\| (\d+)/(\d+) \[(\d[\d:]*)<[^\]\r\n]*?, +"
    rb"([\d.]+(?:it/s|s/it))\]"
)
# the same print from its step on (a literal first: found faster), for the updates after a
# validation: step, n, total, elapsed, rate
_TT_UPDATE = re.compile(
    rb"\|(\d+)\|Loss: [^\r\n|]*\|[^\r\n|]*\| (\d+)/(\d+) \[(\d[\d:]*)<[^\]\r\n]*?, +"
    rb"([\d.]+(?:it/s|s/it))\]"
)
_ANY_RATE = re.compile(rb", +[\d.]+(?:it/s|s/it)\]")
VALIDATION = re.compile(rb"\s*(?:valid|eval)", re.IGNORECASE)
_EPOCH_WORD = re.compile(rb"epoch\D{0,3}(\d+)", re.IGNORECASE)
LOSS = b"|Loss: "
BAR_START = b"<?, ?"  # only a bar's first print has neither remaining time nor rate
_FULL = b"100%|"
VALID_WORD = b"Validation"
_QUESTION = b"?it/s"
POINTS_MAX = 2000  # points kept for a plot of the rate over the run


class Scanner:
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
        self.epochs: dict[int, EpochTally] = {}
        self.cur: EpochTally | None = None
        self.other: str | None = None  # "validation"/"other bars" while inside such a bar
        self.dip_left = 0
        self.dip_k = -1  # the current update's place after a validation (-1: none)
        self.new_bar = 0  # torchtune: prints to go before a new bar's epoch must show up
        self.bars = 0  # generic: bars seen

    # -- helpers
    def epoch(self, label: int, head_open: bool | None = None) -> EpochTally:
        """The tally of epoch ``label``, begun on first sight (its head open unless said)."""
        acc = self.epochs.get(label)
        if acc is None:
            opened = self.open_heads if head_open is None else head_open
            acc = EpochTally(label, opened, self.floors.get(label))
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
                found = buf.find(LOSS, pos, hi)
                end = hi if found < 0 else print_start(buf, found, pos)
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
            cut = hi if event >= hi else print_start(buf, event, pos)
            if self.dip_left:
                pos = self._dip(buf, pos, hi, cut)
                continue
            end = _bar_end(buf, pos, cut)
            if end >= 0:
                event, cut = end, print_start(buf, end, pos)
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
        last_at = buf.rfind(LOSS, lo, hi)
        last = _TT_STEP.match(buf, last_at, hi) if last_at >= 0 else None
        if first and last:
            n_first, n_last = int(first[1]), int(last[1])
            t_first, t_last = interval_seconds(first[3]), interval_seconds(last[3])
            fastest = max(rate_its(rates[0]), rate_its(rates[len(rates) // 2]), rate_its(rates[-1]))
            self._clock(acc, n_first, t_first, rates[0], first.start())
            # a pause needs more seconds than the steps take even at 10% above the fastest
            # rate seen: only then are the elapsed times looked at one by one
            slack = t_last - t_first - (n_last - n_first) / (1.1 * fastest) if fastest else 1e9
            if t_last - t_first > PAUSE_MIN_S and slack > PAUSE_MIN_S - 1:
                self._pauses_within(buf, hi, acc, fastest, first, last)
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
        self,
        buf: bytes,
        hi: int,
        acc: EpochTally,
        fastest: float,
        first: re.Match[bytes],
        last: re.Match[bytes],
    ) -> None:
        """Jumps in elapsed inside a stretch of plain training (a checkpoint save, a validation
        without a bar). A part whose first and last prints are at most ``limit`` seconds apart
        holds no such jump; a longer one is cut, at the training prints nearest evenly spaced
        bytes, into parts of about ``limit`` seconds each, until a jump lies between two
        prints in a row (a few searches per part instead of parsing every print)."""
        limit = max(PAUSE_MIN_S, PAUSE_STEPS / fastest if fastest else PAUSE_MIN_S)
        search = _TT_STEP.search
        parts = [(first, interval_seconds(first[3]), last, interval_seconds(last[3]))]
        while parts:
            before, t_before, after, t_after = parts.pop()
            if t_after - t_before <= limit:
                continue
            start, end = before.end(), after.start()
            pieces = min(64, int((t_after - t_before) / limit) + 1)
            wide = []  # parts still longer than limit, in file order
            mark, t_mark = before, t_before
            for i in range(1, pieces):
                nxt = search(buf, start + (end - start) * i // pieces, end)
                if nxt is None:
                    break
                if nxt.start() > mark.start():
                    t_next = interval_seconds(nxt[3])
                    if t_next - t_mark > limit:
                        wide.append((mark, t_mark, nxt, t_next))
                    mark, t_mark = nxt, t_next
            if mark is before:  # no print found at the cuts: is there one at all?
                nxt = search(buf, start, end)
                if nxt is None:  # two prints in a row: the jump is a pause
                    acc.split(int(before[1]), t_before, int(after[1]), t_after)
                    rate = _RATE.search(buf, after.end(), hi)
                    token = rate[1] if rate else None
                    self._point(after.start(), int(after[1]), t_after, token, "pause")
                    continue
                mark, t_mark = nxt, interval_seconds(nxt[3])
                wide.append((before, t_before, mark, t_mark))
            if t_after - t_mark > limit:
                wide.append((mark, t_mark, after, t_after))
            parts.extend(reversed(wide))  # the first part is looked at first

    def _sample_points(self, buf: bytes, lo: int, hi: int) -> None:
        """A steady print every ``point_every`` bytes, for a plot (C-level searches only)."""
        while self.next_point < self.base + hi:
            pos = max(lo, self.next_point - self.base)
            self.next_point = self.base + pos + self.point_every
            match = _TT_PRINT.search(buf, pos, hi)
            if match is None:
                break
            _, _, n, _, elapsed, token = match.groups()
            self._point(match.start(), int(n), interval_seconds(elapsed), token, "steady")

    def _point(self, at: int, n: int, t: int, token: bytes | None, kind: str) -> None:
        points = self.points
        rate = rate_its(token) if token is not None and token != _QUESTION else None
        points.append((self.base + at, n, t, rate, kind))
        if len(points) > 4 * POINTS_MAX:
            points[:] = thin(points)

    def _clock(self, acc: EpochTally, n: int, t: int, token: bytes, at: int) -> bool:
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
        """The updates right after a validation, up to the next event (``stop``: bar start,
        end of epoch, validation), with one light search per print.

        Each update goes to the histogram of its place after the validation, then to the
        bulk once the dip is over; this returns where plain training starts again. A print
        this does not expect (a pause, the bar's end, a rate not yet known) is left to the
        careful parser from that print on.
        """
        acc = self.cur
        assert acc is not None
        first = _TT_PRINT.search(buf, lo, stop)
        if first is None or int(first[1]) != acc.label:
            return self._dip_careful(buf, lo, hi, stop)
        pos = lo
        dip, dip_updates, bulk = acc.dip, acc.dip_updates, acc.bulk
        # the state this loop changes, in locals while it runs (written back by _dip_end)
        last_t, last_n, offset = acc.last_t, acc.last_n, acc.offset
        dip_left, dip_k, updates = self.dip_left, self.dip_k, acc.bulk_updates
        total, token = acc.total, acc.step_token
        n = t = 0
        n_seen = elapsed_seen = total_seen = None  # the texts last converted
        for match in _TT_UPDATE.finditer(buf, first.start(), stop):
            step, n_text, total_text, elapsed, rate = match.groups()
            if n_text != n_seen:  # the re-render repeats its update's n and elapsed
                n, n_seen = int(n_text), n_text
            if not dip_left and n != last_n:  # the dip is over: plain again
                total = int(total_seen) if total_seen is not None else total
                self._dip_end(acc, last_t, last_n, offset, dip_left, dip_k, updates, total, token)
                return print_start(buf, match.start(), pos)
            if elapsed != elapsed_seen:
                t, elapsed_seen = interval_seconds(elapsed), elapsed
            at_total = n_text == total_text
            if acc.brk and not at_total:
                # the first update after the validation: a new steady segment
                acc.brk = False
                if acc.seg_n >= 0:
                    acc.close_segment()
                acc.seg_n, acc.seg_t = n, t
                if t > last_t:
                    last_t = t
            elif not 0 <= last_t <= t <= last_t + PAUSE_MIN_S or acc.seg_n < 0 or at_total:
                # a jump in elapsed (a pause?) or the bar's end: parsed carefully
                total = int(total_seen) if total_seen is not None else total
                self._dip_end(acc, last_t, last_n, offset, dip_left, dip_k, updates, total, token)
                return self._dip_careful(buf, print_start(buf, match.start(), pos), hi, stop)
            else:
                last_t = t
            total_seen = total_text
            token = rate
            new = n != last_n
            if n > last_n:
                last_n = n
            gap = int(step) - n
            if gap > offset:
                offset = gap
            if gap < offset:  # a new smoothed rate (the re-render keeps its place)
                if dip_left:
                    dip_k = DIP_UPDATES - dip_left
                    dip_left -= 1
                else:
                    dip_k = -1
            if dip_k >= 0:
                dip[dip_k][rate] += 1
                if new:
                    dip_updates[dip_k][rate] += 1
            else:
                bulk[rate] += 1
                if new:
                    updates += 1
            pos = match.end()
        total = int(total_seen) if total_seen is not None else total
        self._dip_end(acc, last_t, last_n, offset, dip_left, dip_k, updates, total, token)
        if stop >= hi:
            return hi
        return self._detailed(buf, pos, hi, stop=True, min_end=pos)

    def _dip_end(
        self,
        acc: EpochTally,
        last_t: int,
        last_n: int,
        offset: int,
        dip_left: int,
        dip_k: int,
        updates: int,
        total: int,
        token: bytes,
    ) -> None:
        """Write back what ``_dip`` kept in locals."""
        acc.last_t, acc.last_n, acc.offset = last_t, last_n, offset
        self.dip_left, self.dip_k, acc.bulk_updates = dip_left, dip_k, updates
        acc.total, acc.step_token = total, token

    def _dip_careful(self, buf: bytes, lo: int, hi: int, stop: int) -> int:
        """``_dip`` print by print through ``_training``, for what it does not expect.

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
            t = interval_seconds(elapsed)
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
            if desc and VALIDATION.match(desc):
                self._non_training("validation", token, at)
                if torchtune:
                    return match.end()
            elif torchtune:
                described = TT_DESC.match(desc) if desc else None
                if described:
                    step = int(described[2])
                    t = interval_seconds(elapsed)
                    self._training(int(described[1]), n, int(total_text), token, step, t, at)
                elif desc:
                    self._non_training("other bars", token, at)
                    return match.end()
                elif token == _QUESTION:
                    self.new_bar = 8  # a training bar starts; its epoch shows up soon
                # otherwise a bar's first update, before its description: not counted
            else:
                self._generic(desc, n, int(total_text), token, interval_seconds(elapsed), at)
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
                acc.close_head_if_steady()
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
    """Next bar start (``<?, ?``: only a bar's first print has neither remaining time nor
    rate) in a buffer: a training bar, a validation, another bar. Each search runs once per
    occurrence. The end of a bar is found by ``_bar_end``.
    """

    def __init__(self, buf: bytes, hi: int) -> None:
        self.buf = buf
        self.hi = hi
        self.found = -2  # the next occurrence (-1: none left)

    def next(self, pos: int) -> int:
        """The next bar start at or after ``pos`` (``hi`` when there is none)."""
        if self.found != -1 and self.found < pos:
            self.found = self.buf.find(BAR_START, pos, self.hi)
        return self.found if self.found >= 0 else self.hi


def _bar_end(buf: bytes, lo: int, hi: int) -> int:
    """Where the training bar reaches 100% in ``buf[lo:hi]`` (a stretch with no bar start):
    only when its last training print is at ``n == total`` (-1: not here). A bar's re-print
    by ``close()`` comes after the next bar's start, or at the end of the run, after the
    last training print; either way it is found."""
    at = buf.rfind(LOSS, lo, hi)
    if at < 0:
        return -1
    last = _TT_STEP.match(buf, at, hi)
    if last is None or last[1] != last[2]:
        return -1
    return buf.find(_FULL, lo, hi)


def print_start(buf: bytes, at: int, lo: int) -> int:
    """Where the print holding ``at`` starts: its ``\\r``, or ``\\n`` when prints are lines."""
    start = max(buf.rfind(b"\r", lo, at), buf.rfind(b"\n", lo, at))
    return start if start >= 0 else lo


def next_print(buf: bytes, at: int) -> int:
    """The first ``\\r`` or ``\\n`` at or after ``at`` (-1: none)."""
    r = buf.find(b"\r", at)
    n = buf.find(b"\n", at, r if r >= 0 else len(buf))
    return n if n >= 0 else r


def thin(points: list[tuple]) -> list[tuple]:
    """Every other point, keeping each pause and epoch average (bounded memory for a plot)."""
    kept = []
    flip = False
    for point in points:
        flip = not flip
        if flip or point[4] in ("pause", "epoch-average"):
            kept.append(point)
    return kept
