"""The rules that turn what a scan saw into a speed.

Per epoch: the median of the training rates, leaving out the warmup (the first updates of a
bar, until the rate is in the epoch's steady band: the median less a tolerance from the
spread, 3% to 25%), validation and other non-training bars, the dip after a validation (the
k-th updates after all validations together give a recovery curve, whose first places are
left out until it stays within 1% of the steady rate; k counts tqdm's own rate updates,
which above 10 it/s come only every 0.1 s), and the re-printed final bar (a ``n == total``
print whose rate differs from the first one). For the run: the median over all epochs of
what was kept, weighing every print. Rates are kept in histograms keyed by the printed
rate, so memory stays bounded. Known limit: validations closer together than tqdm needs to
forget one (some 20 of its rate updates) leave every update in a dip, and the result comes
out a little low.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .epochs import DIP_UPDATES, EpochTally
from .rates import median, rate_its, weighted_median
from .report import REASONS, EpochSpeed, SpeedPoint, SpeedReport

POINTS_MAX = 2000  # points for a plot of the rate over the run


def _histogram(counter: Counter[bytes]) -> dict[float, int]:
    values: dict[float, int] = {}
    for token, count in counter.items():
        value = rate_its(token)
        if value > 0:
            values[value] = values.get(value, 0) + count
    return values


def _band(values: dict[float, int], level: float) -> float:
    """Lowest steady rate: the level less a tolerance from the spread (3% to 25%)."""
    deviations: dict[float, int] = {}
    for value, count in values.items():
        d = abs(value - level)
        deviations[d] = deviations.get(d, 0) + count
    mad = weighted_median(deviations.items()) or 0.0
    tolerance = min(0.25, max(0.03, 3.5 * 1.4826 * mad / level))
    return level * (1 - tolerance)


def _warmup_end(head: list[list], floor: float) -> int:
    """First update from which the rate (and the median of the next 9) is in the band."""
    values = [rate_its(h[0]) for h in head]
    for i, value in enumerate(values):
        if value >= floor and median(values[i : i + 9]) >= floor:
            return i
    return len(values)


@dataclass
class EpochResult:
    """One epoch with the rules applied: its speed, what was kept, where its warmup ended."""

    epoch: EpochSpeed
    kept: dict[float, int]  # rate -> prints, for the run's median
    head_values: list[float]
    floor: float | None = None  # lowest steady rate
    warm: int = 0  # the head's first steady update


@dataclass
class _Time:
    """Steps and seconds of training in an epoch's steady segments (see ``_throughput``)."""

    steps: int = 0
    seconds: float = 0
    segments: int = 0  # stretches timed by whole-second elapsed (each off by < 1 s)
    warmup_steps: int = 0

    def add(self, other: _Time) -> None:
        self.steps += other.steps
        self.seconds += other.seconds
        self.segments += other.segments
        self.warmup_steps += other.warmup_steps


def _throughput(acc: EpochTally, warm: int) -> _Time:
    """Steps and seconds after the warmup: the closed segments, the open one, and the head's
    updates from ``warm`` on, cut where a pause came between two of them.

    Each segment's seconds are the difference of two printed elapsed times (whole seconds,
    rounded down), so each is off by less than 1 s: the total is off by less than
    ``segments`` seconds, and the throughput by less than ``segments / seconds``. A short
    epoch whose every update is in the head is timed from the rates instead
    (``_seconds_from_rates``), when that agrees with every printed elapsed time.
    """
    if not acc.steps and acc.seg_n < 0 and 0 <= warm < len(acc.head) - 1:
        seconds = _seconds_from_rates(acc.head, warm)
        if seconds is not None:
            head = acc.head
            return _Time(head[-1][3] - head[warm][3], seconds, 0, head[warm][3])
    time = _Time(acc.steps, acc.seconds, acc.segments)
    if acc.seg_n >= 0 and acc.last_n > acc.seg_n and acc.last_t >= acc.seg_t:
        time.steps += acc.last_n - acc.seg_n
        time.seconds += acc.last_t - acc.seg_t
        time.segments += 1
    head = acc.head
    if head:
        time.warmup_steps = head[min(warm, len(head) - 1)][3]
    open_run = False
    for i in range(warm + 1, len(head)):
        if head[i][5]:
            open_run = False
            continue
        time.steps += head[i][3] - head[i - 1][3]
        time.seconds += max(0, head[i][4] - head[i - 1][4])
        if not open_run:
            time.segments += 1
            open_run = True
    return time


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
            if median(curve[k]) < level * (1 - margin):
                return k + 1
    return 0


def finish_epoch(acc: EpochTally) -> EpochResult:
    """Apply the rules to one epoch: its level, band, warmup end and the dips' length
    (``floor``, the lowest steady rate, tells a second look where the warmup ends)."""
    bulk = _histogram(acc.bulk)
    dips = [_histogram(acc.dip[k]) if k in acc.dip else {} for k in range(DIP_UPDATES)]
    head = [(rate_its(h[0]), h[1], h[2]) for h in acc.head]
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
    level = weighted_median(basis.items())
    if level is None:
        time = _throughput(acc, len(acc.head))
        epoch = EpochSpeed(acc.label, None, 0, excluded, *_its(time))
        return EpochResult(epoch, {}, [v for v, _, _ in head], warm=len(acc.head))
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
        new_level = weighted_median(kept.items())
        if new_level is None:
            break
        level = new_level
    excluded["warmup"] = warm
    excluded["after validation"] = after
    speed = weighted_median(kept.items())
    time = _throughput(acc, warm)
    epoch = EpochSpeed(acc.label, speed, updates if speed is not None else 0, excluded, *_its(time))
    steady_floor = speed * (1 - tolerance) if speed is not None else None
    heads = [v for v, _, _ in head]
    return EpochResult(epoch, kept if speed is not None else {}, heads, steady_floor, warm)


ALPHA = 0.3  # tqdm's default smoothing: its rate is EMA(dn) / EMA(dt), both bias-corrected


def _seconds_from_rates(head: list[list], warm: int) -> float | None:
    """The seconds from update ``warm`` to the last, from tqdm's smoothed rates.

    Below 10 it/s tqdm prints every update (``dn`` = 1), so its rate is 1 / the corrected
    EMA of the step times: ``raw_k = (1 - 0.7**k) / rate_k``, and step k took
    ``(raw_k - 0.7 * raw_(k-1)) / 0.3`` seconds. Summed, the rounding of the printed rates
    (2 decimals) mostly cancels. Used only when the times so found fall within every printed
    elapsed second (else tqdm was set up otherwise, or updates are missing): None then.
    """
    beta = 1 - ALPHA
    raw_before = 0.0
    clock = 0.0
    times = []
    for k, entry in enumerate(head, 1):
        rate = rate_its(entry[0])
        if entry[3] != k or entry[5] or not 0 < rate < 10:
            return None
        raw = (1 - beta**k) / rate
        step = (raw - beta * raw_before) / ALPHA
        if step <= 0:
            return None
        clock += step
        if not entry[4] - 0.05 <= clock < entry[4] + 1.05:
            return None
        times.append(clock)
        raw_before = raw
    return times[-1] - times[warm]


def _its(time: _Time) -> tuple[float | None, int, float]:
    """Throughput, steps and seconds (None when no second of training was counted)."""
    its = time.steps / time.seconds if time.steps > 0 and time.seconds > 0 else None
    return its, time.steps, round(time.seconds, 2)


def build_report(
    name: str,
    epochs: dict[int, EpochTally],
    points: list[tuple],
    mode: str,
    read: int,
    size: int,
    notes: list[str],
) -> SpeedReport:
    """Apply the rules to each epoch a scan saw and add up the run (see the module)."""
    accs = [epochs[k] for k in sorted(epochs)]
    pairs = [(acc, finish_epoch(acc)) for acc in accs]
    pairs = [
        (a, r) for a, r in pairs if r.epoch.speed_its is not None or any(r.epoch.excluded.values())
    ]
    results = [r for _, r in pairs]
    kept: dict[float, int] = {}
    excluded = dict.fromkeys(REASONS, 0)
    updates = 0
    for result in results:
        for value, count in result.kept.items():
            kept[value] = kept.get(value, 0) + count
        for reason, count in result.epoch.excluded.items():
            excluded[reason] += count
        updates += result.epoch.updates
    speed: float | None = weighted_median(kept.items())
    time = _Time()
    warms = {}
    for acc, result in pairs:
        warms[acc.label] = result.warm
        time.add(_throughput(acc, result.warm))
    if speed is None and results:  # never steady: the later half of what there is
        values = [v for r in results for v in r.head_values]
        if values:
            later = values[len(values) // 2 :]
            speed = median(later)
            updates = len(later)
            excluded["warmup"] = max(0, excluded["warmup"] - len(later))
            notes.append("no steady phase after warmup: median of the later updates")
            time = _Time()
            for acc, _ in pairs:
                warms[acc.label] = len(acc.head) // 2
                time.add(_throughput(acc, warms[acc.label]))
    ok = speed is not None
    its = time.steps / time.seconds if ok and time.steps > 0 and time.seconds > 0 else None
    if its is not None:
        bound = time.segments / time.seconds
        if bound > 0.01:
            notes.append(
                f"elapsed is printed in whole seconds: the throughput is within {bound:.0%} "
                f"({time.segments} stretch(es) in {time.seconds:,} s)"
            )
    left_out = {
        "warmup": time.warmup_steps,
        "validation": sum(a.runs for a, _ in pairs),
        "pause": sum(a.pauses for a, _ in pairs),
    }
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
        throughput_its=its,
        training_seconds=float(time.seconds) if its is not None else 0.0,
        steps_counted=time.steps if its is not None else 0,
        left_out=left_out,
        points=_points(points, [a for a, _ in pairs], warms),
    )


def _points(seen: list[tuple], accs: list[EpochTally], warms: dict[int, int]) -> tuple:
    """The updates for a plot, in file order, at most ``POINTS_MAX``: each epoch's head (its
    warmup, then steady), the steady prints sampled by the scan, validations, pauses and the
    epochs' re-printed averages. Sampled prints inside a warmup are left to the head's."""
    points = []
    warm_spans = []
    for acc in accs:
        head = acc.head
        warm = warms.get(acc.label, 0)
        for i, h in enumerate(head):
            kind = "warmup" if i < warm else "steady"
            points.append(SpeedPoint(h[6], h[3], h[4], rate_its(h[0]), kind))
        if head:
            warm_spans.append((head[0][6], head[min(warm, len(head) - 1)][6]))
    for point in seen:
        if point[4] == "steady" and any(lo <= point[0] <= hi for lo, hi in warm_spans):
            continue
        points.append(SpeedPoint(*point))
    points.sort(key=lambda p: p.order)
    unique = [p for i, p in enumerate(points) if not i or p.order != points[i - 1].order]
    if len(unique) <= POINTS_MAX:
        return tuple(unique)
    special = [p for p in unique if p.kind in ("pause", "epoch-average")][: POINTS_MAX // 4]
    rest = [p for p in unique if p.kind not in ("pause", "epoch-average")]
    step = len(rest) / (POINTS_MAX - len(special))
    chosen = [rest[int(i * step)] for i in range(POINTS_MAX - len(special))]
    return tuple(sorted(chosen + special, key=lambda p: p.order))
