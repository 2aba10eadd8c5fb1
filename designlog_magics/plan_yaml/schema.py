"""What an ``experiment_summary.yaml`` is: the upstream template's schema and its rules.

Why its own module: every other part of the plan speaks this vocabulary (run types, training
keys, the template's key order, the ``H:MM:SS`` form of ``compute.time``) and the plan that is
built, and the one a person edited, are both held to the same rules. ``validate_plan`` is
cruijff_kit's schema test and template (``.claude/skills/design-experiment/templates/
experiment_summary.yaml``) as our own code: one line ``field: what is wrong`` per problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, TypeGuard

from ..exceptions import DesignLogError

RUN_TYPES = ("fine-tuned", "control", "eval-only")
FINE_TUNED, CONTROL = "fine-tuned", "control"
DATASET_TYPES = ("chat_completion", "text_completion")
TOOLS = {"preparation": "torchtune", "evaluation": "inspect-ai"}
TRAINING_KEYS = ("epochs", "batch_size", "gradient_accumulation_steps")
# compute.time: SLURM's H:MM:SS (see estimates.compute_time); experiment.date: YYYY-MM-DD.
WALL_TIME_RE = re.compile(r"(?P<h>[0-9]+):(?P<m>[0-5][0-9]):(?P<s>[0-5][0-9])")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Key order of the template (.claude/skills/design-experiment/templates/experiment_summary.yaml).
KEY_ORDER: dict[str, tuple[str, ...]] = {
    "experiment": ("name", "project", "question", "date", "hypothesis", "purpose", "dir"),
    "tools": ("preparation", "evaluation"),
    "controls": (
        "system_prompt",
        "prompt",
        "dataset_type",
        "epochs",
        "batch_size",
        "gradient_accumulation_steps",
        "validation_during_training",
        "seed",
    ),
    "model": ("name", "path", "size_gb"),
    "training": ("path", "dataset_label", "format", "size_kb", "splits"),
    "splits": ("train", "validation", "test"),
    "output": ("wandb_project",),
    "run": ("name", "type", "model", "parameters", "compute"),
    "compute": ("time", "gpus", "mem", "cpus_per_task"),
    "evaluation": (
        "system_prompt",
        "temperature",
        "do_sample",
        "seed",
        "max_tokens",
        "max_connections",
        "scorers",
        "tasks",
        "compute",
        "matrix",
    ),
    "task": ("name", "script", "dataset", "eval_condition", "description"),
    "cell": ("run", "vis_label", "tasks", "epochs"),
}
# What a plan must hold: the upstream schema test's requirements, and the template's REQUIRED
# where the test says nothing (controls.system_prompt, dataset_type, gradient_accumulation_steps).
REQUIRED_FIELDS = (
    "experiment.name",
    "experiment.project",
    "experiment.question",
    "experiment.date",
    "experiment.dir",
    "tools.preparation",
    "tools.evaluation",
    "variables",
    "controls.system_prompt",
    "controls.prompt",
    "controls.dataset_type",
    "controls.epochs",
    "controls.batch_size",
    "controls.gradient_accumulation_steps",
    "models.base",
    "data.training.path",
    "data.training.dataset_label",
    "data.training.format",
    "data.training.size_kb",
    "data.training.splits",
    "output.wandb_project",
    "runs",
    "evaluation.system_prompt",
    "evaluation.temperature",
    "evaluation.scorers",
    "evaluation.tasks",
    "evaluation.matrix",
)


class PlanError(DesignLogError):
    """An experiment_summary.yaml that cannot be built, read or written: one plain line."""


def show_value(value: object) -> str:
    """A value of the plan as a problem line quotes it (JSON: text in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


def wall_time_seconds(text: object) -> int | None:
    """Seconds in an ``H:MM:SS`` string, ``None`` for anything else."""
    if not isinstance(text, str):
        return None
    match = WALL_TIME_RE.fullmatch(text)
    if match is None:
        return None
    return int(match["h"]) * 3600 + int(match["m"]) * 60 + int(match["s"])


def valid_date(text: str) -> bool:
    """``text`` is a real date written ``YYYY-MM-DD``."""
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return bool(DATE_RE.fullmatch(text))


def run_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a run (a directory the scaffolders create), or ``None``."""
    if not isinstance(name, str) or not name.strip():
        return f"run name {show_value(name)} is empty or not text"
    if "/" in name or "\\" in name or "\x00" in name or ".." in name or name.startswith("-"):
        return f"run name {show_value(name)} has path characters (/, \\, .., NUL or a leading -)"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name) or name != name.strip():
        return f"run name {show_value(name)} has control characters or surrounding spaces"
    return None


def is_int(value: object) -> TypeGuard[int]:
    """A whole number, and no ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


class _Rules:
    """The problems of a plan, each ``field: what is wrong``."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, text: str) -> None:
        self.problems.append(text)

    def mapping(self, plan: Mapping[str, Any], key: str, where: str = "") -> dict[str, Any] | None:
        """The section ``key`` of ``plan``; ``None`` (and a problem) when it is no mapping."""
        path = f"{where}{key}"
        value = plan.get(key)
        if value is None and key not in plan:
            self.add(f"{path}: missing")
            return None
        if not isinstance(value, dict):
            self.add(f"{path}: must be a mapping, not {_kind(value)}")
            return None
        return value

    def mappings(
        self, section: Mapping[str, Any], key: str, where: str = ""
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """The items of the non-empty list ``key`` that are mappings, with their index; a
        problem for a list that is missing or empty, and one for each item that is no mapping."""
        items = section.get(key)
        if not isinstance(items, list) or not items:
            self.add(f"{where}{key}: must be a non-empty list")
            return
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, item
            else:
                self.add(f"{where}{key}[{index}]: must be a mapping")

    def text(self, section: Mapping[str, Any], key: str, where: str) -> None:
        if key not in section:
            self.add(f"{where}{key}: missing")
        elif not _text(section[key]):
            self.add(f"{where}{key}: must be non-empty text, not {_show_short(section[key])}")

    def positive_int(self, section: Mapping[str, Any], key: str, where: str) -> None:
        if key not in section:
            self.add(f"{where}{key}: missing")
        elif not is_int(section[key]) or section[key] <= 0:
            self.add(
                f"{where}{key}: must be a positive whole number, not {_show_short(section[key])}"
            )

    def wall_time(self, compute: object, where: str) -> None:
        if compute is None:
            return
        if not isinstance(compute, dict):
            self.add(f"{where}compute: must be a mapping, not {_kind(compute)}")
            return
        if "time" not in compute:
            return
        seconds = wall_time_seconds(compute["time"])
        if seconds is None or seconds <= 0:
            hint = (
                " (quote it: YAML 1.1 reads an unquoted 1:30:00 as a number)"
                if is_int(compute["time"])
                else ""
            )
            self.add(
                f'{where}compute.time: must be a positive "H:MM:SS" text, not '
                f"{_show_short(compute['time'])}{hint}"
            )


def _kind(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _show_short(value: object) -> str:
    text = show_value(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_plan(plan: object) -> list[str]:
    """The upstream structural rules (cruijff_kit's schema test and template) as our own code.

    Returns one line per problem, ``field: what is wrong``; empty when the plan passes. Where
    the upstream test is stricter than the template it is followed (``controls.prompt`` with
    ``{input}``, ``evaluation.system_prompt``/``temperature`` present), except that ``eval-only``
    runs, which the template and the scaffolders define, are accepted.
    """
    rules = _Rules()
    if not isinstance(plan, dict):
        return [f"the plan must be a mapping, not {_kind(plan)}"]
    experiment = rules.mapping(plan, "experiment")
    if experiment is not None:
        for key in ("name", "project", "question", "dir"):
            rules.text(experiment, key, "experiment.")
        value = experiment.get("date")
        if "date" not in experiment:
            rules.add("experiment.date: missing")
        elif not isinstance(value, str) or not valid_date(value):
            hint = (
                " (quote it: YAML reads an unquoted date as a date)"
                if isinstance(value, date)
                else ""
            )
            rules.add(
                f'experiment.date: must be a "YYYY-MM-DD" text, not {_show_short(value)}{hint}'
            )
        for legacy, new in (("directory", "dir"), ("type", "project")):
            if legacy in experiment:
                rules.add(f"experiment.{legacy}: a legacy key (use experiment.{new})")
        for key in ("hypothesis", "purpose"):
            if key in experiment and not isinstance(experiment[key], str):
                rules.add(f"experiment.{key}: must be text")

    tools = rules.mapping(plan, "tools")
    for key, wanted in TOOLS.items():
        if tools is not None and tools.get(key) != wanted:
            rules.add(f"tools.{key}: must be {wanted!r}, not {_show_short(tools.get(key))}")

    variables = rules.mapping(plan, "variables") or {}
    for key, values in variables.items():
        if not isinstance(values, list) or not values:
            rules.add(f"variables.{key}: must be a non-empty list")

    controls = rules.mapping(plan, "controls")
    if controls is not None:
        if "system_prompt" not in controls:
            rules.add('controls.system_prompt: missing (use "" for a blank system prompt)')
        elif not isinstance(controls["system_prompt"], str):
            rules.add("controls.system_prompt: must be text")
        prompt = controls.get("prompt")
        if not isinstance(prompt, str) or "{input}" not in prompt:
            rules.add("controls.prompt: must be text with the {input} placeholder")
        if controls.get("dataset_type") not in DATASET_TYPES:
            rules.add(
                f"controls.dataset_type: must be chat_completion or text_completion, not "
                f"{_show_short(controls.get('dataset_type'))}"
            )
        for key in TRAINING_KEYS:
            rules.positive_int(controls, key, "controls.")
        if "validation_during_training" in controls and not isinstance(
            controls["validation_during_training"], bool
        ):
            rules.add("controls.validation_during_training: must be true or false")
        if "seed" in controls and not is_int(controls["seed"]):
            rules.add("controls.seed: must be a whole number")

    models = rules.mapping(plan, "models")
    base_names: set[str] = set()
    if models is not None:
        for index, model in rules.mappings(models, "base", "models."):
            where = f"models.base[{index}]."
            rules.text(model, "name", where)
            rules.text(model, "path", where)
            if not _is_number(model.get("size_gb")) or model["size_gb"] < 0:
                rules.add(f"{where}size_gb: must be a number of GB")
            if isinstance(model.get("name"), str):
                base_names.add(model["name"])

    data = rules.mapping(plan, "data")
    training = rules.mapping(data, "training", "data.") if data is not None else None
    if training is not None:
        for key in ("path", "dataset_label"):
            rules.text(training, key, "data.training.")
        if training.get("format") != "json":
            rules.add(
                f'data.training.format: must be "json", not {_show_short(training.get("format"))}'
            )
        if not is_int(training.get("size_kb")) or training["size_kb"] < 0:
            rules.add("data.training.size_kb: must be a whole number of KB")
        if "label" in training:
            rules.add("data.training.label: a legacy key (use data.training.dataset_label)")
        splits = training.get("splits")
        if not isinstance(splits, dict):
            rules.add("data.training.splits: must be a mapping of train, validation, test counts")
        else:
            for key in ("train", "validation", "test"):
                if not is_int(splits.get(key)) or splits[key] < 0:
                    rules.add(f"data.training.splits.{key}: must be a whole number")
            counts = [splits.get(k) for k in ("train", "validation", "test")]
            if all(is_int(c) for c in counts) and sum(counts) <= 0:  # type: ignore[arg-type]
                rules.add("data.training.splits: the total must be positive")

    output = rules.mapping(plan, "output")
    if output is not None:
        rules.text(output, "wandb_project", "output.")

    run_by_name: dict[str, dict[str, Any]] = {}
    for index, run in rules.mappings(plan, "runs"):
        label = run.get("name") if isinstance(run.get("name"), str) else index
        where = f"runs[{label}]."
        problem = run_name_problem(run.get("name"))
        if problem:
            rules.add(f"runs[{index}].name: {problem}")
        elif run["name"] in run_by_name:
            rules.add(f"runs[{label}]: the name is used twice")
        else:
            run_by_name[run["name"]] = run
        if run.get("type") not in RUN_TYPES:
            rules.add(
                f"{where}type: must be fine-tuned, control or eval-only, "
                f"not {_show_short(run.get('type'))}"
            )
        model_name = run.get("model")  # a list or mapping is no name
        if not isinstance(model_name, str) or model_name not in base_names:
            rules.add(f"{where}model: {_show_short(run.get('model'))} is not a models.base name")
        params = run.get("parameters")
        if not isinstance(params, dict):
            rules.add(f"{where}parameters: must be a mapping ({{}} for none)")
            params = {}
        elif run.get("type") == FINE_TUNED and not params:
            rules.add(f"{where}parameters: a fine-tuned run needs its parameter values")
        if "prompt" in params and (
            not isinstance(params["prompt"], str) or "{input}" not in params["prompt"]
        ):
            rules.add(f"{where}parameters.prompt: must be text with the {{input}} placeholder")
        rules.wall_time(run.get("compute"), where)
    for key, values in variables.items():
        if not isinstance(values, list):
            continue
        for value in values:
            if not any(
                isinstance(r.get("parameters"), dict) and r["parameters"].get(key) == value
                for r in run_by_name.values()
            ):
                rules.add(
                    f"variables.{key}: the value {_show_short(value)} is in no run's parameters"
                )

    evaluation = rules.mapping(plan, "evaluation")
    if evaluation is not None:
        for key in ("system_prompt", "temperature"):
            if key not in evaluation:
                rules.add(f"evaluation.{key}: missing (null when not set)")
        if evaluation.get("system_prompt") is not None and not isinstance(
            evaluation["system_prompt"], str
        ):
            rules.add("evaluation.system_prompt: must be text or null")
        temperature = evaluation.get("temperature")
        if temperature is not None and (not _is_number(temperature) or temperature < 0):
            rules.add("evaluation.temperature: must be a number or null")
        if evaluation.get("do_sample") is True and not (
            _is_number(temperature) and temperature > 0
        ):
            rules.add("evaluation.temperature: do_sample: true needs a temperature above 0")
        scorers = evaluation.get("scorers")
        if not isinstance(scorers, list) or not scorers:
            rules.add("evaluation.scorers: must be a non-empty list")
        else:
            for index, scorer in enumerate(scorers):
                if not isinstance(scorer, dict) or not _text(scorer.get("name")):
                    rules.add(f"evaluation.scorers[{index}]: needs a name")
        task_names: set[str] = set()
        for index, task in rules.mappings(evaluation, "tasks", "evaluation."):
            for key in ("name", "script", "description"):
                rules.text(task, key, f"evaluation.tasks[{index}].")
            if "prompt" in task and "{input}" not in str(task["prompt"]):
                rules.add(f"evaluation.tasks[{index}].prompt: must have the {{input}} placeholder")
            if isinstance(task.get("name"), str):
                if task["name"] in task_names:
                    rules.add(f"evaluation.tasks[{index}]: the name {task['name']!r} is used twice")
                task_names.add(task["name"])
        rules.wall_time(evaluation.get("compute"), "evaluation.")
        for index, cell in rules.mappings(evaluation, "matrix", "evaluation."):
            where = f"evaluation.matrix[{index}]."
            run_name = cell.get("run")
            cell_run = run_by_name.get(run_name) if isinstance(run_name, str) else None
            if cell_run is None:
                rules.add(f"{where}run: {_show_short(cell.get('run'))} is not a defined run")
            cell_tasks = cell.get("tasks")
            if not isinstance(cell_tasks, list) or not cell_tasks:
                rules.add(f"{where}tasks: must be a non-empty list of task names")
            else:
                for task in cell_tasks:
                    if not isinstance(task, str) or task not in task_names:
                        rules.add(f"{where}tasks: {_show_short(task)} is not a defined task")
            if "epochs" not in cell:
                rules.add(f"{where}epochs: missing (null for control and eval-only runs)")
            else:
                _check_epochs(rules, cell["epochs"], cell_run, controls or {}, where)
            if "vis_label" in cell and not isinstance(cell["vis_label"], str):
                rules.add(f"{where}vis_label: must be text")
    return rules.problems


def _check_epochs(
    rules: _Rules,
    epochs: object,
    run: Mapping[str, Any] | None,
    controls: Mapping[str, Any],
    where: str,
) -> None:
    if run is not None and run.get("type") in (CONTROL, "eval-only"):
        if epochs is not None:
            rules.add(f"{where}epochs: must be null for a {run['type']} run")
        return
    if epochs is None:
        if run is not None:
            rules.add(f"{where}epochs: a fine-tuned run is evaluated at a list of epochs")
        return
    if not isinstance(epochs, list) or not epochs or not all(is_int(e) and e >= 0 for e in epochs):
        rules.add(f"{where}epochs: must be a list of epoch numbers (0-indexed) or null")
        return
    params = run.get("parameters") if run is not None else None
    count = (
        (params or {}).get("epochs", controls.get("epochs"))
        if isinstance(params, dict | None)
        else None
    )
    if is_int(count) and max(epochs) >= count:
        rules.add(f"{where}epochs: {max(epochs)} is past the run's {count} epochs (0-indexed)")
