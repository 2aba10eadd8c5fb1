"""The plan against the log: where an ``experiment_summary.yaml`` and the log disagree.

Why its own module: a plan is a file people edit after it is written; the audit reads it back
and names each value that no longer matches what the log verified or estimated (the name, the
directory, the model and dataset paths, each ``compute.time``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..entry import Entry
from .estimates import Estimate, resolve_estimates
from .logfacts import read_log_facts
from .schema import PlanError, show_value


def check_plan(
    plan: Mapping[str, Any], entries: Sequence[Entry], paths: Mapping[str, str]
) -> list[str]:
    """Where the YAML and the log disagree: compute times, model and dataset paths, name, dir.

    Empty when they agree. Each run's ``compute.time`` must be its covering estimate rounded
    up as :func:`.estimates.compute_time` does (and absent when no estimate covers it).
    """
    facts = read_log_facts(entries, paths)
    problems = list(facts.problems)
    experiment = plan.get("experiment") if isinstance(plan.get("experiment"), dict) else {}
    assert isinstance(experiment, dict)
    if experiment.get("name") != facts.name:
        problems.append(
            f"experiment.name is {show_value(experiment.get('name'))} but the log's "
            f"DECIDE_NAMING decided {show_value(facts.name)}"
        )
    if experiment.get("dir") != facts.directory:
        problems.append(
            f"experiment.dir is {show_value(experiment.get('dir'))} but the log's START_DESIGN "
            f"Directory is {show_value(facts.directory)}"
        )
    models = plan.get("models") if isinstance(plan.get("models"), dict) else {}
    assert isinstance(models, dict)
    base = models.get("base") if isinstance(models.get("base"), list) else []
    for model in base or []:
        if not isinstance(model, dict):
            continue
        verified = facts.models.get(str(model.get("name")))
        if verified is None:
            problems.append(
                f"models.base {model.get('name')}: no VERIFY_MODEL in the log verified it"
            )
        elif model.get("path") != verified.path:
            problems.append(
                f"models.base {model.get('name')} path is {show_value(model.get('path'))} but "
                f"{verified.source} verified {show_value(verified.path)}"
            )
    data = plan.get("data") if isinstance(plan.get("data"), dict) else {}
    training = data.get("training") if isinstance(data, dict) else None
    path = training.get("path") if isinstance(training, dict) else None
    if facts.dataset is None:
        problems.append("data.training.path: no VERIFY_DATASET in the log verified a dataset")
    elif path != facts.dataset.path:
        problems.append(
            f"data.training.path is {show_value(path)} but {facts.dataset.source} verified "
            f"{show_value(facts.dataset.path)}"
        )
    runs = (
        [r for r in plan.get("runs") or [] if isinstance(r, dict)]
        if isinstance(plan.get("runs"), list)
        else []
    )
    per_run, eval_estimate, estimate_problems = resolve_estimates(facts.estimates, runs)
    problems += estimate_problems
    for run in runs:
        compute = run.get("compute")
        have = compute.get("time") if isinstance(compute, dict) else None
        problems += _compare_time(
            f"runs[{run.get('name')}].compute.time", have, per_run.get(str(run.get("name")))
        )
    evaluation = plan.get("evaluation") if isinstance(plan.get("evaluation"), dict) else {}
    compute = evaluation.get("compute") if isinstance(evaluation, dict) else None
    have = compute.get("time") if isinstance(compute, dict) else None
    problems += _compare_time("evaluation.compute.time", have, eval_estimate)
    return problems


def _compare_time(name: str, have: object, estimate: Estimate | None) -> list[str]:
    if estimate is None:
        if have is None:
            return []
        return [f"{name} is {show_value(have)} but no logged estimate covers it"]
    try:
        wanted = estimate.time
    except PlanError as exc:
        return [f"{name}: the estimate of {estimate.describe()}: {exc}"]
    if have != wanted:
        return [
            f"{name} is {show_value(have)} but the estimate of {estimate.describe()} "
            f"({_estimate_words(estimate)}) rounds up to {wanted}"
        ]
    return []


def _estimate_words(estimate: Estimate) -> str:
    text = f"{estimate.variable} = {estimate.value} {estimate.unit}"
    if estimate.limit_seconds is not None:
        text += f", limit {estimate.limit_variable} = {estimate.limit_value} {estimate.limit_unit}"
    return text
