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

from .stats import DIP_UPDATES, _maybe_close_head

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


def _print_start(buf: bytes, at: int, lo: int) -> int:
    start = buf.rfind(b"\r", lo, at)
    return start if start >= 0 else lo
