"""Experiments laid out on disk for the outcome and calibration tests.

An experiment directory holds ``experiment_summary.yaml`` (the upstream schema, written here
with PyYAML from a plain dict), ``design-experiment.log`` (entries written by hand in the
log's format: ``[YYYY-MM-DD HH:MM:SS] ACTION: brief`` then ``Field: value`` lines and a blank
line) and one directory per run with its ``slurm-<jobid>.out`` copied from tests/data.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data"
OLD = 1_700_000_000  # a modification time long past: finished outputs are old


def plan(
    directory: Path,
    runs: list[dict[str, Any]],
    *,
    epochs: int = 1,
    batch_size: int = 4,
    models: tuple[str, ...] = ("Llama-3.2-1B-Instruct",),
    date: str = "2025-10-22",
    eval_time: str | None = None,
) -> dict[str, Any]:
    """A valid experiment_summary.yaml. Each run: name, type (fine-tuned), model (the first),
    parameters ({lora_rank: 8} for a fine-tuned run), time (its compute.time)."""
    planned = []
    for run in runs:
        kind = run.get("type", "fine-tuned")
        entry: dict[str, Any] = {
            "name": run["name"],
            "type": kind,
            "model": run.get("model", models[0]),
            "parameters": run.get("parameters", {"lora_rank": 8} if kind == "fine-tuned" else {}),
        }
        if run.get("time"):
            entry["compute"] = {"time": run["time"], "gpus": 1, "mem": "80G"}
        planned.append(entry)
    evaluation: dict[str, Any] = {
        "system_prompt": None,
        "temperature": None,
        "scorers": [{"name": "match"}],
        "tasks": [
            {
                "name": "capitalization",
                "script": "/repo/blueprints/capitalization/inspect_task.py",
                "description": "Capitalize the word",
            }
        ],
        "matrix": [
            {
                "run": r["name"],
                "tasks": ["capitalization"],
                "epochs": None
                if r["type"] == "control"
                else [r["parameters"].get("epochs", epochs) - 1],
            }
            for r in planned
        ],
    }
    if eval_time:
        evaluation["compute"] = {"time": eval_time, "gpus": 1}
    return {
        "experiment": {
            "name": directory.name,
            "project": "capitalization",
            "question": "Which LoRA rank capitalizes best?",
            "date": date,
            "dir": str(directory),
        },
        "tools": {"preparation": "torchtune", "evaluation": "inspect-ai"},
        "variables": {},
        "controls": {
            "system_prompt": "",
            "prompt": "Capitalize: {input}\n",
            "dataset_type": "chat_completion",
            "epochs": epochs,
            "batch_size": batch_size,
            "gradient_accumulation_steps": 1,
        },
        "models": {"base": [{"name": m, "path": f"/models/{m}", "size_gb": 2.3} for m in models]},
        "data": {
            "training": {
                "path": "/repo/data/words.json",
                "dataset_label": "words",
                "format": "json",
                "size_kb": 400,
                "splits": {"train": 8000, "validation": 1000, "test": 1000},
            }
        },
        "output": {"wandb_project": "capitalization"},
        "runs": planned,
        "evaluation": evaluation,
    }


def entry(stamp: str, action: str, brief: str, **fields: str) -> str:
    """One log entry as a person writes it (keywords become field names: ``Covers=``)."""
    lines = [f"[{stamp}] {action}: {brief}"]
    for name, value in fields.items():
        head, *rest = value.split("\n")
        lines.append(f"{name.replace('_', ' ')}: {head}")
        lines += [f"  {line}" for line in rest]
    return "\n".join(lines) + "\n\n"


def time_estimate(stamp: str, minutes: float, covers: str, limit: float | None = None) -> str:
    """A CALCULATE_TIME estimate as ``%%log_calc --estimate total_min --covers ...`` logs it."""
    fields = {
        "Input": f"total_s={minutes * 60:g}",
        "Calculation": f"total_min = total_s / 60 = {minutes:g}",
        "Result": f"About {minutes:.0f} minutes per run",
        "Estimate": f"total_min = {minutes:.2f} min per run",
    }
    if limit is not None:
        fields["Limit"] = f"slurm_min = {limit:.2f} min per run"
    fields["Covers"] = covers
    return entry(stamp, "CALCULATE_TIME", "Training time estimate", **fields)


def write_experiment(directory: Path, plan_data: dict[str, Any], log: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "experiment_summary.yaml").write_text(
        yaml.safe_dump(plan_data, sort_keys=False), encoding="utf-8"
    )
    (directory / "design-experiment.log").write_text(log, encoding="utf-8")
    return directory


def add_output(
    directory: Path, run: str, source: Path, job_id: str | int, *, where: str = ""
) -> Path:
    """Copy ``source`` to ``{directory}/{run}/{where}/slurm-{job_id}.out``, made old."""
    target = directory / run / where / f"slurm-{job_id}.out"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.utime(target, (OLD, OLD))
    return target
