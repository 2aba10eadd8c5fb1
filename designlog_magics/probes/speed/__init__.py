"""The steady training speed (it/s after warmup) of a prior run, from its SLURM output.

Two figures. The throughput, the one to plan with: steps per second of training after the
warmup, from tqdm's own counters (``n`` over elapsed, ``| 123/2000 [01:02<...``) over the
steady stretches, validation bars, jumps in elapsed (a checkpoint save) and the gaps between
epochs (each a bar of its own) left out. And the median of the smoothed rates tqdm printed,
leaving out the warmup, validation bars, the dip after each validation and the re-printed
average of a finished bar; the two part when the speed drifts within a run, or in a short
one whose smoothed rate still lags a slow start. Prints may start with ``\\r`` (as tqdm
writes them) or each be a line. Read without holding the file, and without reading all of
a large one. ``extract_speed`` is the entry point. Its modules, one idea each: ``scanner``
turns bytes into what each epoch saw (``epochs``; ``rates`` reads tqdm's numbers),
``stats`` applies the rules to that, ``reading`` decides which bytes to read (sampled, or
every byte), ``report`` is the result and its wording.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..regions import FileRegions
from .reading import FileReader, scan_file
from .report import EpochSpeed, SpeedPoint, SpeedReport
from .stats import build_report

__all__ = [
    "EpochSpeed",
    "SpeedPoint",
    "SpeedReport",
    "extract_speed",
    "speed_points",
]

MODES = ("auto", "full", "sampled")


def extract_speed(
    path: str | os.PathLike[str],
    *,
    mode: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    regions: FileRegions | None = None,
) -> SpeedReport:
    """The steady training speed after warmup in a SLURM output (see the package docstring).

    ``mode``: ``"auto"`` samples large torchtune outputs and reads the rest in full;
    ``"full"`` reads every byte; ``"sampled"`` is ``auto`` without the small-file shortcut.
    ``progress(bytes_done, bytes_total)`` is called at most four times a second.
    ``regions``: the output already opened (shared with other probes); else it is opened here.
    Raises ``FileNotFoundError`` (and other ``OSError``) when the file cannot be read.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be auto, full or sampled, not {mode!r}")
    if regions is None:
        with FileRegions(path) as opened:
            return extract_speed(path, mode=mode, progress=progress, regions=opened)
    reader = FileReader(regions, progress)
    scan = scan_file(reader, mode)
    notes = scan.notes
    if b"DUE TO TIME LIMIT" in scan.tail or b"CANCELLED AT" in scan.tail:
        notes.append("the job was cancelled (time limit): its last epoch has no final bar")
    scanner = scan.scanner
    name = os.fspath(path)
    return build_report(
        name, scanner.epochs, scanner.points, scan.mode, reader.read, reader.size, notes
    )


def speed_points(path: str | os.PathLike[str]) -> tuple[SpeedPoint, ...]:
    """The updates of a run for a plot of its rate (``SpeedReport.points``)."""
    return extract_speed(path).points
