"""Writes the outputs in this folder with the real tqdm, on a clock of our own.

torchtune's loop (``recipes/lora_finetune_single_device.py``): ``pbar = tqdm(total=...)``
per epoch, then per step ``pbar.update(1)`` and ``pbar.set_description(
f"{curr_epoch + 1}|{self.global_step}|Loss: {loss_to_log}")``; the bar is never closed, so
the next epoch's bar opens at position 1 and the old one prints its average when rebound.
tqdm is driven as it is (``tqdm/std.py``: ``format_meter``, ``format_interval``, its EMA),
only its clock is ours (``tqdm.std.time``), so each step's duration, every pause, and so the
true throughput (steps after the warmup over their seconds of training) are known exactly.

    python tests/data/tqdm/make_fixtures.py   # rewrites *.out and *.truth.json here
"""

from __future__ import annotations

import io
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

import tqdm.std

HERE = Path(__file__).resolve().parent


class Output(io.StringIO):
    """What SLURM gives the job: a UTF-8 file (tqdm draws its Unicode bar), not a terminal."""

    encoding = "utf-8"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def torchtune_run(
    out: Output,
    epochs: int,
    steps: int,
    step_time: Callable[[int, int], float],
    warmup: int,
    pauses: dict[tuple[int, int], tuple[str, float]] | None = None,
    epoch_pause: float = 0.0,
    seed: int = 0,
) -> dict:
    """Run torchtune's loop; ``step_time(epoch, k)`` is step k's seconds (k from 1);
    ``pauses[(epoch, k)] = (kind, seconds)`` after step k: ``"validation"`` (a tqdm bar of
    its own) or ``"checkpoint"`` (log lines only). Returns the truth."""
    clock = Clock()
    tqdm.std.time = clock  # each bar's _time
    tqdm.std.tqdm.monitor_interval = 0
    rng = random.Random(seed)
    pauses = pauses or {}
    global_step = 0
    steady_steps = 0
    steady_seconds = 0.0
    pbar = None
    for epoch in range(epochs):
        pbar = tqdm.std.tqdm(total=steps, file=out)  # noqa: F841 (rebinding closes the old one)
        for k in range(1, steps + 1):
            seconds = step_time(epoch, k)
            clock.now += seconds
            global_step += 1
            if k > warmup:
                steady_steps += 1
                steady_seconds += seconds
            loss = 2.0 * 0.999**global_step + rng.random() * 0.05
            pbar.update(1)
            pbar.set_description(f"{epoch + 1}|{global_step}|Loss: {loss}")
            kind, pause = pauses.get((epoch, k), ("", 0.0))
            if kind == "validation":
                val = tqdm.std.tqdm(total=20, desc="Validation", file=out, leave=False)
                for _ in range(20):
                    clock.now += pause / 20
                    val.update(1)
                val.close()
            elif kind == "checkpoint":
                clock.now += pause
                out.write("INFO:torchtune.utils._logging:Saving checkpoint. This may take some")
                out.write(" time. Retrieving full model state dict...\n")
        if epoch_pause:
            clock.now += epoch_pause
            out.write("INFO:torchtune.utils._logging:Starting checkpoint save...\n")
    del pbar
    return {
        "steps": steady_steps,
        "training_seconds": round(steady_seconds, 6),
        "throughput_its": steady_steps / steady_seconds,
        "warmup_steps_per_epoch": warmup,
    }


def _warm(first: float, steady: float, warmup: int) -> Callable[[int, int], float]:
    """A slow first step, then a taper to ``steady`` over ``warmup`` steps."""

    def step_time(epoch: int, k: int) -> float:
        if k == 1:
            return first
        if k <= warmup:
            return steady * (1 + (warmup - k) / warmup)
        return steady

    return step_time


def _jittered(step: Callable[[int, int], float], jitter: float, seed: int):
    rng = random.Random(seed)
    return lambda epoch, k: step(epoch, k) * (1 + jitter * (2 * rng.random() - 1))


def write(name: str, text: str, truth: dict, note: str) -> None:
    (HERE / f"{name}.out").write_text(text, encoding="utf-8")
    (HERE / f"{name}.truth.json").write_text(json.dumps({"note": note, **truth}, indent=1) + "\n")


def large_run(path: Path, steps: int = 8_000) -> dict:
    """A large output (about 200 bytes a step): 3 epochs at 4.5 it/s drifting to 4.0, a
    validation bar every 2,000 steps, a checkpoint save between epochs."""

    def base(epoch: int, k: int) -> float:
        if k == 1:
            return 8.0
        if k <= 50:
            return 0.4
        return 1 / (4.5 - 0.5 * k / steps)

    out = Output()
    pauses = {(e, k): ("validation", 30.0) for e in range(3) for k in range(1500, steps, 1500)}
    truth = torchtune_run(out, 3, steps, _jittered(base, 0.1, 5), 60, pauses, 90.0, seed=5)
    path.write_text(HEADER + out.getvalue(), encoding="utf-8")
    return truth


HEADER = (
    "INFO:torchtune.utils._logging:Running LoRAFinetuneRecipeSingleDevice with resolved config:\n"
)


def main() -> None:
    # one epoch, 600 steps at 5 it/s after 20 warmup steps
    out = Output()
    truth = torchtune_run(out, 1, 600, _jittered(_warm(6.0, 0.2, 20), 0.05, 1), 20, seed=1)
    text = HEADER + out.getvalue()
    write("steady-cr", text, truth, "600 steps at 5 it/s (+-5%), 20 warmup steps; as tqdm wrote it")
    write("steady-lines", text.replace("\r", "\n"), truth, "steady-cr after tr '\\r' '\\n'")
    half = len(text) // 2
    write("steady-mixed", text[:half].replace("\r", "\n") + text[half:], truth, "half and half")

    # 2,000 steps: 8 it/s, then from step 1,000 to 1,100 down to 6 it/s
    def drift(epoch: int, k: int) -> float:
        if k <= 30:
            return _warm(4.0, 0.125, 30)(epoch, k)
        its = 8.0 if k < 1000 else 6.0 if k > 1100 else 8.0 - 2.0 * (k - 1000) / 100
        return 1 / its

    out = Output()
    truth = torchtune_run(out, 1, 2000, _jittered(drift, 0.04, 2), 30, seed=2)
    write("drift", HEADER + out.getvalue(), truth, "8 it/s, falling to 6 it/s mid-epoch")

    # two epochs of 400 steps at 4 it/s: a validation bar (40 s) after step 200 of epoch 1,
    # a checkpoint save without a bar (45 s) after step 300, and one between epochs (60 s)
    out = Output()
    pauses = {(0, 200): ("validation", 40.0), (0, 300): ("checkpoint", 45.0)}
    truth = torchtune_run(
        out, 2, 400, _jittered(_warm(5.0, 0.25, 10), 0.05, 3), 10, pauses, 60.0, seed=3
    )
    write("pauses", HEADER + out.getvalue(), truth, "4 it/s with three pauses")

    # 150 steps at 0.57 it/s (tqdm prints s/it)
    out = Output()
    truth = torchtune_run(out, 1, 150, _jittered(_warm(9.0, 1 / 0.57, 3), 0.03, 4), 3, seed=4)
    write("slow", HEADER + out.getvalue(), truth, "0.57 it/s, printed as s/it")

    # a smoke test: 14 steps at 0.8 it/s, the first taking 5 s
    out = Output()
    truth = torchtune_run(out, 1, 14, _warm(5.0, 1.25, 1), 1, seed=6)
    write("smoke-14", HEADER + out.getvalue(), truth, "14 steps at 0.8 it/s, a slow first step")


if __name__ == "__main__":
    sys.exit(main())
