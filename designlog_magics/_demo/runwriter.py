"""A finished (or killed) torchtune run's ``slurm-<id>.out`` on a clock the writer controls,
and an inspect-ai eval's output: the demo's "after" state.

The prints are those of ``tqdmbar`` and ``torchtuneconfig`` (tqdm's bar as torchtune drives
it, torchtune's resolved config, StdoutLogger lines, checkpoint messages), but the time is set
from the outside: each epoch's bar closes at a whole number of seconds chosen by the caller
(plus a quarter second, so that tqdm's rounding down gives exactly that number), and a run
with a time limit is stopped where SLURM would stop it, with SLURM's own line. What a reader
must find is returned beside the file (:class:`WrittenRun`): the elapsed seconds each bar
printed last, the steps done, the job's wall time.
"""

from __future__ import annotations

import os
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .torchtuneconfig import TorchtuneConfig
from .tqdmbar import Bar

STARTUP = 25.0  # seconds from the job's start to its first bar (model and data loading)
JITTER = 0.06  # each step takes its epoch's mean time times 1 +/- this
WARMUP = 3.0  # the first step of a run takes this many steps' time


@dataclass(frozen=True)
class WrittenRun:
    """The truth about a written run's output."""

    path: Path
    job_id: int
    epoch_seconds: tuple[int, ...]  # the elapsed each epoch's bar printed last (whole seconds)
    steps_done: int
    steps_planned: int
    killed: bool
    wall_seconds: float  # the job's start to its end (a killed job: its time limit)
    its: float  # steps per second of training, pauses left out
    tokens_per_s: float | None  # the median tokens/s per GPU logged after the warmup

    @property
    def training_seconds(self) -> int:
        """What tqdm's counters add up to."""
        return sum(self.epoch_seconds)


def write_run(
    path: str | os.PathLike[str],
    *,
    config: TorchtuneConfig,
    job_id: int,
    epochs: int,
    steps_per_epoch: int,
    epoch_seconds: Sequence[int] | None = None,
    step_seconds: float | None = None,
    save_seconds: float = 20.0,
    limit_seconds: int | None = None,
    started: datetime = datetime(2025, 10, 23, 9, 0, 0),
    seed: int = 0,
) -> WrittenRun:
    """Write a run: epoch k's bar closes at ``epoch_seconds[k]`` (its steps, then its save), or
    its steps take ``step_seconds`` each on average; with ``limit_seconds`` SLURM kills the job
    that long after its start. Exactly one of ``epoch_seconds`` and ``step_seconds``."""
    if (epoch_seconds is None) == (step_seconds is None):
        raise ValueError("give epoch_seconds or step_seconds")
    if epoch_seconds is not None and len(epoch_seconds) != epochs:
        raise ValueError(f"{len(epoch_seconds)} epoch times for {epochs} epochs")
    rng = random.Random(seed)
    user = "mlee"
    out: list[str] = [config.header(user=user, job=job_id, epochs=epochs, seed=seed)]
    now = STARTUP
    previous: Bar | None = None
    printed: list[int] = []
    tokens: list[float] = []
    step = 0
    training = 0.0
    killed = False
    loss = 2.4
    for epoch in range(1, epochs + 1):
        pos = 1 if previous is not None and previous.pos == 0 else 0
        bar = Bar(out, steps_per_epoch, now, pos)
        if previous is not None:  # the old bar goes once the new one exists
            previous.close(now + 0.01, leave=True)
            printed.append(int(now + 0.01 - previous.start))
        previous = bar
        last = epoch == epochs
        weights = [1 + JITTER * (2 * rng.random() - 1) for _ in range(steps_per_epoch)]
        if step == 0:
            weights[0] *= WARMUP
        if epoch_seconds is not None:
            closing = 0.5 if last else 0.01
            budget = epoch_seconds[epoch - 1] + 0.25 - save_seconds - closing
            mean = budget / sum(weights)
        else:
            mean = float(step_seconds or 0)
        for weight in weights:
            took = mean * weight
            if limit_seconds is not None and now + took > limit_seconds:
                killed = True
                break
            now += took
            training += took
            step += 1
            loss = max(0.2, loss * 0.995 + (rng.random() - 0.5) * 0.02)
            bar.update(now)
            bar.desc = f"{epoch}|{step}|Loss: {loss!r}"
            bar.refresh(now)
            rate = config.tokens_per_step * (1 + 0.05 * (2 * rng.random() - 1)) / took
            tokens.append(rate)
            # StdoutLogger: f"Step {step} | ", then f"{name}:{data} " per item, then a newline
            out.append(f"Step {step} | loss:{loss!r} lr:{config.lr} ")
            out.append(f"tokens_per_second_per_gpu:{rate:.4f} \n")
        if killed:
            printed.append(int(bar.last_t - bar.start))
            when = started + timedelta(seconds=limit_seconds or 0)
            out.append(
                f"slurmstepd: error: *** JOB {job_id} ON gpu-node-07 CANCELLED AT "
                f"{when:%Y-%m-%dT%H:%M:%S} DUE TO TIME LIMIT ***\n"
            )
            previous = None
            break
        now += save_seconds
        out.append(
            config.checkpoint_lines(
                user=user, job=job_id, epoch=epoch - 1, last=last, seconds=save_seconds
            )
        )
    if previous is not None:
        previous.close(now + 0.5, leave=True)
        printed.append(int(now + 0.5 - previous.start))
        now += 0.5
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes("".join(out).encode())
    warm = min(len(tokens) - 1, max(1, len(tokens) // 10))
    return WrittenRun(
        path=target,
        job_id=job_id,
        epoch_seconds=tuple(printed),
        steps_done=step,
        steps_planned=epochs * steps_per_epoch,
        killed=killed,
        wall_seconds=float(limit_seconds) if killed and limit_seconds else now + 1.0,
        its=step / training if training else 0.0,
        tokens_per_s=statistics.median(tokens[warm:]) if tokens else None,
    )


def write_eval(
    path: str | os.PathLike[str],
    *,
    model: str,
    seconds: float,
    samples: int = 1000,
    job_id: int = 0,
) -> Path:
    """An inspect-ai eval's output as its rich display ends it (80 columns): the title,
    ``total time:`` (a ``timedelta``: ``H:MM:SS.ffffff``) and the model's token usage."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    title = f"capitalization ({samples:,} samples): {model}"
    tokens_in = samples * 88
    rows = [
        f"host=gpu-node-03 jobid={job_id}",
        f"[10/23/25 11:02:07] INFO     Loading model {model}".ljust(80)[:80],
        "╭" + "─" * 78 + "╮",
        "│" + title.ljust(78)[:78] + "│",
        "╰" + "─" * 78 + "╯",
        "max_tokens: 16, dataset: words_8L_80P_10000.json (test)".ljust(80),
        " " * 80,
        ("total time:".ljust(36) + f"{hours}:{minutes:02d}:{rest:09.6f}").ljust(80),
        (
            model.ljust(36)
            + f"{tokens_in + samples * 8:,} tokens [I: {tokens_in:,}, O: {samples * 8:,}]"
        ).ljust(80),
        " " * 80,
        "match".ljust(80),
        "accuracy  0.462".ljust(80),
        "stderr    0.016".ljust(80),
        " " * 80,
        "Log: logs/2025-10-23T11-02-07+00-00_capitalization_Xq83nB1kLm.eval".ljust(80),
    ]
    target.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return target
