"""Two finished experiments of the demo's past, for ``designlog calibrate``.

Under ``scratch/ck-projects/capitalization/`` (the upstream layout,
``{scratch}/ck-projects/{project}/{experiment}/``), each with its design log (an
``EXTRACT_SPEED`` and ``CALCULATE_TIME`` estimates with ``Estimate:``, ``Limit:`` = 1.5 x,
the fixed factor, and ``Covers:``), its ``experiment_summary.yaml`` and, in each run's
directory, the run's finished ``slurm-<id>.out``. The truths, actual/estimated of each run's
training time by tqdm's counters (``RATIOS``):

``cap_4L_lora_lr_sweep_2025-09-12`` (Llama-3.2-1B-Instruct, LoRA, estimate 5.00 min):
rank8_lr1e-5 1.08, rank8_lr5e-5 1.12, rank16_lr1e-5 1.21, rank16_lr5e-5 1.15,
rank32_lr1e-5 1.27, rank32_lr5e-5 1.18; a control run ``base`` (no training).

``cap_6L_lora_rank_sweep_2025-10-02``: Llama-3.2-1B-Instruct at 5.00 min, 1B_r4 1.05,
1B_r8 1.24, 1B_r16 1.31, 1B_r32 1.10; Llama-3.2-3B-Instruct at 10.00 min, 3B_r8 1.36, and
3B_r16 killed at its time limit (0:15:00, 1.5 x): 288 of 300 steps in 872 s by tqdm, at
least 1.45 x; at its pace (872 s x 300 / 288) it needed 908.3 s, 1.51 x.

So ``calibrate(scratch)`` gives (the p90 by nearest rank, the 11th of 12 ratios) **1.36**,
median 1.195; the fixed 1.5 covers 11 of the 12 runs (92%): too loose. Like
``model=Llama-3.2-1B-Instruct``: 10 runs, p90 (the 9th) **1.27**, median 1.165, and 1.5
covers all. Llama-3.2-3B-Instruct: 2 runs, median 1.44, p90 1.51. Every run's recipe is
``LoRAFinetuneRecipeSingleDevice``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ..entry import Entry
from ..plan_yaml import dump_plan
from ..textformat import render_all
from .runwriter import WrittenRun, write_run
from .torchtuneconfig import TorchtuneConfig

PROJECTS = Path("ck-projects") / "capitalization"
ONE_B = "Llama-3.2-1B-Instruct"
THREE_B = "Llama-3.2-3B-Instruct"
RECIPE = "LoRAFinetuneRecipeSingleDevice"
STEPS_PER_EPOCH = 150  # 1,200 samples at batch size 8
EPOCHS = 2
SAVE_SECONDS = 20.0
FIXED = 1.5
_CONFIGS = {
    ONE_B: TorchtuneConfig(batch_size=8),
    THREE_B: TorchtuneConfig(
        model=THREE_B, component="torchtune.models.llama3_2.lora_llama3_2_3b", batch_size=8
    ),
}
_STAMP = datetime(2025, 10, 10, 12, 0, 0).timestamp()  # finished outputs' modification time
# Where the experiments were designed, on the cluster: the plans and logs say so, and a build
# anywhere else writes the same bytes.
CLUSTER_SCRATCH = PurePosixPath("/scratch/gpfs/mlee")


@dataclass(frozen=True)
class _Planned:
    experiment: str
    run: str
    model: str
    rank: int
    lr: float
    estimate_min: float
    ratio: float | None  # actual/estimated; None: killed at its limit (``step_seconds``)
    step_seconds: float | None = None


def _runs() -> tuple[_Planned, ...]:
    a = "cap_4L_lora_lr_sweep_2025-09-12"
    b = "cap_6L_lora_rank_sweep_2025-10-02"
    return (
        _Planned(a, "rank8_lr1e-5", ONE_B, 8, 1e-5, 5.0, 1.08),
        _Planned(a, "rank8_lr5e-5", ONE_B, 8, 5e-5, 5.0, 1.12),
        _Planned(a, "rank16_lr1e-5", ONE_B, 16, 1e-5, 5.0, 1.21),
        _Planned(a, "rank16_lr5e-5", ONE_B, 16, 5e-5, 5.0, 1.15),
        _Planned(a, "rank32_lr1e-5", ONE_B, 32, 1e-5, 5.0, 1.27),
        _Planned(a, "rank32_lr5e-5", ONE_B, 32, 5e-5, 5.0, 1.18),
        _Planned(b, "1B_r4", ONE_B, 4, 1e-4, 5.0, 1.05),
        _Planned(b, "1B_r8", ONE_B, 8, 1e-4, 5.0, 1.24),
        _Planned(b, "1B_r16", ONE_B, 16, 1e-4, 5.0, 1.31),
        _Planned(b, "1B_r32", ONE_B, 32, 1e-4, 5.0, 1.10),
        _Planned(b, "3B_r8", THREE_B, 8, 1e-4, 10.0, 1.36),
        _Planned(b, "3B_r16", THREE_B, 16, 1e-4, 10.0, None, step_seconds=2.95),
    )


RATIOS = {(p.experiment, p.run): p.ratio for p in _runs()}
FACTOR = 1.36  # calibrate(scratch): the 11th of the 12 ratios
FACTOR_1B = 1.27  # like model=Llama-3.2-1B-Instruct: the 9th of 10
KILLED_AT_PACE = 872 * 300 / 288 / 600  # 3B_r16: tqdm's 872 s x 300 / 288 steps, over 600 s


@dataclass(frozen=True)
class HistoryRun:
    """One run of the past: its estimate and what tqdm's counters say it took."""

    experiment: str
    run: str
    model: str
    estimate_seconds: float
    written: WrittenRun

    @property
    def ratio(self) -> float:
        """actual/estimated (for a run killed at its limit, the lower bound)."""
        return self.written.training_seconds / self.estimate_seconds

    @property
    def counted_ratio(self) -> float:
        """What a calibration counts: a killed run at the pace it went."""
        written = self.written
        if not written.killed:
            return self.ratio
        pace = written.training_seconds * written.steps_planned / written.steps_done
        return pace / self.estimate_seconds


@dataclass(frozen=True)
class HistoryFacts:
    """Where the past experiments are and what their runs took."""

    root: Path  # scratch/ck-projects/capitalization
    experiments: tuple[Path, ...]
    runs: tuple[HistoryRun, ...]

    def ratios(self, model: str | None = None) -> list[float]:
        return [r.counted_ratio for r in self.runs if model is None or r.model == model]

    def factor(self, model: str | None = None) -> float:
        """The p90 by nearest rank of :meth:`ratios`."""
        ordered = sorted(self.ratios(model))
        return ordered[math.ceil(0.9 * len(ordered)) - 1]


def _plan(directory: PurePosixPath, date: str, runs: list[_Planned]) -> dict[str, Any]:
    models = sorted({r.model for r in runs})
    planned: list[dict[str, Any]] = []
    for r in runs:
        limit = compute_minutes(r.estimate_min * FIXED)
        planned.append(
            {
                "name": r.run,
                "type": "fine-tuned",
                "model": r.model,
                "parameters": {"lora_rank": r.rank, "lr": r.lr},
                "compute": {"time": f"0:{limit:02d}:00", "gpus": 1, "mem": "80G"},
            }
        )
    if directory.name.startswith("cap_4L"):
        planned.append({"name": "base", "type": "control", "model": ONE_B, "parameters": {}})
    return {
        "experiment": {
            "name": directory.name,
            "project": "capitalization",
            "question": "How do LoRA rank and learning rate change capitalization accuracy?",
            "date": date,
            "dir": str(directory),
        },
        "tools": {"preparation": "torchtune", "evaluation": "inspect-ai"},
        "variables": {"lora_rank": sorted({r.rank for r in runs})},
        "controls": {
            "system_prompt": "",
            "prompt": "Capitalize the word: {input}\n",
            "dataset_type": "chat_completion",
            "epochs": EPOCHS,
            "batch_size": 8,
            "gradient_accumulation_steps": 1,
            "validation_during_training": False,
        },
        "models": {
            "base": [
                {"name": m, "path": f"{CLUSTER_SCRATCH}/models/{m}", "size_gb": 2.3} for m in models
            ]
        },
        "data": {
            "training": {
                "path": f"{CLUSTER_SCRATCH}/data/capitalization/words.json",
                "dataset_label": "words",
                "format": "json",
                "size_kb": 95,
                "splits": {"train": 1200, "validation": 150, "test": 150},
            }
        },
        "output": {"wandb_project": "capitalization"},
        "runs": planned,
        "evaluation": {
            "system_prompt": None,
            "temperature": None,
            "scorers": [{"name": "match"}],
            "tasks": [
                {
                    "name": "capitalization",
                    "script": f"{CLUSTER_SCRATCH}/cruijff_kit/blueprints/capitalization/"
                    "inspect_task.py",
                    "description": "Capitalize the word",
                }
            ],
            "matrix": [
                {
                    "run": p["name"],
                    "tasks": ["capitalization"],
                    "epochs": None if p["type"] == "control" else [EPOCHS - 1],
                }
                for p in planned
            ],
        },
    }


def compute_minutes(minutes: float) -> int:
    """``compute.time``'s whole minutes: rounded up."""
    return math.ceil(round(minutes, 6))


def _log(
    directory: PurePosixPath, date: str, groups: dict[tuple[str, float], list[_Planned]]
) -> str:
    day = datetime.strptime(date, "%Y-%m-%d").replace(hour=10)
    entries = [
        Entry(
            day,
            "START_DESIGN",
            "Starting experiment design",
            (
                ("Command", f"designlog start {directory} --paths scratch_dir={CLUSTER_SCRATCH}"),
                ("Result", "Log started"),
            ),
        ),
        Entry(
            day.replace(minute=10),
            "EXTRACT_SPEED",
            "Analyzing ck-out-lucky-marten for training speed",
            (
                ("Command", "designlog speed {scratch_dir}/ck-out-lucky-marten/slurm-4100311.out"),
                ("Result", "Throughput after warmup: 1.00 it/s (280 steps in 280 s of training)"),
                ("Tokens", "900 tokens/s per GPU (median of 270 steps after 10 warmup)"),
            ),
        ),
    ]
    for minute, ((model, estimate), runs) in enumerate(sorted(groups.items()), start=20):
        speed = STEPS_PER_EPOCH * EPOCHS / (estimate * 60)
        limit = estimate * FIXED
        entries.append(
            Entry(
                day.replace(minute=minute),
                "CALCULATE_TIME",
                f"Training time of the {model} runs",
                (
                    ("Input", f"samples=1200, batch_size=8, epochs={EPOCHS}, speed={speed:g} it/s"),
                    (
                        "Calculation",
                        f"steps = samples / batch_size * epochs = {STEPS_PER_EPOCH * EPOCHS}, "
                        f"total_min = steps / speed / 60 = {estimate:g}, "
                        f"slurm_min = total_min * 1.5 = {limit:g}",
                    ),
                    ("Result", f"Estimated {estimate:g} minutes per run, {limit:g} asked"),
                    ("Estimate", f"total_min = {estimate:.2f} min per run"),
                    ("Limit", f"slurm_min = {limit:.2f} min per run"),
                    ("Covers", ", ".join(r.run for r in runs)),
                ),
            )
        )
    entries.append(
        Entry(
            day.replace(minute=50),
            "COMPLETE",
            "Design complete",
            (("Result", "Plan approved, files written"),),
        )
    )
    return render_all(entries)


def write_history(scratch: str | os.PathLike[str]) -> HistoryFacts:
    """Write the two past experiments under ``scratch`` (see the module docstring)."""
    root = Path(scratch) / PROJECTS
    by_experiment: dict[str, list[_Planned]] = {}
    for planned in _runs():
        by_experiment.setdefault(planned.experiment, []).append(planned)
    runs: list[HistoryRun] = []
    directories = []
    job = 4150001
    for name, planned_runs in by_experiment.items():
        directory = root / name
        directory.mkdir(parents=True, exist_ok=True)
        directories.append(directory)
        date = name.rsplit("_", 1)[1]
        designed = PurePosixPath(CLUSTER_SCRATCH, PROJECTS, name)
        (directory / "experiment_summary.yaml").write_text(
            dump_plan(_plan(designed, date, planned_runs)), encoding="utf-8"
        )
        groups: dict[tuple[str, float], list[_Planned]] = {}
        for planned in planned_runs:
            groups.setdefault((planned.model, planned.estimate_min), []).append(planned)
        (directory / "design-experiment.log").write_text(
            _log(designed, date, groups), encoding="utf-8"
        )
        for planned in planned_runs:
            estimate = planned.estimate_min * 60
            path = directory / planned.run / f"slurm-{job}.out"
            common: dict[str, Any] = {
                "config": _CONFIGS[planned.model],
                "job_id": job,
                "epochs": EPOCHS,
                "steps_per_epoch": STEPS_PER_EPOCH,
                "save_seconds": SAVE_SECONDS,
                "seed": job,
            }
            if planned.ratio is not None:
                total = round(planned.ratio * estimate)
                halves = [total // 2, total - total // 2]
                written = write_run(path, epoch_seconds=halves, **common)
            else:
                limit = compute_minutes(planned.estimate_min * FIXED) * 60
                written = write_run(
                    path, step_seconds=planned.step_seconds, limit_seconds=limit, **common
                )
            os.utime(path, (_STAMP, _STAMP))
            runs.append(HistoryRun(name, planned.run, planned.model, estimate, written))
            job += 1
    return HistoryFacts(root=root, experiments=tuple(directories), runs=tuple(runs))
