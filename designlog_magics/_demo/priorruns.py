"""The prior runs of the demo's scratch space: their SLURM outputs, and the truth about each.

Why: the design searches for prior runs and takes its speed from one of them; the demo's are
made up (:mod:`.synthetic`) to be like the plan and unlike it (another batch size, another
model in s/it, a run killed at its time limit, one out of memory at its first step, a smoke
test), with a decoy the default search must not match, outputs of jobs that are not training
runs, and an inspect-ai evaluation whose summary gives the evaluation's throughput.
"""

from __future__ import annotations

import fnmatch
import math
import os
import random
import statistics
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import synthetic
from .modeldir import generation_config, json_text, model_config
from .torchtuneconfig import TorchtuneConfig, disk_log_name

SEARCH_NAME = "slurm-*.out"
SEARCH_PATH = "*/ck-out-*"
SEARCH_MIN_KIB = 100  # find -size +100k: more than 100 blocks of 1 KiB, rounded up


@dataclass(frozen=True, repr=False)
class DemoRun:
    """One SLURM output of the demo scratch space, and the truth about it."""

    name: str  # the run's directory, e.g. "ck-out-happy-narwhal"
    job_id: int
    path: Path  # .../scratch/<name>/slurm-<job_id>.out
    kind: str  # training, slow, killed, failed, smoke, decoy, unrelated
    size: int  # bytes
    steady_its: float | None  # true speed after warmup (None: no training progress)
    epochs: int | None = None
    steps_per_epoch: int | None = None
    description: str = ""
    config: TorchtuneConfig | None = None  # what its resolved config says
    tokens_per_s: float | None = None  # true tokens/s per GPU (None: none logged)
    outcome: str | None = None  # how it ended: completed, timeout, oom (None: not a run)

    @property
    def matches_search(self) -> bool:
        """Whether ``find SCRATCH -name 'slurm-*.out' -path '*/ck-out-*' -size +100k`` lists it."""
        return find_matches(self.path, self.size)

    def __repr__(self) -> str:
        speed = f", {self.steady_its:g} it/s" if self.steady_its else ""
        return f"DemoRun({self.name}/{self.path.name}, {self.kind}, {self.size:,} B{speed})"


def find_matches(path: str | os.PathLike[str], size: int) -> bool:
    """``find``'s ``-name 'slurm-*.out' -path '*/ck-out-*' -size +100k`` on one file."""
    text = os.fspath(path)
    return (
        fnmatch.fnmatchcase(os.path.basename(text), SEARCH_NAME)
        and fnmatch.fnmatchcase(text, SEARCH_PATH)
        and math.ceil(size / 1024) > SEARCH_MIN_KIB
    )


@dataclass(frozen=True)
class RunSpec:
    """One prior run to write: where, what kind, and how it went."""

    directory: str
    job_id: int
    kind: str
    description: str
    days_ago: float  # before the demo's "today", for modification times
    steady_its: float = 0.0
    epochs: int = 1
    target_bytes: int | None = None
    steps_per_epoch: int = 500
    validation_every: int | None = None
    killed: bool = False
    seed: int = 0
    config: TorchtuneConfig | None = None


# The plan of the demo: LoRA r8 of Llama-3.2-1B-Instruct, batch size 4, sequences of 512.
_PLAN = TorchtuneConfig()
_LLAMA_8B = TorchtuneConfig(
    model="Llama-3.1-8B-Instruct",
    component="torchtune.models.llama3_1.lora_llama3_1_8b",
    model_type="LLAMA3",
    metric_logger="DiskLogger",
    tokens_per_step=900.0,
)


RUNS: tuple[RunSpec, ...] = (
    RunSpec(
        "ck-out-happy-narwhal",
        4187301,
        "training",
        "LoRA r8 of Llama-3.2-1B-Instruct, batch size 4, max_seq_len 512, 2 epochs, a "
        "checkpoint per epoch: the run like the plan",
        9.2,
        steady_its=4.34,
        epochs=2,
        target_bytes=430_000,
        seed=11,
        config=_PLAN,
    ),
    RunSpec(
        "ck-out-bright-horizon",
        4190412,
        "training",
        "the same recipe with batch size 8 (twice the tokens a step: fewer it/s, more "
        "tokens/s) and validation every 150 steps",
        7.6,
        steady_its=2.31,
        target_bytes=300_000,
        validation_every=150,
        seed=12,
        config=TorchtuneConfig(batch_size=8, tokens_per_step=1800.0),
    ),
    RunSpec(
        "ck-out-calm-dolphin",
        4195547,
        "slow",
        "another model (Llama-3.1-8B-Instruct), slow: tqdm prints s/it below 1 it/s; "
        "tokens/s in torchtune's DiskLogger file",
        5.3,
        steady_its=0.57,
        target_bytes=170_000,
        seed=13,
        config=_LLAMA_8B,
    ),
    RunSpec(
        "ck-out-swift-otter",
        4201876,
        "killed",
        "the plan's settings with LoRA r16, cancelled at its time limit in its second "
        "epoch (no final bar)",
        3.9,
        steady_its=3.95,
        epochs=2,
        target_bytes=230_000,
        killed=True,
        seed=14,
        config=TorchtuneConfig(lora_rank=16, lora_alpha=32),
    ),
    RunSpec(
        "ck-out-quiet-falcon",
        4203311,
        "failed",
        "batch size 16 and sequences of 2048: CUDA out of memory in its first step (a small "
        "file the default -size +100k hides)",
        3.1,
        seed=15,
        config=TorchtuneConfig(batch_size=16, max_seq_len=2048),
    ),
    RunSpec(
        "ck-out-tiny-heron",
        4205120,
        "smoke",
        "a 120-step smoke test of the plan's settings: too small for the default search",
        2.4,
        steady_its=4.4,
        steps_per_epoch=120,
        seed=16,
        config=_PLAN,
    ),
    RunSpec(
        "old-ck-out-2024",
        3950021,
        "decoy",
        "last year's run in a directory the path pattern */ck-out-* does not match",
        330.0,
        steady_its=3.1,
        target_bytes=200_000,
        seed=17,
    ),
    RunSpec(
        "data-prep",
        4180001,
        "unrelated",
        "tokenization of a dataset: numbers, but no progress bars",
        11.0,
        seed=18,
    ),
    RunSpec(
        "eval-cap-8L",
        4210007,
        "unrelated",
        "an evaluation job's output, outside any ck-out-* directory",
        1.2,
        seed=19,
    ),
)
# An inspect-ai evaluation of the base model on the test split: its end-of-eval summary gives
# the evaluation throughput the plan's evaluation time is estimated from.
EVAL_OUTPUT = "inspect-cap-8L-base/slurm-4211002.out"
EVAL_SECONDS = 250.5
EVAL_SAMPLES = 1000
REFERENCE_RUN = "ck-out-happy-narwhal"
# The demo's "today", for modification times only (nothing reads the clock: builds are equal).
_TODAY = datetime(2025, 10, 22, 9, 0, 0).timestamp()


def write_eval_output(scratch: Path) -> Path:
    """An inspect-ai run's output as its rich display prints it at the end (80 columns)."""
    path = scratch / EVAL_OUTPUT
    path.parent.mkdir(parents=True, exist_ok=True)
    minutes, seconds = divmod(EVAL_SECONDS, 60)
    title = f"capitalization ({EVAL_SAMPLES:,} samples): hf/Llama-3.2-1B-Instruct"
    rows = [
        "host=gpu-node-02 jobid=4211002",
        "[10/21/25 16:40:02] INFO     Loading model hf/Llama-3.2-1B-Instruct        hf.py:112",
        "╭" + "─" * 78 + "╮",
        "│" + title.ljust(78) + "│",
        "╰" + "─" * 78 + "╯",
        "max_tokens: 16, dataset: words_8L_80P_10000.json (test)".ljust(80),
        " " * 80,
        ("total time:".ljust(36) + f"0:{int(minutes):02d}:{seconds:09.6f}").ljust(80),
        ("hf/Llama-3.2-1B-Instruct".ljust(36) + "96,412 tokens [I: 88,412, O: 8,000]").ljust(80),
        " " * 80,
        "match".ljust(80),
        "accuracy  0.412".ljust(80),
        "stderr    0.016".ljust(80),
        " " * 80,
        "Log: logs/2025-10-21T16-40-02+00-00_capitalization_Q2k8vR4mZt.eval".ljust(80),
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    os.utime(path, (_TODAY - 86400, _TODAY - 86400))
    return path


def write_prior_run(scratch: Path, spec: RunSpec) -> DemoRun:
    """Write ``spec``'s output (and what torchtune leaves beside it) under ``scratch``."""
    directory = scratch / spec.directory
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"slurm-{spec.job_id}.out"
    epochs: int | None = None
    steps: int | None = None
    steady: float | None = None
    tokens: float | None = None
    outcome: str | None = None
    if spec.kind == "failed":
        synthetic.write_failed_out(path, seed=spec.seed, config=spec.config, job_id=spec.job_id)
        outcome = "oom"
    elif spec.kind == "unrelated":
        synthetic.write_unrelated_out(path, seed=spec.seed)
    else:
        facts = synthetic.write_torchtune_out(
            path,
            steady_its=spec.steady_its,
            epochs=spec.epochs,
            steps_per_epoch=spec.steps_per_epoch,
            target_bytes=spec.target_bytes,
            validation_every=spec.validation_every,
            killed=spec.killed,
            seed=spec.seed,
            job_id=spec.job_id,
            config=spec.config,
        )
        epochs, steps, steady = facts.epochs_started, facts.steps_per_epoch, facts.steady_its
        tokens = facts.tokens_per_s
        outcome = "timeout" if spec.killed else "completed"
        disk = _write_run_extras(directory, spec, epochs if not spec.killed else epochs - 1)
        tokens = disk if disk is not None else tokens
    stamp = _TODAY - spec.days_ago * 86400
    os.utime(path, (stamp, stamp))
    return DemoRun(
        name=spec.directory,
        job_id=spec.job_id,
        path=path.resolve(),
        kind=spec.kind,
        size=path.stat().st_size,
        steady_its=steady,
        epochs=epochs,
        steps_per_epoch=steps,
        description=spec.description,
        config=spec.config,
        tokens_per_s=tokens,
        outcome=outcome,
    )


def _write_run_extras(directory: Path, spec: RunSpec, finished_epochs: int) -> float | None:
    """What torchtune leaves beside the SLURM output: epoch checkpoints, and the log file of
    a run whose config has the DiskLogger (the same ``Step N | ...`` lines StdoutLogger
    prints). Returns the true tokens/s per GPU of that log (the median after its warmup)."""
    tokens = None
    config = spec.config
    if config is not None and config.metric_logger == "DiskLogger":
        logs = directory / "logs"
        logs.mkdir(exist_ok=True)
        rng = random.Random(spec.seed)
        lines = []
        values = []
        loss = 2.5
        for step in range(1, 41):
            loss = max(0.3, loss * 0.97 + (rng.random() - 0.5) * 0.05)
            value = config.tokens_per_step * spec.steady_its * (0.9 + 0.2 * rng.random())
            values.append(round(value, 2))
            lines.append(
                f"Step {step} | loss:{loss:.4f} lr:{config.lr} "
                f"tokens_per_second_per_gpu:{value:.2f} "
            )
        (logs / disk_log_name(spec.job_id)).write_text("\n".join(lines) + "\n")
        tokens = statistics.median(values[4:])  # 10% of 40 logged steps are warmup
    for epoch in range(finished_epochs):
        checkpoint = directory / f"epoch_{epoch}"
        checkpoint.mkdir(exist_ok=True)
        (checkpoint / "config.json").write_text(json_text(model_config()))
        (checkpoint / "generation_config.json").write_text(json_text(generation_config()))
    return tokens
