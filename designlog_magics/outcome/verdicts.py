"""The verdict on each run: within the margin, under- or over-estimated, or why there is none.

Why: a verdict is the point of the outcome (a wrong estimate is otherwise noticed only when a
job dies at its time limit), so its rules are written in one place, for every kind of figure.

Verdicts, per run (``VERDICTS``):

* ``UNDER-ESTIMATED``, loudly: the run hit its time limit (SLURM's ``CANCELLED AT ... DUE TO
  TIME LIMIT`` in the output, or sacct's ``TIMEOUT``: its actual time is then a lower bound,
  "at least"), or it took longer than its ``compute.time`` (it would have hit it), or
  actual/estimated is above the margin;
* ``over-estimated``: actual/estimated below the margin (for a time: the job asked for
  more than it needed and waited in the queue for nothing);
* ``within the margin``;
* ``still running`` (sacct says it has not ended, or its output has no end and no outcome)
  and ``not found`` (no directory, no output, no job): no ratio, nothing guessed;
* ``not compared``: the run ended without a figure to compare (out of memory, failed,
  cancelled before its end, no progress bar), said with why.

The margin: actual/estimated within ``[0.8, 1.25]`` by default. The bounds are each other's
inverse, so the margin is symmetric on the scale that matters for times and rates alike (a
run 25 % slower and one 20 % faster are equally far from the plan, and a rate's margin is the
time's, turned over). It is wide enough for what moves a run by a few percent without the
plan being wrong (another node of the same partition, tqdm's whole seconds, a checkpoint
that writes slower) and narrow enough that 25 % more is caught well before a usual safety
factor (1.3 to 1.5) runs out. For rates the verdict is about the time they imply: a run at
0.7 x the planned it/s is under-estimated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..entry import Entry
from ..plan_yaml import Estimate, compute_time, wall_time_seconds
from ..probes.diskuse import disk_usage
from ..runoutputs import EvalOutput, PlannedRun, RunOutput
from .lines import (
    NOT_COMPARED,
    NOT_FOUND,
    OVER,
    RUNNING,
    UNDER,
    WAITED,
    WITHIN,
    OutcomeError,
    OutcomeLine,
    show_value,
)

DEFAULT_MARGIN = (0.8, 1.25)


def check_margin(margin: Sequence[float]) -> tuple[float, float]:
    """``margin`` as (low, high); raises :class:`OutcomeError` unless ``0 < low <= 1 <= high``."""
    try:
        lo, hi = (float(m) for m in margin)
    except (TypeError, ValueError):
        raise OutcomeError(f"a margin is two numbers (low, high), not {margin!r}") from None
    if not 0 < lo <= 1 <= hi:
        raise OutcomeError(f"a margin must hold 1 (0 < low <= 1 <= high), not {lo:g} to {hi:g}")
    return lo, hi


def _judge(ratio: float, margin: tuple[float, float], over: str, under: str) -> tuple[str, str]:
    lo, hi = margin
    if ratio > hi:
        return UNDER, under
    if ratio < lo:
        return OVER, over
    return WITHIN, ""


def _state_words(run: RunOutput) -> str:
    words = {"oom": "out of memory", "cancelled": "cancelled before its end"}.get(run.state)
    words = words or run.state
    return f"{words}: {run.detail}" if run.detail and run.state != "completed" else words


def _unmeasured(run: RunOutput, common: dict[str, Any]) -> OutcomeLine | None:
    """The line of a run with no figure to compare (not found, still running), else None."""
    if run.state == "not-found":
        return OutcomeLine(verdict=NOT_FOUND, source=run.where or "no output", **common)
    if run.state in ("running", "unknown"):
        why = run.detail if run.state == "running" else "no end and no outcome in its output"
        return OutcomeLine(verdict=RUNNING, source=f"{run.path or 'accounting'}: {why}", **common)
    return None


def _limit(seconds: int | None, estimate: Estimate) -> int | None:
    """compute.time as the plan has it, else as the plan is made from the estimate (its
    ``Limit:`` when logged, else the ``Estimate:``, rounded up to a whole minute)."""
    return (
        seconds if seconds is not None else wall_time_seconds(compute_time(estimate.slurm_seconds))
    )


def _time_verdict(
    actual: float, estimated: float, limit: int | None, margin: tuple[float, float]
) -> tuple[str, str]:
    if limit and actual > limit:
        return UNDER, f"would have hit compute.time {compute_time(limit)}"
    return _judge(actual / estimated, margin, WAITED, f"more than {margin[1]:g} x the estimate")


def _killed(limit: int | None) -> str:
    return "killed at its time limit" + (f" {compute_time(limit)}" if limit else "")


def _run_fields(
    key: str, run: RunOutput, plan: PlannedRun, estimated: float, unit: str
) -> dict[str, Any]:
    """What every line of a run says besides its verdict: the run, the estimate, the config."""
    return {
        "key": key,
        "run": run.run,
        "estimated": estimated,
        "unit": unit,
        "model": run.model,
        "recipe": run.recipe,
        "config": run.config,
        "settings": plan.settings,
    }


def time_line(
    run: RunOutput, plan: PlannedRun, estimate: Estimate, margin: tuple[float, float]
) -> OutcomeLine:
    """A training run's time against the estimate covering it."""
    estimated = float(estimate.seconds)
    limit = _limit(plan.limit_seconds, estimate)
    common = _run_fields("time", run, plan, estimated, estimate.unit)
    unmeasured = _unmeasured(run, common)
    if unmeasured is not None:
        return unmeasured
    actual, source = run.actual_seconds
    if run.where:
        source += f"; {run.where}"
    if run.state == "timeout":
        projected = None
        if actual is not None and run.steps_done and run.steps_planned:
            projected = actual * run.steps_planned / run.steps_done / estimated
            source += (
                f"; killed at step {run.steps_done:,} of {run.steps_planned:,}: at that pace "
                f"it needed about {show_value(projected * estimated, estimate.unit)}"
            )
        ratio = actual / estimated if actual is not None else None
        return OutcomeLine(
            verdict=UNDER,
            detail=_killed(limit),
            source=source,
            actual=actual,
            ratio=ratio,
            at_least=True,
            projected_ratio=projected,
            **common,
        )
    if run.state != "completed" or actual is None:
        why = _state_words(run) if run.state != "completed" else source
        where = f"{run.path or 'accounting'}: {_state_words(run)}"
        return OutcomeLine(verdict=NOT_COMPARED, detail=why, source=where, **common)
    verdict, detail = _time_verdict(actual, estimated, limit, margin)
    return OutcomeLine(
        verdict=verdict,
        detail=detail,
        source=source,
        actual=actual,
        ratio=actual / estimated,
        **common,
    )


def rate_line(
    key: str,
    run: RunOutput,
    plan: PlannedRun,
    estimated: float,
    margin: tuple[float, float],
) -> OutcomeLine:
    """A run's measured it/s (``speed``) or tokens/s (``tokens``) against the planned one."""
    unit = "it/s" if key == "speed" else "tokens/s"
    common = _run_fields(key, run, plan, estimated, unit)
    unmeasured = _unmeasured(run, common)
    if unmeasured is not None:
        return unmeasured
    if key == "speed":
        actual, what = run.its, "the speed probe's throughput after warmup"
        missing = run.speed_error or "no training progress found"
    else:
        actual, what = run.tokens_per_s, "torchtune's logged tokens_per_second_per_gpu"
        missing = "no tokens_per_second_per_gpu logged"
    if actual is None:
        return OutcomeLine(
            verdict=NOT_COMPARED, detail=missing, source=f"{run.path}: {missing}", **common
        )
    source = f"{what} in {run.path}" + (f"; {run.where}" if run.where else "")
    ratio = actual / estimated
    # the verdict is the time's: a slower run (a ratio below 1) is an under-estimated time
    verdict, detail = _judge(1 / ratio, margin, "faster than planned", "slower than planned")
    return OutcomeLine(
        verdict=verdict, detail=detail, source=source, actual=actual, ratio=ratio, **common
    )


def eval_line(
    job: EvalOutput, estimate: Estimate, limit: int | None, margin: tuple[float, float]
) -> OutcomeLine:
    """An eval job's inspect-ai total time against the evaluation estimate."""
    estimated = float(estimate.seconds)
    limit = _limit(limit, estimate)
    common: dict[str, Any] = {
        "key": "eval-time",
        "run": job.job,
        "estimated": estimated,
        "unit": estimate.unit,
    }
    if job.state == "running":
        return OutcomeLine(verdict=RUNNING, source=f"{job.path}: no inspect summary yet", **common)
    if job.state == "timeout":
        source = f"{job.path}: {job.detail}"
        return OutcomeLine(verdict=UNDER, detail=_killed(limit), source=source, **common)
    if job.seconds is None or job.state != "completed":
        source = f"{job.path}: {job.detail or job.state}"
        return OutcomeLine(verdict=NOT_COMPARED, detail=job.state, source=source, **common)
    source = f"inspect's total time in {job.path}"
    if job.outputs > 1:
        source += f" (the newest of {job.outputs} outputs)"
    verdict, detail = _time_verdict(job.seconds, estimated, limit, margin)
    ratio = job.seconds / estimated
    return OutcomeLine(
        verdict=verdict, detail=detail, source=source, actual=job.seconds, ratio=ratio, **common
    )


def disk_line(
    estimate: tuple[Entry, float, str],
    runs: Sequence[RunOutput],
    places: Sequence[Path],
    experiment_dir: Path,
    margin: tuple[float, float],
) -> OutcomeLine:
    """What the experiment uses on disk against ``CALCULATE_DISK``'s estimate."""
    _, estimated, unit = estimate
    common: dict[str, Any] = {"key": "disk", "run": "experiment", "estimated": estimated}
    common["unit"] = unit
    going = [r.run for r in runs if r.state in ("running", "unknown")]
    if going:
        source = f"{', '.join(going)} still running: the space used is not final"
        return OutcomeLine(verdict=RUNNING, source=source, **common)
    if all(r.state == "not-found" for r in runs):
        return OutcomeLine(verdict=NOT_FOUND, source="no run output yet", **common)
    used = float(disk_usage(places))
    ratio = used / estimated
    verdict, detail = _judge(ratio, margin, "less space used than planned", "more space used")
    shown = ", ".join("the experiment directory" if p == experiment_dir else str(p) for p in places)
    source = f"du of {shown} (allocated blocks, hard links once)"
    return OutcomeLine(
        verdict=verdict, detail=detail, source=source, actual=used, ratio=ratio, **common
    )
