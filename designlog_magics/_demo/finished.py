"""The demo experiment after its runs: what SLURM and inspect-ai leave in its run directories.

The demo notebook plans ``r8``, ``r16``, ``r32`` (LoRA ranks 8/16/32 of Llama-3.2-1B-Instruct,
batch size 4, 2 epochs of 8,000 samples: 4,000 steps; the prior run's 4.34 it/s gives an
estimate of about 15.4 min per run) and ``base`` (a control), with a time limit of the estimate
times the calibration factor (``history``: 1.27 like the plan's model, 1.36 over every run).
``finish_demo_runs(experiment_dir)`` reads that plan (``experiment_summary.yaml``: the runs,
their ``compute.time``) and its log (the estimate covering each run) and writes, in
``{experiment_dir}/{run}/slurm-<id>.out``, the runs as they went (``OUTCOMES``):

* ``r8``: well estimated: its bars add up to 1.06 x the estimate (within the margin);
* ``r16``: under-estimated: it went at about 2.9 it/s, needed about 1.6 x the estimate, and
  SLURM killed it at its ``compute.time`` (``CANCELLED AT ... DUE TO TIME LIMIT``);
* ``r32``: over-estimated: it landed on a faster GPU and took half the estimate (0.50 x);
* any other fine-tuned run of the plan: like ``r8``.

Each run that finished, and ``base``, has its inspect-ai evaluation under
``{run}/eval/capitalization_epoch1/`` (``capitalization`` for the control), taking 1.08 x the
plan's evaluation estimate per job (or of the prior eval's 250.5 s when the log has none):
within the margin. ``r16`` has no evaluation: its checkpoint was never written.

The exact truths (whole seconds, as tqdm prints them) come back in :class:`FinishedDemo`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan_yaml import (
    EVALUATION,
    Estimate,
    PlanError,
    load_plan,
    parse_estimate,
    resolve_estimates,
    wall_time_seconds,
)
from ..store import LOG_FILENAME, read_log
from .priorruns import EVAL_SECONDS  # the prior inspect-ai run of the demo data
from .runwriter import STARTUP, WrittenRun, write_eval, write_run
from .torchtuneconfig import TorchtuneConfig

STEPS_PER_EPOCH = 2000  # 8,000 samples at batch size 4
EPOCHS = 2
SAVE_SECONDS = 40.0
OUTCOMES = {"r8": 1.06, "r16": 1.6, "r32": 0.5}  # actual/estimated (r16: what it needed)
EVAL_RATIO = 1.08
DEFAULT_ESTIMATE = STEPS_PER_EPOCH * EPOCHS / 4.34  # seconds, when the log has none
_JOB = 4302101


@dataclass(frozen=True)
class FinishedRun:
    """One run of the plan as it went, with the truths a reader must find."""

    name: str
    kind: str  # within, killed, over, control
    estimate_seconds: float | None  # the Estimate covering it (None: a control run)
    limit_seconds: int | None  # its compute.time
    written: WrittenRun | None  # its training output (None: a control run)
    eval_path: Path | None
    eval_seconds: float | None

    @property
    def actual_seconds(self) -> int | None:
        """tqdm's training seconds (a killed run: up to its last step)."""
        return self.written.training_seconds if self.written else None

    @property
    def ratio(self) -> float | None:
        if self.written is None or not self.estimate_seconds:
            return None
        return self.written.training_seconds / self.estimate_seconds

    @property
    def verdict(self) -> str | None:
        """What the outcome must say of its training time."""
        return {
            "within": "within the margin",
            "killed": "UNDER-ESTIMATED",
            "over": "over-estimated",
        }.get(self.kind)


@dataclass(frozen=True)
class FinishedDemo:
    """The runs written by :func:`finish_demo_runs`."""

    experiment_dir: Path
    runs: tuple[FinishedRun, ...]

    def run(self, name: str) -> FinishedRun:
        for run in self.runs:
            if run.name == name:
                return run
        raise KeyError(name)


def _estimates(
    experiment_dir: Path, runs: list[dict[str, Any]]
) -> tuple[dict[str, Estimate], Estimate | None]:
    """The estimate covering each run (the latest wins), and the evaluation's."""
    entries = read_log(experiment_dir / LOG_FILENAME).entries
    found = []
    for index, entry in enumerate(entries):
        if entry.failed:
            continue
        try:
            estimate = parse_estimate(entry)
        except PlanError:
            continue
        if estimate is not None:
            found.append((index, estimate))
    training = [(i, e) for i, e in found if e.action != "CALCULATE_EVAL_TIME"]
    evaluation = [(i, e) for i, e in found if e.action == "CALCULATE_EVAL_TIME"]
    per_run, _, _ = resolve_estimates(training, runs)
    eval_estimate = evaluation[-1][1] if evaluation else None
    if eval_estimate is None:
        _, eval_estimate, _ = resolve_estimates(
            [(i, e) for i, e in found if EVALUATION in e.covers], runs
        )
    return per_run, eval_estimate


def finish_demo_runs(experiment_dir: str | os.PathLike[str]) -> FinishedDemo:
    """Write the finished runs of the demo's plan (see the module docstring).

    Raises ``PlanError`` when the experiment has no readable ``experiment_summary.yaml``.
    """
    directory = Path(experiment_dir)
    plan = load_plan(directory / "experiment_summary.yaml")
    runs = [r for r in plan["runs"] if isinstance(r, dict)]
    per_run, eval_estimate = _estimates(directory, runs)
    eval_seconds = float(eval_estimate.seconds) if eval_estimate is not None else EVAL_SECONDS
    finished = []
    job = _JOB
    for run in runs:
        name = str(run["name"])
        compute = run.get("compute") if isinstance(run.get("compute"), dict) else {}
        limit = wall_time_seconds((compute or {}).get("time"))
        if run.get("type") != "fine-tuned":
            path = directory / name / "eval" / "capitalization" / f"slurm-{job + 100}.out"
            base_took = round(EVAL_RATIO * eval_seconds, 2)
            write_eval(path, model=f"hf/{name}_base", seconds=base_took, job_id=job + 100)
            finished.append(FinishedRun(name, "control", None, limit, None, path, base_took))
            job += 1
            continue
        estimate = per_run.get(name)
        seconds = float(estimate.seconds) if estimate is not None else DEFAULT_ESTIMATE
        ratio = OUTCOMES.get(name, OUTCOMES["r8"])
        kind = {"r16": "killed", "r32": "over"}.get(name, "within")
        rank = (run.get("parameters") or {}).get("lora_rank", 8)
        config = TorchtuneConfig(lora_rank=rank, lora_alpha=2 * rank)
        path = directory / name / f"slurm-{job}.out"
        common: dict[str, Any] = {
            "config": config,
            "job_id": job,
            "epochs": EPOCHS,
            "steps_per_epoch": STEPS_PER_EPOCH,
            "save_seconds": SAVE_SECONDS,
            "seed": job,
        }
        if kind == "killed":
            needed = ratio * seconds - 2 * SAVE_SECONDS
            kill_at = limit or int(1.3 * seconds + STARTUP)
            written = write_run(
                path,
                step_seconds=needed / (STEPS_PER_EPOCH * EPOCHS),
                limit_seconds=kill_at,
                **common,
            )
        else:
            total = round(ratio * seconds)
            written = write_run(path, epoch_seconds=[total // 2, total - total // 2], **common)
        eval_path: Path | None = None
        took: float | None = None
        if not written.killed:
            eval_path = (
                directory / name / "eval" / "capitalization_epoch1" / f"slurm-{job + 100}.out"
            )
            took = round(EVAL_RATIO * eval_seconds, 2)
            write_eval(eval_path, model=f"hf/{name}_epoch_1", seconds=took, job_id=job + 100)
        finished.append(FinishedRun(name, kind, seconds, limit, written, eval_path, took))
        job += 1
    return FinishedDemo(directory, tuple(finished))
