"""How long a torchtune run trained, by tqdm's own clock, from its SLURM output.

Why: an estimate is checked against what the run took, and the run's output already says
it. torchtune's recipes make one tqdm bar per epoch (``pbar = tqdm(total=steps_per_epoch)``)
and describe it after each step with ``f"{curr_epoch + 1}|{global_step}|Loss: {loss}"``
(``recipes/lora_finetune_single_device.py``). tqdm prints ``{desc}: {percentage:3.0f}%|{bar}|
{n}/{total} [{elapsed}<{remaining}, {rate}]`` (``tqdm/std.py`` ``format_meter``), ``elapsed``
being ``format_interval`` of the seconds since the bar was made: ``MM:SS`` or ``H:MM:SS``,
whole seconds rounded down. A bar's last print is its largest elapsed: the print of its
close, when the next epoch's bar replaces it (after the epoch's checkpoint save) or when the
job exits, or, in a run killed at its time limit, the last step it made.

The training time is the sum, over epochs, of the largest elapsed printed for that epoch's
bar: every step, validation and checkpoint save between the first bar's start and the last
bar's last print; not the start-up before it (model and data loading) nor anything after
it. Each epoch's figure is short by less than a second (tqdm rounds down).

The file is read in blocks, so memory stays bounded; a block whose first and last bar
prints are of the same epoch costs two searches, not a scan of every print, and a block
where the epoch changes is halved until each half is one epoch's (or small enough to scan).
A bar is taken to be all of one epoch between its first and last print (a job that started
over in the same file, epoch 1 again after epoch 2, is read by its largest elapsed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

BLOCK = 8 << 20
SCAN = 256 << 10  # a part where the epoch changes is scanned print by print below this
LONGEST_PRINT = 64 << 10  # a print longer than this is not a tqdm bar

# The description, the bar, the counts, then the elapsed time. Bounded repeats, as in
# runend: a hostile file cannot make a search quadratic in a long line.
_BAR = re.compile(
    rb"(\d{1,9})\|(\d{1,12})\|Loss: [^\r\n]{0,200}?: *\d{1,3}%\|[^|\r\n]{0,400}\|"
    rb" *(\d{1,12})/(\d{1,12}) \[((?:\d{1,9}:)?\d{1,2}:\d{2})[<\]]"
)
_MARK = b"|Loss: "


@dataclass(frozen=True)
class TrainClock:
    """What tqdm's counters say about a run's training time (see the module docstring).

    ``seconds`` is None when the output has no torchtune training bar; ``epochs`` holds
    (epoch, seconds) per bar, ``last_step`` the last global step printed.
    """

    path: str
    seconds: float | None
    epochs: tuple[tuple[int, int], ...] = ()
    last_step: int | None = None
    error: str | None = None

    def describe(self) -> str:
        """``tqdm's elapsed counters of 2 training bars (epoch 1: 480 s, epoch 2: 470 s)``."""
        if self.seconds is None:
            return self.error or "no training bar"
        bars = ", ".join(f"epoch {e}: {s:,} s" for e, s in self.epochs)
        noun = "bar" if len(self.epochs) == 1 else "bars"
        return f"tqdm's elapsed counters of {len(self.epochs)} training {noun} ({bars})"


def _interval(text: bytes) -> int:
    value = 0
    for part in text.split(b":"):
        value = value * 60 + int(part)
    return value


def _last_bar(block: bytes, start: int, end: int) -> re.Match[bytes] | None:
    """The last bar print in ``block[start:end]``, found from its end."""
    stop = end
    while True:
        mark = block.rfind(_MARK, start, stop)
        if mark < 0:
            return None
        begin = max(block.rfind(b"\r", start, mark), block.rfind(b"\n", start, mark)) + 1
        begin = max(begin, mark - 220, start)  # the epoch and step digits come right before
        found = None
        for found in _BAR.finditer(block, begin, min(end, mark + 1024)):  # noqa: B007
            pass
        if found is not None and found.start() <= mark:
            return found
        stop = mark


def _scan(block: bytes, start: int, end: int, take: Callable[[re.Match[bytes]], None]) -> None:
    """Every epoch's last print in ``block[start:end]`` (which starts and ends at prints)."""
    first = _BAR.search(block, start, end)
    if first is None:
        return
    last = _last_bar(block, start, end)
    if last is not None and last.group(1) == first.group(1):
        take(first)
        take(last)
        return
    middle = (start + end) // 2
    cut = max(block.rfind(b"\r", start, middle), block.rfind(b"\n", start, middle)) + 1
    if end - start <= SCAN or cut <= first.start():
        for match in _BAR.finditer(block, start, end):
            take(match)
        return
    _scan(block, start, cut, take)
    _scan(block, cut, end, take)


def read_train_clock(path: str | os.PathLike[str]) -> TrainClock:
    """The training time tqdm's counters give for the run that wrote ``path``; never raises
    for I/O or content (``error`` says what went wrong)."""
    name = os.fspath(path)
    longest: dict[int, int] = {}
    last_step: int | None = None

    def take(match: re.Match[bytes]) -> None:
        nonlocal last_step
        epoch, step = int(match.group(1)), int(match.group(2))
        seconds = _interval(match.group(5))
        if seconds > longest.get(epoch, -1):
            longest[epoch] = seconds
        if last_step is None or step > last_step:
            last_step = step

    try:
        with open(name, "rb") as handle:
            carry = b""
            while True:
                data = handle.read(BLOCK)
                block = carry + data
                if data:
                    cut = max(block.rfind(b"\r"), block.rfind(b"\n")) + 1
                    if cut == 0 and len(block) > LONGEST_PRINT:
                        cut = len(block) - LONGEST_PRINT
                    block, carry = block[:cut], block[cut:]
                _scan(block, 0, len(block), take)
                if not data:
                    break
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        return TrainClock(name, None, error=f"cannot read {name}: {why}")
    if not longest:
        return TrainClock(
            name, None, error=f"no torchtune training bar (epoch|step|Loss:) in {name}"
        )
    epochs = tuple(sorted(longest.items()))
    return TrainClock(name, float(sum(s for _, s in epochs)), epochs, last_step)
