"""Everything a plan wants from a prior run's output, with each part of the file read once.

Why: the speed of a prior run comes with what the run was (its resolved config), how it
ended, its tokens/s per GPU and, for an inspect eval's output, the eval's own summary. Each
of those probes reads the same head and tail of the file; asked one after the other they
would open it four times and read those parts again. Here it is opened once
(``FileRegions``): its last 256 KiB and first 256 KiB (the whole of an output up to 4 MiB)
are read first and served to every probe, which then read only what is theirs alone (the
speed probe's bisection probes and windows, the tokens probe's windows; every byte for
``full``).

What is read, in order: the tail (is it an inspect eval's output? then the eval's summary
is all there is to read), the config and the outcome (``runfacts``), the it/s
(``speed``: sampled for a large torchtune output, every byte with ``full``), and the
tokens/s (``tokens``: sampled regions of a large output, else a DiskLogger file beside it,
else wandb's summary). The tokens/s is a median of per-step values, which an even sample
gives as well as every line, so it is sampled in both modes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from .evals import EvalRun, looks_like_eval, read_eval_run
from .regions import KEEP_HEAD, KEEP_TAIL, FileRegions
from .runfacts import HEAD_BYTES, RunFacts, read_run_facts
from .speed import SpeedReport, extract_speed
from .tokens import TokenRate, read_tokens_per_second


@dataclass(frozen=True)
class PriorRun:
    """A prior run's output, as the speed step and the run table use it.

    For an inspect eval's output only ``eval_run`` and ``facts`` are read (``speed`` and
    ``tokens`` are None); for a training output ``eval_run`` is None and the rest is set.
    ``bytes_read``: bytes read from the file through the shared regions, each part once
    (an eval's summary is then read on its own).
    """

    path: str
    facts: RunFacts
    speed: SpeedReport | None
    tokens: TokenRate | None
    eval_run: EvalRun | None
    bytes_read: int
    file_size: int

    @property
    def is_eval(self) -> bool:
        """Whether the output is an inspect eval's (its summary is in ``eval_run``)."""
        return self.eval_run is not None


def read_prior_run(
    path: str | os.PathLike[str],
    *,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
    speed_mode: str | None = None,
) -> PriorRun:
    """The facts, it/s, tokens/s (or eval summary) of the output at ``path``, read once.

    ``full``: the speed from every byte (else sampled where that is safe; see
    ``probes.speed``). ``speed_mode`` names the speed probe's mode instead (the run table
    reads every output ``"sampled"``, small ones too, so that its figures do not depend on
    a file's size). ``progress(bytes_done, bytes_total)`` as the speed probe reads.
    Raises ``OSError`` when the file cannot be opened or read (a directory, a FIFO, a
    missing file); what is missing from a readable file is a fact in the result.
    """
    name = os.fspath(path)
    with FileRegions(name) as regions:
        small = regions.size <= KEEP_HEAD  # read whole, and every probe reads it from memory
        regions.pread(0, regions.size if small else HEAD_BYTES)
        if not small:
            regions.pread(regions.size - KEEP_TAIL, KEEP_TAIL)
        facts = read_run_facts(name, regions=regions)
        if looks_like_eval(name, regions=regions):
            return PriorRun(
                name, facts, None, None, read_eval_run(name), regions.disk_bytes, regions.size
            )
        mode = speed_mode or ("full" if full else "auto")
        speed = extract_speed(name, mode=mode, progress=progress, regions=regions)
        config = facts.config
        output_dirs = [config.output_dir] if config is not None and config.output_dir else []
        tokens = read_tokens_per_second(
            name, output_dirs=output_dirs, mode="sampled", regions=regions
        )
        return PriorRun(name, facts, speed, tokens, None, regions.disk_bytes, regions.size)
