"""How tqdm prints a progress bar into a file that is not a terminal (a SLURM output).

Why: the made-up outputs must carry tqdm's own prints, byte for byte as tqdm writes them:
``{rate:5.2f}it/s`` (``s/it`` below 1 it/s), ``[H:]MM:SS`` times, the 10-column Unicode bar,
the exponential smoothing of the rate (factor 0.3), ``mininterval`` (0.1 s), the padding
spaces written when a line gets shorter, and a bar at position 1 printed as
``\\n\\r...\\x1b[A``.
"""

from __future__ import annotations

_BAR_SYMBOLS = " ▏▎▍▌▋▊▉█"
BAR_WIDTH = 10  # tqdm's bar width when the output is not a terminal (SLURM)
MININTERVAL = 0.1
SMOOTHING = 0.3
UP = "\x1b[A"

MM_SS = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]


def format_interval(seconds: float) -> str:
    """tqdm's ``[H:]MM:SS``."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:d}:{MM_SS[rest]}" if hours else MM_SS[rest]


def format_rate(its: float | None) -> str:
    """tqdm's rate field: ``{r:5.2f}it/s``, or ``{1/r:5.2f}s/it`` below 1 it/s."""
    if not its:
        return "?it/s"
    inverse = 1 / its
    if inverse > 1:
        return f"{inverse:5.2f}s/it"
    return f"{its:5.2f}it/s"


def percent_bar(n: int, total: int) -> str:
    """``" 12%|█▏        | "``: tqdm's percentage and 10-column Unicode bar."""
    frac = n / total
    bar_length, frac_length = divmod(int(frac * BAR_WIDTH * 8), 8)
    bar = _BAR_SYMBOLS[-1] * bar_length
    if bar_length < BAR_WIDTH:
        bar += _BAR_SYMBOLS[frac_length] + " " * (BAR_WIDTH - bar_length - 1)
    return f"{frac * 100:3.0f}%|{bar}| "


def format_bar(n: int, total: int, elapsed: float, its: float | None, desc: str = "") -> str:
    """One tqdm status line as written to a non-terminal (no ``\\r``, no padding).

    ``its=None`` is tqdm's unsmoothed average ``n / elapsed`` (or ``?`` at the start).
    """
    if its is None and elapsed:
        its = n / elapsed
    remaining = format_interval((total - n) / its) if its else "?"
    prefix = f"{desc}: " if desc else ""
    return (
        f"{prefix}{percent_bar(n, total)}{n}/{total} "
        f"[{format_interval(elapsed)}<{remaining}, {format_rate(its)}]"
    )


class Bar:
    """A tqdm bar's printing state: smoothing, mininterval, padding, position."""

    __slots__ = (
        "total",
        "pos",
        "desc",
        "start",
        "last_t",
        "last_n",
        "n",
        "ema_dn",
        "ema_dt",
        "calls",
        "last_len",
        "out",
    )

    def __init__(self, out: list[str], total: int, now: float, pos: int, desc: str = "") -> None:
        self.out = out
        self.total = total
        self.pos = pos
        self.desc = desc
        self.start = self.last_t = now
        self.n = self.last_n = 0
        self.ema_dn = self.ema_dt = 0.0
        self.calls = 0
        self.last_len = 0
        self.show(format_bar(0, total, 0, None, desc))

    def show(self, text: str) -> None:
        pad = self.last_len - len(text)
        self.last_len = len(text)
        if pad > 0:
            text += " " * pad
        if self.pos:
            self.out.append(f"\n\r{text}{UP}")
        else:
            self.out.append(f"\r{text}")

    def rate(self) -> float:
        # tqdm corrects both averages for their start at 0; the correction cancels out
        return self.ema_dn / self.ema_dt

    def update(self, now: float) -> bool:
        """``pbar.update(1)`` at time ``now``: prints only after ``mininterval``."""
        self.n += 1
        dt = now - self.last_t
        if dt < MININTERVAL:
            return False
        dn = self.n - self.last_n
        self.ema_dn = SMOOTHING * dn + (1 - SMOOTHING) * self.ema_dn
        self.ema_dt = SMOOTHING * dt + (1 - SMOOTHING) * self.ema_dt
        self.calls += 1
        self.last_n, self.last_t = self.n, now
        self.refresh(now)
        return True

    def refresh(self, now: float) -> None:
        its = self.rate() if self.calls else None
        self.show(format_bar(self.n, self.total, now - self.start, its, self.desc))

    def close(self, now: float, leave: bool) -> float:
        """tqdm's ``close()``: the overall average (no smoothing), or a cleared line."""
        if leave:
            elapsed = now - self.start
            average = self.n / elapsed
            text = format_bar(self.n, self.total, elapsed, average, self.desc)
            pad = self.last_len - len(text)
            self.out.append(f"\r{text}{' ' * max(pad, 0)}\n")
            return average
        if self.pos:
            self.out.append(f"\n\r{' ' * self.last_len}{UP}")
        else:
            self.out.append(f"\r{' ' * self.last_len}\r")
        return 0.0
