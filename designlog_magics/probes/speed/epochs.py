"""What a scan saw of one epoch's training bar, before the rules turn it into a speed.

Rates are kept in histograms keyed by the printed rate (bounded memory); only the first
updates of a bar (its head, until the warmup is behind) are kept in order. The throughput is
counted as steady segments: a segment runs from one training print to another with no pause
(a validation, another bar, a jump in elapsed) between them.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from .rates import median, rate_its

DIP_UPDATES = 30  # updates after a validation that may still show its pause
HEAD_MIN, HEAD_MAX, HEAD_STEP = 160, 1 << 14, 32  # first updates of a bar kept in order
PAUSE_MIN_S = 5  # a jump in elapsed longer than this and than PAUSE_STEPS steps is a pause
PAUSE_STEPS = 10

# one update of a head: [rate token, prints, k after a validation or -1, n, elapsed s,
# a pause before it, byte offset in the file]
HEAD_TOKEN, HEAD_PRINTS, HEAD_K, HEAD_N, HEAD_T, HEAD_BREAK, HEAD_AT = range(7)


class EpochTally:
    """Everything seen of one epoch's training bar: rate histograms, its head, its segments."""

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
        self.head: list[list] = []  # the first updates in order (see HEAD_*)
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
        rate = rate_its(self.step_token)
        return rate > 0 and jump * rate > PAUSE_STEPS * max(1, n - self.last_n)

    def split(self, n_before: int, t_before: int, n_after: int, t_after: int) -> None:
        """A pause between two prints: the open segment ends before it, the next starts after."""
        if self.seg_n >= 0 and n_before > self.seg_n and t_before >= self.seg_t:
            self.steps += n_before - self.seg_n
            self.seconds += t_before - self.seg_t
            self.segments += 1
        self.seg_n, self.seg_t = n_after, t_after
        self.pauses += 1

    def merge(self, other: EpochTally) -> None:
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

    def close_head_if_steady(self) -> None:
        """Stop keeping updates in order once the warmup is behind, checked every 32 updates.

        With the epoch's steady band known (from a first look), once the upper quartile of
        two blocks in a row is in the band (the upper quartile, because after frequent
        validations most updates are still recovering). Otherwise once the rate stops
        rising: the last block's median within 1% of the block before and 2% of the one
        four blocks back.
        """
        size = len(self.head)
        if size >= HEAD_MAX:
            self.head_open = False
        elif size >= HEAD_MIN and size % HEAD_STEP == 0:
            if self.floor is not None:
                if min(self._block_quartile(size, 0), self._block_quartile(size, 1)) >= (
                    self.floor
                ):
                    self.head_open = False
                return
            recent = self._block_median(size, 0)
            if recent <= self._block_median(size, 1) * 1.01:
                if recent <= self._block_median(size, 4) * 1.02:
                    self.head_open = False

    def _block(self, size: int, back: int) -> list[float]:
        end = size - back * HEAD_STEP
        return sorted(rate_its(h[HEAD_TOKEN]) for h in self.head[end - HEAD_STEP : end])

    def _block_median(self, size: int, back: int) -> float:
        return median(self._block(size, back))

    def _block_quartile(self, size: int, back: int) -> float:
        values = self._block(size, back)
        return values[len(values) * 3 // 4]
