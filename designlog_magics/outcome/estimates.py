"""What the design log estimated, and for which planned run of the plan.

Why: an estimate covers some runs (its ``Covers:``; the latest covering a run wins), and the
plan (``experiment_summary.yaml``) names the runs; the outcome compares each run with the
estimate that covers it. The figures read: a time estimate's ``Estimate:`` (``CALCULATE_TIME``,
``CALCULATE_EVAL_TIME``), ``EXTRACT_SPEED``'s planned it/s and its ``Tokens:`` tokens/s per
GPU, ``CALCULATE_DISK``'s size.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..entry import Entry
from ..plan_yaml import (
    PLAN_FILENAME,
    Estimate,
    PlanError,
    covered_runs,
    parse_estimate,
    run_name_problem,
    wall_time_seconds,
)
from ..runoutputs import PlannedRun
from .lines import SIZE_UNITS, OutcomeError

DISK_ACTION = "CALCULATE_DISK"
SPEED_ACTION = "EXTRACT_SPEED"
_NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"
_SPEED_RESULT = re.compile(rf"(?:Throughput|Average speed) after warmup: ({_NUMBER}) it/s")
_TOKENS_FIELD = re.compile(rf"({_NUMBER}) tokens/s per GPU")
_SIZE_ESTIMATE = re.compile(rf"[A-Za-z_][A-Za-z0-9_]* = ({_NUMBER}) (TiB|GiB|MiB|TB|GB|MB)")
_ABOUT_SIZE = re.compile(rf"\bAbout ({_NUMBER}) ?(TiB|GiB|MiB|TB|GB|MB|T|G|M)\b")


@dataclass(frozen=True)
class Estimates:
    """What the log estimated: per run, the latest estimate covering it; the latest speed,
    tokens/s and disk figures."""

    training: dict[str, Estimate]  # run -> the latest time estimate covering it
    evaluation: dict[str, Estimate]  # run -> the latest eval time estimate covering it
    speed: tuple[Entry, float] | None  # EXTRACT_SPEED, it/s
    tokens: tuple[Entry, float] | None  # EXTRACT_SPEED, tokens/s per GPU
    disk: tuple[Entry, float, str] | None  # CALCULATE_DISK, bytes, unit


def section(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``mapping[key]`` when it is a mapping, else an empty one."""
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def planned_runs(plan: Mapping[str, Any]) -> list[PlannedRun]:
    """The plan's runs, each with its settings (controls, then its parameters) and time limit."""
    controls = section(plan, "controls")
    runs = []
    for run in plan.get("runs") or []:
        name = run.get("name")
        problem = run_name_problem(name)
        if problem:
            raise OutcomeError(f"{PLAN_FILENAME}: {problem}")
        params = section(run, "parameters")
        compute = section(run, "compute")
        model = run.get("model") if isinstance(run.get("model"), str) else None
        runs.append(
            PlannedRun(
                name,
                run.get("type") if isinstance(run.get("type"), str) else None,
                model,
                {**controls, **params},
                wall_time_seconds(compute.get("time")),
            )
        )
    return runs


def read_estimates(entries: Sequence[Entry], runs: Sequence[PlannedRun]) -> Estimates:
    """The estimates of ``entries`` for ``runs``; raises :class:`OutcomeError` for an estimate
    that covers a run the plan does not have."""
    training: dict[str, Estimate] = {}
    evaluation: dict[str, Estimate] = {}
    unmatched: dict[str, tuple[Estimate, list[str]]] = {}  # by action: the last estimate's
    speed = tokens = disk = None
    for entry in entries:
        if entry.failed:
            continue
        if entry.action == SPEED_ACTION:
            found = _SPEED_RESULT.match((entry.get("Result") or "").strip())
            if found:
                speed = (entry, _number(found.group(1)))
                rate = _TOKENS_FIELD.match((entry.get("Tokens") or "").strip())
                tokens = (entry, _number(rate.group(1))) if rate else None
            continue
        if entry.action == DISK_ACTION:
            size = _SIZE_ESTIMATE.fullmatch((entry.get("Estimate") or "").strip())
            size = size or _ABOUT_SIZE.search(entry.get("Result") or "")
            if size:
                disk = (entry, _number(size.group(1)) * SIZE_UNITS[size.group(2)], size.group(2))
            continue
        try:
            estimate = parse_estimate(entry)
        except PlanError as exc:
            raise OutcomeError(str(exc)) from None
        if estimate is None:
            continue
        coverage = covered_runs(estimate, [(r.name, r.type) for r in runs])
        for name in coverage.names:
            (evaluation if coverage.evaluation else training)[name] = estimate
        unmatched[entry.action] = (estimate, list(coverage.unmatched))
    for estimate, missing in unmatched.values():
        if missing:
            raise OutcomeError(
                f"the estimate of {estimate.describe()} covers {', '.join(missing)}, which no "
                f"run of {PLAN_FILENAME} is"
            )
    return Estimates(training, evaluation, speed, tokens, disk)
