"""Reading an experiment's outcome: its plan, its design log and its runs, side by side.

Why: one call gathers what the comparison needs from three places (the plan names the runs,
the log the estimates, the runs' outputs and accounting what they took) and says in one line
what cannot be read. A reader: nothing is written.
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..entry import Entry
from ..plan_yaml import (
    PLAN_FILENAME,
    Estimate,
    PlanError,
    compute_time,
    load_plan,
    wall_time_seconds,
)
from ..runoutputs import EvalOutput, PlannedRun, RunContext, newest_jobs, read_evals, read_run
from ..store import LOG_FILENAME, find_log_file, read_log
from .estimates import planned_runs, read_estimates, section
from .lines import NOT_FOUND, OutcomeError, OutcomeLine, show_value
from .report import CHECK_LABELS, OutcomeCheck, OutcomeReport
from .verdicts import DEFAULT_MARGIN, check_margin, disk_line, eval_line, rate_line, time_line


def _sacct(
    runs: Sequence[PlannedRun], plan: Mapping[str, Any], runner: Callable[..., Any]
) -> dict[str, Any]:
    from ..probes.slurm import SlurmError

    experiment = section(plan, "experiment")
    since = experiment.get("date") if isinstance(experiment.get("date"), str) else None
    try:
        return newest_jobs([r.name for r in runs], since, runner)
    except SlurmError as exc:
        raise OutcomeError(f"--sacct: {exc}") from None


def _estimate_words(estimates: Iterable[Estimate]) -> str:
    seen: dict[tuple[str, _dt.datetime], Estimate] = {}
    for estimate in estimates:
        seen.setdefault((estimate.action, estimate.timestamp), estimate)
    parts = []
    for estimate in sorted(seen.values(), key=lambda e: e.timestamp):
        text = (
            f"{estimate.describe()} {estimate.variable} = {estimate.value} {estimate.unit} per run"
        )
        if estimate.limit_seconds is not None:
            text += f", limit {compute_time(estimate.limit_seconds)}"
        parts.append(text)
    return "; ".join(parts)


def read_outcome(
    experiment_dir: str | os.PathLike[str],
    *,
    runs_root: str | os.PathLike[str] | None = None,
    sacct: bool = False,
    margin: Sequence[float] = DEFAULT_MARGIN,
    runner: Callable[..., Any] = subprocess.run,
    entries: Sequence[Entry] | None = None,
) -> OutcomeReport:
    """What the planned runs of ``experiment_dir`` really took, beside each logged estimate.

    ``runs_root`` replaces the experiment directory as the parent of the run directories;
    ``sacct`` also asks SLURM accounting for each run's job by its name (the scaffolder's job
    name is the run's name); ``margin`` is (low, high) of actual/estimated counted as right;
    ``runner`` runs sacct (:func:`subprocess.run`'s signature); ``entries``: the log's, when the
    caller has read it already. Raises :class:`OutcomeError` (one line) for what cannot be read.
    """
    directory = Path(experiment_dir).expanduser()
    if not directory.is_dir():
        raise OutcomeError(f"{directory}: no such experiment directory")
    bounds = check_margin(margin)
    log_path = find_log_file(directory)
    if not log_path.is_file():
        raise OutcomeError(f"{directory}: no design log ({LOG_FILENAME})")
    plan_path = directory / PLAN_FILENAME
    if not plan_path.is_file():
        raise OutcomeError(f"{directory}: no {PLAN_FILENAME} (the plan the runs were made from)")
    try:
        plan = load_plan(plan_path)
    except PlanError as exc:
        raise OutcomeError(str(exc)) from None
    runs = planned_runs(plan)
    if entries is None:
        try:
            entries = read_log(log_path).entries
        except OSError as exc:
            raise OutcomeError(f"{log_path}: cannot read it ({exc.strerror or exc})") from None
    estimates = read_estimates(entries, runs)
    if not (estimates.training or estimates.evaluation or estimates.speed or estimates.disk):
        raise OutcomeError(
            f"{log_path}: no estimate to check (a CALCULATE_TIME with Estimate:, an "
            f"EXTRACT_SPEED of a training run, a CALCULATE_EVAL_TIME, a CALCULATE_DISK)"
        )
    base = Path(runs_root).expanduser() if runs_root is not None else directory
    if runs_root is not None and not base.is_dir():
        raise OutcomeError(f"--runs-root {base}: no such directory")
    ctx = RunContext(base, directory, _sacct(runs, plan, runner) if sacct else None)

    fine_tuned = [r for r in runs if r.type == "fine-tuned"] or runs
    needed = set(estimates.training)
    if estimates.speed:
        needed |= {r.name for r in fine_tuned}
    if estimates.disk:
        needed |= {r.name for r in runs}
    outputs = {r.name: read_run(r, ctx) for r in runs if r.name in needed}

    checks: list[OutcomeCheck] = []
    if estimates.training:
        covered = [r for r in runs if r.name in estimates.training]
        lines = [time_line(outputs[r.name], r, estimates.training[r.name], bounds) for r in covered]
        words = _estimate_words(estimates.training.values())
        checks.append(OutcomeCheck("time", CHECK_LABELS["time"], words, tuple(lines)))
    for key, figure in (("speed", estimates.speed), ("tokens", estimates.tokens)):
        if figure is None:
            continue
        entry, planned = figure
        shown = show_value(planned, "it/s" if key == "speed" else "tokens/s")
        where = f"{entry.action} ({entry.time_text}) {shown}"
        lines = [rate_line(key, outputs[r.name], r, planned, bounds) for r in fine_tuned]
        checks.append(OutcomeCheck(key, CHECK_LABELS[key], where, tuple(lines)))
    evals: list[EvalOutput] = []
    if estimates.evaluation:
        evaluation = section(plan, "evaluation")
        compute = section(evaluation, "compute")
        eval_limit = wall_time_seconds(compute.get("time"))
        lines = []
        for run in runs:
            estimate = estimates.evaluation.get(run.name)
            if estimate is None:
                continue
            jobs = read_evals(run, ctx)
            evals += jobs
            if not jobs:
                lines.append(
                    OutcomeLine(
                        key="eval-time",
                        run=f"{run.name}/eval",
                        estimated=float(estimate.seconds),
                        unit=estimate.unit,
                        verdict=NOT_FOUND,
                        source=f"no slurm-*.out under {run.name}/eval/",
                    )
                )
            lines += [eval_line(job, estimate, eval_limit, bounds) for job in jobs]
        words = _estimate_words(estimates.evaluation.values())
        checks.append(OutcomeCheck("eval-time", CHECK_LABELS["eval-time"], words, tuple(lines)))
    if estimates.disk:
        places = [directory]
        if runs_root is not None:
            places += [base / r.name for r in runs if (base / r.name).is_dir()]
        entry, size, unit = estimates.disk
        where = f"{entry.action} ({entry.time_text}) {show_value(size, unit)}"
        line = disk_line(estimates.disk, list(outputs.values()), places, directory, bounds)
        checks.append(OutcomeCheck("disk", CHECK_LABELS["disk"], where, (line,)))
    experiment = section(plan, "experiment")
    return OutcomeReport(
        experiment_dir=str(directory),
        runs_root=str(base) if runs_root is not None else None,
        margin=bounds,
        checks=tuple(checks),
        runs=tuple(outputs[r.name] for r in runs if r.name in outputs),
        evals=tuple(evals),
        experiment=str(experiment.get("name") or directory.name),
        sacct=sacct,
    )
