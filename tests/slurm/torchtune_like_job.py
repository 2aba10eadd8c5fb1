"""A job that prints what a torchtune LoRA recipe prints, with the real tqdm, and records
the truth of what it did: real outputs (under sbatch) for parsers to be tested on.

The training loop has the shape of torchtune's recipes/lora_finetune_single_device.py
(``LoRAFinetuneRecipeSingleDevice.train``):

* one ``tqdm(total=steps_per_epoch, disable=...)`` per epoch, never closed (a new epoch
  makes a new bar while the old one is still alive, as there); after each optimizer step
  ``pbar.update(1)`` then ``pbar.set_description(f"{curr_epoch + 1}|{global_step}|Loss:
  {loss_to_log}")``; the bar goes to stderr, which SLURM merges into ``slurm-%j.out``;
* every ``log_every_n_steps`` steps a StdoutLogger line, as torchtune/training/
  metric_logging.py ``StdoutLogger.log_dict`` prints it: ``Step {step} | `` then
  ``{name}:{data} `` per metric, then a newline; the metrics are ``loss``, ``lr`` and
  ``tokens_per_second_per_gpu`` = tokens of the step / seconds since the previous step
  ended (``t0`` is reset after every step, before a checkpoint is saved, so the step after
  a checkpoint counts the checkpoint's time, as in torchtune);
* loss and tokens/s are float32 values printed as Python prints them (torchtune divides a
  Python float by a 0-d int tensor; a 0-d tensor formats as its ``.item()``);
* a checkpoint at ``global_step % save_every_n_steps == 0`` except in the last epoch
  (``--pause`` seconds of sleep stand in for it), and a final save after the loop, while
  the last bar is still open.

Nothing is computed: each step sleeps ``1 / rate`` seconds, the rate following
``--schedule`` (``FROM_STEP:IT_PER_S,...``), so that the speed can drift within a run.

The truth goes to ``--truth`` (JSON), rewritten after every step so that a job killed at
its time limit leaves the truth of the steps it printed: ``steps`` (optimizer steps done),
``train_seconds`` (sum over steps of the time.monotonic() seconds from the end of the
previous step, or the start of the epoch's loop, to the end of this one: the wall time of
the training loops, checkpoint pauses excluded), ``tokens`` (sum of the tokens of every
step) and what follows from them.
SIGTERM is blocked while a step's counters, output and truth are being written, so the
truth always matches the output.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import signal
import struct
import sys
import time

from tqdm import __version__ as tqdm_version
from tqdm import tqdm

log = logging.getLogger("torchtune.utils._logging")


def float32(value: float) -> float:
    """The value as a float32 holds it (what ``tensor.item()`` gives back)."""
    return struct.unpack("f", struct.pack("f", value))[0]


class NewlineStream:
    """A stream for tqdm that ends each refresh with a newline instead of starting it
    with a carriage return: one bar state per line, as in logs that keep no ``\\r``."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.encoding = getattr(stream, "encoding", None)

    def write(self, text: str) -> int:
        return self._stream.write(text.replace("\r", "\n"))

    def flush(self) -> None:
        self._stream.flush()


def parse_schedule(text: str) -> list[tuple[int, float]]:
    pairs = []
    for part in text.split(","):
        step, _, rate = part.partition(":")
        pairs.append((int(step), float(rate)))
    if not pairs or pairs[0][0] != 1 or any(r <= 0 for _, r in pairs):
        raise argparse.ArgumentTypeError(f"bad schedule {text!r} (e.g. 1:8,31:6)")
    return sorted(pairs)


def rate_at(schedule: list[tuple[int, float]], step: int) -> float:
    rate = schedule[0][1]
    for start, value in schedule:
        if step >= start:
            rate = value
    return rate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="name of the run, kept in the truth")
    parser.add_argument("--schedule", type=parse_schedule, required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps-per-epoch", type=int, required=True)
    parser.add_argument("--log-every-n-steps", type=int, default=1)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds a checkpoint takes")
    parser.add_argument("--final-save", type=float, default=0.5)
    parser.add_argument("--tokens", default="1700-2300", help="tokens per step: LOW-HIGH")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--warmup-lr-steps", type=int, default=100)
    parser.add_argument("--newline-bar", action="store_true", help="one bar state per line")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--truth", required=True)
    return parser.parse_args(argv)


class Truth:
    """What the job did, written to a JSON file after every step."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.path = args.truth
        self.data = {
            "run": args.run,
            "job_id": os.environ.get("SLURM_JOB_ID"),
            "producer": f"tests/slurm/torchtune_like_job.py with tqdm {tqdm_version}",
            "epochs_planned": args.epochs,
            "steps_per_epoch": args.steps_per_epoch,
            "log_every_n_steps": args.log_every_n_steps,
            "schedule": [{"from_step": s, "it_per_s": r} for s, r in args.schedule],
            "newline_bar": args.newline_bar,
            "checkpoint_pause_seconds": args.pause,
            "steps": 0,
            "epochs_started": 0,
            "train_seconds": 0.0,
            "tokens": 0,
            "steps_per_second": None,
            "tokens_per_second": None,
            "pause_seconds": [],
            "step_seconds": [],
            "step_tokens": [],
            "ended": "running",
        }

    def step(self, seconds: float, tokens: int) -> None:
        d = self.data
        d["steps"] += 1
        d["train_seconds"] += seconds
        d["tokens"] += tokens
        d["step_seconds"].append(round(seconds, 6))
        d["step_tokens"].append(tokens)
        d["steps_per_second"] = d["steps"] / d["train_seconds"]
        d["tokens_per_second"] = d["tokens"] / d["train_seconds"]

    def write(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(self.data, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, self.path)


def train(args: argparse.Namespace, truth: Truth) -> None:
    rng = random.Random(args.seed)
    low, high = (int(x) for x in args.tokens.split("-"))
    rank = int(os.environ.get("SLURM_PROCID", "0"))
    bar_file = NewlineStream(sys.stderr) if args.newline_bar else None
    guarded = {signal.SIGTERM}
    global_step = 0
    t0 = time.perf_counter()
    for curr_epoch in range(args.epochs):
        # as in the recipe: a new bar per epoch, the previous one left open
        pbar = tqdm(total=args.steps_per_epoch, disable=not (rank == 0), file=bar_file)
        truth.data["epochs_started"] += 1
        step_started = time.monotonic()
        for _ in range(args.steps_per_epoch):
            tokens = rng.randint(low, high)
            time.sleep(1.0 / rate_at(args.schedule, global_step + 1))
            signal.pthread_sigmask(signal.SIG_BLOCK, guarded)
            global_step += 1
            loss = 0.35 + 2.1 * math.exp(-global_step / 25.0) + rng.uniform(-0.04, 0.04)
            loss_to_log = float32(loss)
            pbar.update(1)
            pbar.set_description(f"{curr_epoch + 1}|{global_step}|Loss: {loss_to_log}")
            # the step ends here for both clocks, torchtune's t0 and the truth's (torchtune
            # resets t0 after its log line; a print stalled on a busy machine must not count
            # for one clock and not the other)
            now, ended = time.monotonic(), time.perf_counter()
            if global_step % args.log_every_n_steps == 0:
                time_per_step = ended - t0
                lr = args.lr * min(1.0, global_step / args.warmup_lr_steps)
                payload = {
                    "loss": loss_to_log,
                    "lr": lr,
                    "tokens_per_second_per_gpu": float32(tokens / time_per_step),
                }
                print(f"Step {global_step} | ", end="")
                for name, data in payload.items():
                    print(f"{name}:{data} ", end="")
                print("\n", end="")
            t0 = ended
            truth.step(now - step_started, tokens)
            step_started = now
            truth.write()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, guarded)
            if global_step % args.steps_per_epoch == 0 and curr_epoch != args.epochs - 1:
                # t0 keeps running, as in torchtune; the truth leaves the pause out
                save_checkpoint(args, curr_epoch, args.pause, truth)
                step_started = time.monotonic()
    final = time.monotonic()
    log.info("Starting checkpoint save...")
    time.sleep(args.final_save)
    log.info(f"Checkpoint saved in {time.monotonic() - final:.2f} seconds.")


def save_checkpoint(args: argparse.Namespace, epoch: int, seconds: float, truth: Truth) -> None:
    started = time.monotonic()
    time.sleep(seconds)
    path = os.path.join(os.getcwd(), f"epoch_{epoch}", "adapter_model.pt")
    log.info(f"Adapter checkpoint of size 0.01 GiB saved to {path}")
    truth.data["pause_seconds"].append(round(time.monotonic() - started, 6))
    truth.write()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s")
    args = parse_args(argv)
    truth = Truth(args)
    truth.write()

    def on_sigterm(signum, frame):  # noqa: ARG001 - SLURM's time limit: record, then die
        truth.data["ended"] = "SIGTERM"
        truth.write()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    log.info("Model is initialized with precision torch.bfloat16.")
    log.info("Tokenizer is initialized from file.")
    log.info("Optimizer and loss are initialized.")
    log.info("Loss is initialized.")
    log.info("Learning rate scheduler is initialized.")
    train(args, truth)
    truth.data["ended"] = "completed"
    truth.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
