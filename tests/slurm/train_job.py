"""A small stand-in for a fine-tuning run, submitted to the test cluster with sbatch.

It prints what a torchtune recipe prints while it trains: a few log lines, then one
tqdm bar per epoch whose description is ``EPOCH|STEP|Loss: X`` (updated with ``\\r``
on stderr, which SLURM merges into ``slurm-<jobid>.out``), and optionally a
``Validation`` bar after each epoch. Nothing is computed: every step sleeps, so the
speed the bar shows is the one given on the command line (the first
``--warmup-steps`` steps are slower, as real runs are while kernels compile and
caches fill).

Run it with the project's Python and ``PYTHONUNBUFFERED=1`` so that print() lines
and the bar arrive in order.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import sys
import time

from tqdm import tqdm

log = logging.getLogger("train_job")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--it-per-s", type=float, required=True, help="steady training speed")
    parser.add_argument("--steps", type=int, default=20, help="steps per epoch")
    parser.add_argument("--warmup-steps", type=int, default=2, help="slow steps at the start")
    parser.add_argument(
        "--warmup-slowdown", type=float, default=2.0, help="how many times slower a warmup step is"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--val-steps", type=int, default=0, help="validation steps per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fail-before-training",
        action="store_true",
        help="stop with a traceback while setting up, as a run with a wrong path does",
    )
    args = parser.parse_args(argv)
    if args.it_per_s <= 0 or args.steps < 1 or args.epochs < 1:
        parser.error("--it-per-s, --steps and --epochs must be positive")
    return args


def load_checkpoint(directory: str) -> None:
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint directory {directory} does not exist")


def setup(args: argparse.Namespace) -> None:
    log.info("Model is set up in bf16 (simulated, seed %d).", args.seed)
    if args.fail_before_training:
        load_checkpoint(os.path.join(os.getcwd(), "no-such-model", "original"))
    log.info("Tokenizer is set up.")
    log.info("Optimizer and loss are set up.")
    log.info("Dataset and sampler are set up: %d steps per epoch.", args.steps)


def loss_at(step: int, rng: random.Random) -> float:
    return 0.35 + 2.1 * math.exp(-step / 12.0) + rng.uniform(-0.05, 0.05)


def train(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    period = 1.0 / args.it_per_s
    global_step = 0
    started = time.monotonic()
    for epoch in range(args.epochs):
        pbar = tqdm(total=args.steps, file=sys.stderr)
        for _ in range(args.steps):
            slow = global_step < args.warmup_steps
            time.sleep(period * (args.warmup_slowdown if slow else 1.0))
            global_step += 1
            loss = loss_at(global_step, rng)
            pbar.update(1)
            pbar.set_description(f"{epoch + 1}|{global_step}|Loss: {loss}")
        pbar.close()
        if args.val_steps:
            total = 0.0
            for _ in tqdm(range(args.val_steps), desc="Validation", file=sys.stderr):
                time.sleep(period / 4)
                total += loss_at(global_step, rng) + 0.1
            print(f"Epoch {epoch + 1} validation loss: {total / args.val_steps:.4f}")
        print(f"Checkpoint for epoch {epoch + 1} saved (simulated).")
    print(f"Training finished: {global_step} steps in {time.monotonic() - started:.1f}s")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    args = parse_args(argv)
    print(f"Starting run on {os.uname().nodename}, job {os.environ.get('SLURM_JOB_ID', '-')}")
    setup(args)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
