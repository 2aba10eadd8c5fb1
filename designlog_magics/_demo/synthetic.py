"""Realistic SLURM outputs of torchtune fine-tuning runs, made up deterministically.

The speed probe has to cope with what tqdm really writes into ``slurm-<id>.out``; real
outputs are large, private and slow to produce, so tests, demo data and benchmarks use
these instead. Every trap of the real thing is here and can be switched on or off:

* each optimizer step is printed twice (the update, then a re-render after
  ``set_description(f"{epoch}|{global_step}|Loss: {loss}")``), joined with ``\\r`` only,
  so one epoch is one "line" of any length;
* tqdm's own formatting (``{rate:5.2f}it/s``, ``s/it`` below 1 it/s, ``[H:]MM:SS`` times,
  the 10-column bar SLURM gets), its exponential smoothing of the rate (factor 0.3), its
  ``mininterval`` of 0.1 s, and the padding spaces it writes when a line gets shorter;
* the next epoch's bar opens while the previous one still exists, so it sits at position
  1 (each print is ``\\n\\r...\\x1b[A``); the one after goes back to position 0;
* a slow start (warmup), validation bars (``Validation: ...``, faster, with the training
  rate dipping right after them), checkpoint saves between epochs;
* the finished bar is printed again with the whole epoch's average rate;
* log lines and warnings glued to the end of a bar without a newline;
* a run killed at its time limit (no final bar, ``slurmstepd: error: ... TIME LIMIT``),
  a failed run (a traceback and no progress), an unrelated job.

With a :class:`TorchtuneConfig`, the output starts with the resolved config torchtune prints
for that model, batch size and sequence length (:mod:`.torchtuneconfig`); ``StdoutLogger``
lines (``torchtune/training/metric_logging.py``: ``print(f"Step {step} | ", end="")``,
``print(f"{name}:{data} ", end="")`` per item, then a newline) follow the step's bar print
every ``log_every_n_steps`` steps, glued to it; and each epoch ends with the recipe's and the
checkpointer's messages. The bars are printed as tqdm prints them (:mod:`.tqdmbar`).

The facts of each file (the true steady speed and what was injected) come back as a
``SyntheticRunFacts`` so tests can check the probe against the truth.
"""

from __future__ import annotations

import os
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from .torchtuneconfig import TorchtuneConfig, default_header, disk_log_name
from .tqdmbar import (
    BAR_WIDTH,
    MININTERVAL,
    MM_SS,
    SMOOTHING,
    UP,
    Bar,
    format_bar,
    format_interval,
    format_rate,
    percent_bar,
)

__all__ = [
    "SyntheticRunFacts",
    "TorchtuneConfig",
    "disk_log_name",
    "format_bar",
    "format_interval",
    "format_rate",
    "write_failed_out",
    "write_torchtune_out",
    "write_unrelated_out",
]

_STARTED = datetime(2025, 10, 21, 9, 14, 2)

_NOISE = (
    "INFO:torchtune.utils._logging:Saving checkpoint. This may take some time. "
    "Retrieving full model state dict...\n",
    "/opt/conda/lib/python3.11/site-packages/torch/utils/checkpoint.py:295: FutureWarning: "
    "`torch.cpu.amp.autocast(args...)` is deprecated. Please use "
    "`torch.amp.autocast('cpu', args...)` instead.\n"
    "  with torch.enable_grad(), device_autocast_ctx, torch.cpu.amp.autocast(**ctx.cpu_a"
    "utocast_kwargs):  # type: ignore[attr-defined]\n",
    "WARNING:torchtune.utils._logging:Skipping sample 1832: 2048 tokens exceed max_seq_len "
    "1024 (3.2 s spent in collate)\n",
    "INFO:torchtune.utils._logging:Memory stats after step {step}:\n"
    "\tGPU peak memory allocation: 21.47 GiB\n\tGPU peak memory reserved: 23.02 GiB\n",
    "Step {step} | loss:{loss} lr:2e-05 tokens_per_second_per_gpu:{tps:.2f} "
    "peak_memory_alloc:21.47\n",
)


@dataclass(frozen=True)
class SyntheticRunFacts:
    """The truth about a generated output, to check the probe against."""

    path: str
    steady_its: float  # median speed of the training steps after warmup (what a probe should say)
    epoch_its: tuple[float, ...]  # the same per epoch that has progress in the file
    epochs_started: int
    steps_per_epoch: int
    steps_written: int  # optimizer steps printed (global step reached)
    warmup_steps: int
    validation_runs: int
    noise_lines: int
    position1_epochs: int  # epochs whose bar was printed at position 1 (``\n\r...\x1b[A``)
    final_bars: int  # finished bars re-printed with their epoch's average rate
    final_bar_its: tuple[float, ...]  # those averages (what ``grep | tail`` tends to show)
    killed: bool
    bytes_written: int
    tokens_per_s: float | None = None  # median logged tokens/s per GPU after the warmup
    logged_steps: int = 0  # StdoutLogger lines written


class _Writer:
    """Collects text and writes it in large UTF-8 blocks (bounded memory, few syscalls)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.parts: list[str] = []
        self.written = 0

    def flush(self) -> None:
        data = "".join(self.parts).encode()
        self.parts.clear()
        self.handle.write(data)
        self.written += len(data)


def _slurm_time(seconds: float) -> str:
    return (_STARTED + timedelta(seconds=int(seconds))).strftime("%Y-%m-%dT%H:%M:%S")


def write_torchtune_out(
    path: str | os.PathLike[str],
    *,
    steady_its: float,
    epochs: int = 1,
    steps_per_epoch: int = 500,
    warmup_steps: int = 20,
    warmup_factor: float = 3.0,
    validation_every: int | None = None,
    jitter: float = 0.05,
    seed: int = 0,
    killed: bool = False,
    noise_lines: bool = True,
    position1_epochs: bool = True,
    target_bytes: int | None = None,
    epoch_its: Sequence[float] | None = None,
    validation_steps: int = 25,
    validation_speedup: float = 3.0,
    checkpoint_seconds: float = 45.0,
    job_id: int | None = None,
    config: TorchtuneConfig | None = None,
) -> SyntheticRunFacts:
    """Write a torchtune run's ``slurm-<id>.out`` and return its facts.

    ``steady_its`` is the speed after warmup; ``epoch_its`` overrides it per epoch. Each
    step takes ``1/speed * (1 + jitter * u)`` seconds with ``u`` uniform in [-1, 1]; the
    first ``warmup_steps`` are up to ``warmup_factor`` times slower (tapering off), and the
    first step of every epoch waits for the data loader. ``validation_every`` runs a
    validation bar every so many global steps. ``killed`` stops the run at the time limit
    about two thirds into its last epoch. ``target_bytes`` picks ``steps_per_epoch`` so the
    file comes out about that large. ``config`` writes that resolved config at the start
    (and its ``StdoutLogger`` lines and checkpoint messages); without it, a fixed full
    fine-tune header.
    """
    rng = random.Random(seed)
    speeds = [float(s) for s in (epoch_its or [steady_its] * epochs)]
    if len(speeds) != epochs or epochs < 1:
        raise ValueError(f"epoch_its has {len(speeds)} speeds for {epochs} epochs")
    if min(speeds) <= 0 or not 0 <= jitter < 1 or warmup_factor < 1:
        raise ValueError("speeds must be positive, jitter in [0, 1), warmup_factor >= 1")
    log_every = None
    if config is not None and config.metric_logger == "StdoutLogger":
        log_every = max(1, config.log_every_n_steps)
    if target_bytes is not None:
        steps_per_epoch = _steps_for(
            target_bytes,
            epochs,
            _weighted_median(speeds, [1] * epochs),
            validation_every,
            validation_steps,
            validation_speedup,
            log_every,
        )
    job = job_id if job_id is not None else 4100000 + rng.randrange(99999)
    user = rng.choice(["mlee", "akumar", "jdoe", "tnguyen"])
    kill_epoch, kill_step = epochs + 1, 0
    if killed:
        kill_epoch, kill_step = epochs, max(1, (steps_per_epoch * 2) // 3)
    losses = _loss_texts(rng)
    glue = "" if noise_lines else "\n"

    with open(path, "wb") as handle:
        w = _Writer(handle)
        out = w.parts
        if config is None:
            out.append(default_header(user=user, job=job, epochs=epochs, seed=seed))
        else:
            out.append(config.header(user=user, job=job, epochs=epochs, seed=seed))
        tokens: list[float] = []
        now = 20.0 + rng.random() * 10
        step = validations = noise = pos1 = 0
        finals: list[float] = []
        loss = 2.4 + rng.random() * 0.3
        previous: Bar | None = None
        rand = rng.random
        for epoch in range(1, epochs + 1):
            step_time = 1.0 / speeds[epoch - 1]
            if previous is not None and not position1_epochs:  # closed before the next bar
                finals.append(previous.close(now, leave=True))
                previous = None
            # otherwise the old bar still exists: the new one takes the first free position
            pos = 1 if previous is not None and previous.pos == 0 else 0
            pos1 += pos
            bar = Bar(out, steps_per_epoch, now, pos)
            if previous is not None:  # garbage-collected once the new bar exists
                finals.append(previous.close(now + 0.01, leave=True))
            previous = bar
            run = _Steps(
                epoch=epoch,
                first_step=step + 1,
                count=kill_step if epoch == kill_epoch else steps_per_epoch,
                step_time=step_time,
                warmup_steps=warmup_steps,
                warmup_factor=warmup_factor,
                jitter=jitter,
                noise_lines=noise_lines,
                validation_every=validation_every or 0,
                validation_steps=validation_steps,
                validation_speedup=validation_speedup,
                log_every=log_every or 0,
                tokens_per_step=config.tokens_per_step if config else 0.0,
                lr=config.lr if config else 0.0,
            )
            now, loss, counts = _train(w, rng, bar, run, now, loss, losses, tokens)
            step += run.count
            validations += counts[0]
            noise += counts[1]
            if epoch == kill_epoch:
                out.append(
                    f"slurmstepd: error: *** JOB {job} ON gpu-node-07 CANCELLED AT "
                    f"{_slurm_time(now + 1)} DUE TO TIME LIMIT ***\n"
                )
                previous = None
                break
            if config is None:
                out.append(glue + _NOISE[0])
                now += checkpoint_seconds * (0.8 + 0.4 * rand())
                out.append(
                    "INFO:torchtune.utils._logging:Model checkpoint of size 2.30 GiB saved to "
                    f"/scratch/{user}/runs/ck-out-{job}/epoch_{epoch - 1}/"
                    "ft-model-00001-of-00001.safetensors\n"
                )
            else:
                seconds = checkpoint_seconds * (0.8 + 0.4 * rand())
                now += seconds
                out.append(
                    config.checkpoint_lines(
                        user=user, job=job, epoch=epoch - 1, last=epoch == epochs, seconds=seconds
                    )
                )
        if previous is not None:
            finals.append(previous.close(now + 0.5, leave=True))
            if config is None:
                out.append("INFO:torchtune.utils._logging:Training finished.\n")
        w.flush()
        written = w.written

    started = min(kill_epoch, epochs)
    per_epoch = tuple(speeds[:started])
    epoch_counts = [steps_per_epoch] * (started - 1) + [kill_step if killed else steps_per_epoch]
    return SyntheticRunFacts(
        path=os.fspath(path),
        steady_its=_weighted_median(per_epoch, epoch_counts),
        epoch_its=per_epoch,
        epochs_started=started,
        steps_per_epoch=steps_per_epoch,
        steps_written=step,
        warmup_steps=min(warmup_steps, step),
        validation_runs=validations,
        noise_lines=noise,
        position1_epochs=pos1,
        final_bars=len(finals),
        final_bar_its=tuple(finals),
        killed=killed,
        bytes_written=written,
        tokens_per_s=_steady_tokens(tokens, warmup_steps, log_every),
        logged_steps=len(tokens),
    )


def _steady_tokens(values: list[float], warmup_steps: int, log_every: int | None) -> float | None:
    """The median of the logged tokens/s after the warmup steps (the truth for tokens/s)."""
    if not values or not log_every:
        return None
    kept = values[warmup_steps // log_every :] or values
    return statistics.median(kept)


@dataclass(frozen=True)
class _Steps:
    """What one epoch of training looks like."""

    epoch: int
    first_step: int
    count: int
    step_time: float
    warmup_steps: int
    warmup_factor: float
    jitter: float
    noise_lines: bool
    validation_every: int
    validation_steps: int
    validation_speedup: float
    log_every: int = 0  # StdoutLogger every so many steps (0: none)
    tokens_per_step: float = 0.0
    lr: float = 0.0


def _train(
    w: _Writer,
    rng: random.Random,
    bar: Bar,
    run: _Steps,
    now: float,
    loss: float,
    losses: list[str],
    tokens: list[float],
) -> tuple[float, float, tuple[int, int]]:
    """Print ``run.count`` steps of torchtune's loop: ``pbar.update(1)``, then
    ``pbar.set_description(f"{epoch}|{global_step}|Loss: {loss}")``.

    Millions of prints for a 500 MB output, so the bar's state lives in local variables,
    the parts of a line that change rarely are cached, and the update and its re-render
    share one formatted tail. Returns the time, the loss and (validations, noise lines).
    """
    out = w.parts
    rand = rng.random
    total, start, pos, desc = bar.total, bar.start, bar.pos, bar.desc
    n, last_n, last_t, last_len = bar.n, bar.last_n, bar.last_t, bar.last_len
    ema_dn, ema_dt, calls = bar.ema_dn, bar.ema_dt, bar.calls
    its = 0.0
    rate_text = "?it/s"
    heads: dict[int, str] = {}
    clock = MM_SS
    second, elapsed = -1, ""
    before, after = ("\n\r", UP) if pos else ("\r", "")
    validations = noise = 0
    epoch, step_time, jitter = run.epoch, run.step_time, run.jitter
    warmup_steps, warmup_factor, every = run.warmup_steps, run.warmup_factor, run.validation_every
    step = run.first_step - 1
    prefix = f"{epoch}|"
    noise_lines = run.noise_lines
    log_every, per_step, lr = run.log_every, run.tokens_per_step, run.lr
    for k in range(1, run.count + 1):
        began = now
        step += 1
        factor = 1.0
        if step <= warmup_steps:
            factor = 1 + (warmup_factor - 1) * (1 - (step - 1) / warmup_steps)
            if step == 1:
                factor *= 4  # compilation, allocator, first batch
        elif k == 1:
            factor = 3.0  # data loader workers start again
        now += step_time * factor * (1 + jitter * (2 * rand() - 1))
        loss = max(0.25, loss * 0.99995 + (rand() - 0.5) * 0.04)

        # pbar.update(1): prints (and updates the smoothed rate) only after mininterval
        n += 1
        dt = now - last_t
        printed = dt >= MININTERVAL
        if printed:
            ema_dn = SMOOTHING * (n - last_n) + (1 - SMOOTHING) * ema_dn
            ema_dt = SMOOTHING * dt + (1 - SMOOTHING) * ema_dt
            calls += 1
            last_n, last_t = n, now
            its = ema_dn / ema_dt
            rate_text = f"{1 / its:5.2f}s/it" if its < 1 else f"{its:5.2f}it/s"
        elif not calls:  # no smoothed rate yet: tqdm shows the average
            its = n / (now - start)
            rate_text = f"{1 / its:5.2f}s/it" if its < 1 else f"{its:5.2f}it/s"
        frac = n / total
        key = int(frac * BAR_WIDTH * 8) * 1000 + round(frac * 100)
        head = heads.get(key)
        if head is None:
            head = heads[key] = percent_bar(n, total)
        if int(now - start) != second:
            second = int(now - start)
            elapsed = format_interval(second)
        hours, rest = divmod(int((total - n) / its), 3600)
        remaining = f"{hours:d}:{clock[rest]}" if hours else clock[rest]
        tail = f"{head}{n}/{total} [{elapsed}<{remaining}, {rate_text}]"
        tail_len = len(tail)
        # pbar.set_description(...) re-renders the line at once, with the same rate
        new_desc = f"{prefix}{step}|Loss: {losses[int(loss * 512) & 4095]}"
        size = len(new_desc) + 2 + tail_len
        if printed:
            old_size = len(desc) + 2 + tail_len if desc else tail_len
            pad = " " * (last_len - old_size) if last_len > old_size else ""
            pad2 = " " * (old_size - size) if old_size > size else ""
            if desc:
                out.append(
                    f"{before}{desc}: {tail}{pad}{after}{before}{new_desc}: {tail}{pad2}{after}"
                )
            else:
                out.append(f"{before}{tail}{pad}{after}{before}{new_desc}: {tail}{pad2}{after}")
        else:
            pad2 = " " * (last_len - size) if last_len > size else ""
            out.append(f"{before}{new_desc}: {tail}{pad2}{after}")
        desc, last_len = new_desc, size
        if log_every and step % log_every == 0:
            # recipe: log_dict after set_description; time_per_step covers this step only
            tps = per_step * (1 + 0.1 * (2 * rand() - 1)) / (now - began)
            tokens.append(tps)
            out.append(
                f"Step {step} | loss:{losses[int(loss * 512) & 4095]} lr:{lr} "
                f"tokens_per_second_per_gpu:{tps:.4f} \n"
            )

        if noise_lines and rand() < 0.004:
            noise += 1
            text = rng.choice(_NOISE[1:4] if log_every or per_step else _NOISE[1:])
            out.append(text.format(step=step, loss=loss, tps=900 / step_time))
        if every and step % every == 0 and k < total:
            validations += 1
            now = _validate(
                out, rng, now, 1 - pos, run.validation_steps, step_time, run.validation_speedup
            )
            now += step_time * 0.5 * run.validation_speedup  # the next steps are slower too
        if len(out) > 20000:
            w.flush()
    bar.n, bar.last_n, bar.last_t, bar.last_len, bar.desc = n, last_n, last_t, last_len, desc
    bar.ema_dn, bar.ema_dt, bar.calls = ema_dn, ema_dt, calls
    return now, loss, (validations, noise)


def _loss_texts(rng: random.Random) -> list[str]:
    """Loss values as torchtune prints them (``repr`` of a float), indexed by ``loss * 512``."""
    return [repr((i + rng.random()) / 512) for i in range(4096)]


def _validate(
    out: list[str],
    rng: random.Random,
    now: float,
    pos: int,
    steps: int,
    step_time: float,
    speedup: float,
) -> float:
    """A ``Validation`` bar (``leave=False``) at the first free position."""
    bar = Bar(out, steps, now, pos, "Validation")
    for _ in range(steps):
        now += step_time / speedup * (1 + 0.1 * (2 * rng.random() - 1))
        bar.update(now)
    bar.close(now, leave=False)
    return now + 0.05


def _weighted_median(values: Sequence[float], counts: Sequence[int]) -> float:
    pairs = sorted(zip(values, counts, strict=True))
    half = sum(counts) / 2
    seen = 0
    for value, count in pairs:
        seen += count
        if seen >= half:
            return value
    return pairs[-1][0]


def _steps_for(
    target_bytes: int,
    epochs: int,
    speed: float,
    validation_every: int | None,
    validation_steps: int,
    validation_speedup: float,
    log_every: int | None = None,
) -> int:
    """Steps per epoch for about ``target_bytes``: two prints per step, plus validations."""
    steps = max(10, target_bytes // (epochs * 220))
    for _ in range(2):  # the length of a print depends on the step numbers
        total = steps * epochs
        desc = f"{epochs}|{total // 2}|Loss: {1 / 3!r}: "
        line = desc + format_bar(steps // 2, steps, steps / speed / 2, speed)
        per_step: float = 2 * (len(line.encode()) + 3)
        if log_every:
            per_step += 95 / log_every  # "Step N | loss:... lr:... tokens_per_second_per_gpu:..."
        if validation_every:
            printed = min(1.0, 1 / (speed * validation_speedup * MININTERVAL))
            per_step += (validation_steps * printed * 75 + 200) / validation_every
        steps = max(10, int((target_bytes - 3000) / (epochs * per_step)))
    return steps


def write_failed_out(
    path: str | os.PathLike[str],
    seed: int = 0,
    *,
    config: TorchtuneConfig | None = None,
    job_id: int | None = None,
    epochs: int = 1,
) -> None:
    """A run that ran out of GPU memory in its first step: the config, an empty bar (tqdm's
    first print), the traceback of the backward pass."""
    rng = random.Random(seed)
    job = 4100000 + rng.randrange(99999)
    user = rng.choice(["mlee", "akumar", "jdoe"])
    total = rng.choice([250, 1000, 2001])
    if job_id is not None:
        job = job_id
    if config is None:
        header = default_header(user=user, job=job, epochs=epochs, seed=seed)
    else:
        header = config.header(user=user, job=job, epochs=epochs, seed=seed)
    text = (
        header + "\r" + format_bar(0, total, 0, None) + "Traceback (most recent call last):\n"
        '  File "/opt/conda/lib/python3.11/site-packages/recipes/full_finetune_single_device.py",'
        " line 811, in <module>\n"
        "    sys.exit(recipe_main())\n"
        '  File "/opt/conda/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1747,'
        " in _call_impl\n"
        "    return forward_call(*args, **kwargs)\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.91 GiB. GPU 0 has a "
        f"total capacity of 79.15 GiB of which {1 + rng.random():.2f} GiB is free.\n"
        f"srun: error: gpu-node-07: task 0: Exited with exit code 1\n"
    )
    with open(path, "wb") as handle:
        handle.write(text.encode())


def write_unrelated_out(path: str | os.PathLike[str], seed: int = 0) -> None:
    """A job that is not a training run (data preparation): numbers, but no progress bars."""
    rng = random.Random(seed)
    lines = [f"host=gpu-node-{rng.randrange(1, 40):02d} jobid={4100000 + rng.randrange(99999)}"]
    done = 0
    for shard in range(rng.randrange(5, 12)):
        rows = rng.randrange(5000, 20000)
        done += rows
        seconds = rows / rng.uniform(800, 3000)
        lines.append(
            f"shard {shard:03d}: {rows} rows tokenized in {seconds:.1f}s "
            f"({rows / seconds:.2f} rows/s), 3.2% filtered"
        )
    lines.append(f"wrote {done} rows to /scratch/data/alpaca_tok.parquet")
    with open(path, "wb") as handle:
        handle.write(("\n".join(lines) + "\n").encode())
