"""What the planned runs really took, beside every estimate of the design log.

Why: the runs finish days after the plan, and nothing compares them with it; a wrong
estimate is only ever noticed when a job dies at its time limit. ``read_outcome`` reads an
experiment's plan (``experiment_summary.yaml``), its design log and its runs' SLURM outputs,
and sets each logged estimate beside the measurement:

* training time (``time``): the ``Estimate:`` of the latest time estimate covering the run
  (``Covers:``; the latest wins) against the run's time, a measurement with its source named:
  the job's wall time from SLURM's start and end (``sacct`` Elapsed) where accounting was
  asked and knows the job, else the training seconds tqdm's counters print
  (:mod:`.probes.trainclock`), else unknown;
* throughput (``speed``, ``tokens``): the latest ``EXTRACT_SPEED``'s planned it/s and its
  ``Tokens:`` tokens/s per GPU against each fine-tuned run's measured ones (the speed probe,
  the tokens probe);
* evaluation time (``eval-time``): a ``CALCULATE_EVAL_TIME`` estimate (one eval job = one
  matrix cell) against inspect-ai's ``total time:`` of each eval job's output;
* disk (``disk``): ``CALCULATE_DISK``'s estimate against what the experiment uses (``du``:
  allocated blocks, hard links once, symbolic links not followed).

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

A reader: nothing is written. ``check_entries`` gives the ``CHECK_ESTIMATE`` entries an edge
appends (one per estimate, only when its Result changed since the last one for that key);
``result_for`` is what ``designlog outcome DIR --check KEY`` prints, exactly.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .entry import Entry, new_entry
from .exceptions import DesignLogError
from .plan_yaml import (
    PLAN_FILENAME,
    Estimate,
    PlanError,
    compute_time,
    load_plan,
    parse_estimate,
    run_name_problem,
    wall_time_seconds,
)
from .probes.runfacts import RunConfig
from .probes.sizes import format_size
from .runoutputs import (
    EvalOutput,
    PlannedRun,
    RunContext,
    RunOutput,
    disk_usage,
    newest_jobs,
    read_evals,
    read_run,
)
from .store import LOG_FILENAME, read_log

DEFAULT_MARGIN = (0.8, 1.25)
CHECK_ACTION = "CHECK_ESTIMATE"
CHECK_KEYS = ("time", "speed", "tokens", "eval-time", "disk")
CHECK_LABELS = {
    "time": "Training time",
    "speed": "Training speed (it/s)",
    "tokens": "Training tokens/s per GPU",
    "eval-time": "Evaluation time",
    "disk": "Disk used",
}
CHECK_BRIEFS = {
    "time": "Training time: estimated against what the runs took",
    "speed": "Training speed: planned it/s against each run's",
    "tokens": "Tokens/s per GPU: planned against each run's",
    "eval-time": "Evaluation time: estimated against each eval job's",
    "disk": "Disk: estimated against what the experiment uses",
}
WITHIN = "within the margin"
UNDER = "UNDER-ESTIMATED"
OVER = "over-estimated"
RUNNING = "still running"
NOT_FOUND = "not found"
NOT_COMPARED = "not compared"
VERDICTS = (WITHIN, UNDER, OVER, RUNNING, NOT_FOUND, NOT_COMPARED)
WAITED = "waited in the queue for nothing"

EVAL_ACTION = "CALCULATE_EVAL_TIME"
DISK_ACTION = "CALCULATE_DISK"
SPEED_ACTION = "EXTRACT_SPEED"
_SIZE_UNITS = {
    "TiB": 1024**4,
    "GiB": 1024**3,
    "MiB": 1024**2,
    "TB": 10**12,
    "GB": 10**9,
    "MB": 10**6,
    "T": 1024**4,
    "G": 1024**3,
    "M": 1024**2,
}
_NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"
_SPEED_RESULT = re.compile(rf"(?:Throughput|Average speed) after warmup: ({_NUMBER}) it/s")
_TOKENS_FIELD = re.compile(rf"({_NUMBER}) tokens/s per GPU")
_SIZE_ESTIMATE = re.compile(rf"[A-Za-z_][A-Za-z0-9_]* = ({_NUMBER}) (TiB|GiB|MiB|TB|GB|MB)")
_ABOUT_SIZE = re.compile(rf"\bAbout ({_NUMBER}) ?(TiB|GiB|MiB|TB|GB|MB|T|G|M)\b")
_CHECK_KEY = re.compile(r"--check[ =]([A-Za-z][A-Za-z-]*)")


class OutcomeError(DesignLogError):
    """An experiment whose outcome cannot be read: one plain line saying why."""


# ---------------------------------------------------------------------------------------
# the plan and its estimates


@dataclass(frozen=True)
class _Estimates:
    training: dict[str, Estimate]  # run -> the latest time estimate covering it
    evaluation: dict[str, Estimate]  # run -> the latest eval time estimate covering it
    speed: tuple[Entry, float] | None  # EXTRACT_SPEED, it/s
    tokens: tuple[Entry, float] | None  # EXTRACT_SPEED, tokens/s per GPU
    disk: tuple[Entry, float, str] | None  # CALCULATE_DISK, bytes, unit


def _section(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``mapping[key]`` when it is a mapping, else an empty one."""
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _planned_runs(plan: Mapping[str, Any]) -> list[PlannedRun]:
    controls = _section(plan, "controls")
    runs = []
    for run in plan.get("runs") or []:
        name = run.get("name")
        problem = run_name_problem(name)
        if problem:
            raise OutcomeError(f"{PLAN_FILENAME}: {problem}")
        params = _section(run, "parameters")
        compute = _section(run, "compute")
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


def _select(items: Sequence[str], runs: Sequence[PlannedRun], evaluation: bool) -> set[str]:
    """The run names a ``Covers:`` list selects (``evaluation`` and ``all`` select every run
    when the estimate is an evaluation's)."""
    chosen: set[str] = set()
    for item in items:
        if item == "all" or (evaluation and item == "evaluation"):
            chosen |= {r.name for r in runs}
        elif item in ("fine-tuned", "control", "eval-only"):
            chosen |= {r.name for r in runs if r.type == item}
        else:
            chosen |= {r.name for r in runs if r.name == item}
    return chosen


def _read_estimates(entries: Sequence[Entry], runs: Sequence[PlannedRun]) -> _Estimates:
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
                disk = (entry, _number(size.group(1)) * _SIZE_UNITS[size.group(2)], size.group(2))
            continue
        try:
            estimate = parse_estimate(entry)
        except PlanError as exc:
            raise OutcomeError(str(exc)) from None
        if estimate is None:
            continue
        is_eval = entry.action == EVAL_ACTION
        items = list(estimate.covers)
        missing = []
        for item in items:
            as_eval = is_eval or item == "evaluation"
            names = _select([item], runs, as_eval)
            if not names:
                missing.append(item)
            for name in names:
                (evaluation if as_eval else training)[name] = estimate
        unmatched[entry.action] = (estimate, missing)
    for estimate, missing in unmatched.values():
        if missing:
            raise OutcomeError(
                f"the estimate of {estimate.describe()} covers {', '.join(missing)}, which no "
                f"run of {PLAN_FILENAME} is"
            )
    return _Estimates(training, evaluation, speed, tokens, disk)


# ---------------------------------------------------------------------------------------
# the comparison


@dataclass(frozen=True)
class OutcomeLine:
    """One run (or eval job, or the experiment for disk) against one estimate.

    ``estimated`` and ``actual`` are in seconds, it/s, tokens/s or bytes; ``ratio`` is
    actual/estimated (None when there is nothing to compare); ``at_least``: the actual is a
    lower bound (the run was killed at its time limit). ``projected_ratio``: for such a run,
    the ratio at the pace it went, to its planned steps (what the calibration counts).
    """

    key: str
    run: str
    estimated: float | None
    unit: str
    verdict: str
    source: str
    detail: str = ""
    actual: float | None = None
    ratio: float | None = None
    at_least: bool = False
    projected_ratio: float | None = None
    model: str | None = None
    recipe: str | None = None
    config: RunConfig | None = field(default=None, compare=False, repr=False)
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def verdict_text(self) -> str:
        return f"{self.verdict} ({self.detail})" if self.detail else self.verdict

    @property
    def estimated_text(self) -> str:
        return _show(self.estimated, self.unit)

    @property
    def actual_text(self) -> str:
        if self.actual is None:
            return "unknown"
        shown = _show(self.actual, self.unit)
        if self.key == "disk" and self.actual < 0.01 * _SIZE_UNITS.get(self.unit, 1):
            shown = _bytes(self.actual)
        return f"at least {shown}" if self.at_least else shown

    @property
    def ratio_text(self) -> str:
        if self.ratio is None:
            return ""
        places = (
            2 if self.ratio >= 0.01 or self.ratio <= 0 else 1 - math.floor(math.log10(self.ratio))
        )
        shown = f"{self.ratio:.{places}f}"
        return f"at least {shown}" if self.at_least else shown

    def text(self) -> str:
        """``r8: estimated 15.36 min, actual 16.10 min (1.05 x): within the margin``."""
        head = f"{self.run}: estimated {self.estimated_text}, actual {self.actual_text}"
        if self.ratio is not None:
            head += f" ({self.ratio_text} x)"
        return f"{head}: {self.verdict_text}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "estimated": self.estimated,
            "actual": self.actual,
            "unit": self.unit,
            "ratio": self.ratio,
            "at_least": self.at_least,
            "projected_ratio": self.projected_ratio,
            "verdict": self.verdict,
            "detail": self.detail,
            "text": self.text(),
            "source": self.source,
            "model": self.model,
            "recipe": self.recipe,
        }


_TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}


def _bytes(value: float) -> str:
    """``2.8 MiB``: ``du -h``'s figure (powers of 1024), its unit spelled out."""
    shown = format_size(value)
    return (
        f"{shown[:-1]} {shown[-1]}iB" if shown[-1:] in ("K", "M", "G", "T", "P") else f"{shown} B"
    )


def _show(value: float | None, unit: str) -> str:
    if value is None:
        return "unknown"
    if unit in _TIME_UNITS:
        return f"{value / _TIME_UNITS[unit]:,.2f} {unit}"
    if unit == "it/s":
        return f"{value:,.2f} it/s"
    if unit == "tokens/s":
        return f"{value:,.0f} tokens/s"
    if unit in _SIZE_UNITS:
        return f"{value / _SIZE_UNITS[unit]:,.2f} {unit}"
    return f"{value:,.2f} {unit}"


@dataclass(frozen=True)
class OutcomeCheck:
    """Every line of one estimate (a ``CHECK_ESTIMATE`` entry's worth)."""

    key: str
    label: str
    estimate: str  # which entry (or entries) the estimate came from
    lines: tuple[OutcomeLine, ...]

    def result(self) -> str:
        """The ``Result:``: one line per run."""
        return "\n".join(line.text() for line in self.lines)

    def source(self) -> str:
        """The ``Source:``: the estimate's entry, then where each actual came from."""
        return "\n".join(
            [f"estimate: {self.estimate}", *(f"{x.run}: {x.source}" for x in self.lines)]
        )

    @property
    def under(self) -> tuple[OutcomeLine, ...]:
        return tuple(line for line in self.lines if line.verdict == UNDER)


@dataclass(frozen=True)
class OutcomeReport:
    """What ``read_outcome`` found: one check per logged estimate, and what each run was."""

    experiment_dir: str
    runs_root: str | None
    margin: tuple[float, float]
    checks: tuple[OutcomeCheck, ...]
    runs: tuple[RunOutput, ...]
    evals: tuple[EvalOutput, ...] = ()
    experiment: str = ""
    sacct: bool = False

    def check(self, key: str) -> OutcomeCheck:
        for check in self.checks:
            if check.key == key:
                return check
        have = ", ".join(c.key for c in self.checks) or "none"
        raise OutcomeError(f"no {key!r} estimate in the design log (checks here: {have})")

    @property
    def lines(self) -> tuple[OutcomeLine, ...]:
        return tuple(line for check in self.checks for line in check.lines)

    @property
    def under_estimated(self) -> tuple[OutcomeLine, ...]:
        return tuple(line for line in self.lines if line.verdict == UNDER)

    def points(self) -> list[tuple[str, float, float, str]]:
        """(run, estimated s, actual s, verdict) of every training time and eval job with both
        figures, for an estimated-vs-actual plot (a killed run's actual is its lower bound;
        eval jobs are named ``run/eval/cell``)."""
        return [
            (line.run, line.estimated, line.actual, line.verdict)
            for line in self.lines
            if line.key in ("time", "eval-time")
            and line.estimated is not None
            and line.actual is not None
        ]

    def render(self) -> str:
        """A text table: per estimate, one line per run (estimated, actual, ratio, verdict)."""
        lo, hi = self.margin
        out = [f"Outcome of {self.experiment_dir} (margin {lo:g} to {hi:g} x)"]
        for check in self.checks:
            out += ["", f"{check.label}: {check.estimate}"]
            rows = [("run", "estimated", "actual", "actual/estimated", "verdict")]
            for line in check.lines:
                ratio = f"{line.ratio_text} x" if line.ratio is not None else "-"
                rows.append(
                    (line.run, line.estimated_text, line.actual_text, ratio, line.verdict_text)
                )
            widths = [max(len(row[i]) for row in rows) for i in range(4)]
            for row in rows:
                cells = [row[i].ljust(widths[i]) for i in range(4)]
                out.append("  " + "  ".join(cells) + "  " + row[4])
        under = self.under_estimated
        if under:
            out += ["", f"UNDER-ESTIMATED: {', '.join(sorted({u.run for u in under}))}"]
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``--json``)."""
        return {
            "experiment_dir": self.experiment_dir,
            "runs_root": self.runs_root,
            "margin": list(self.margin),
            "sacct": self.sacct,
            "checks": [
                {
                    "key": c.key,
                    "label": c.label,
                    "estimate": c.estimate,
                    "result": c.result(),
                    "source": c.source(),
                    "lines": [line.as_dict() for line in c.lines],
                }
                for c in self.checks
            ],
            "runs": [
                {
                    "run": r.run,
                    "state": r.state,
                    "path": r.path,
                    "job_id": r.job_id,
                    "detail": r.detail,
                    "training_seconds": r.training_seconds,
                    "wall_seconds": r.wall_seconds,
                    "sacct_state": r.sacct_state,
                    "its": r.its,
                    "tokens_per_s": r.tokens_per_s,
                    "steps_done": r.steps_done,
                    "steps_planned": r.steps_planned,
                    "model": r.model,
                    "recipe": r.recipe,
                    "outputs": list(r.outputs),
                }
                for r in self.runs
            ],
            "evals": [
                {
                    "run": e.run,
                    "job": e.job,
                    "path": e.path,
                    "state": e.state,
                    "seconds": e.seconds,
                    "detail": e.detail,
                }
                for e in self.evals
            ],  # fmt: skip
            "under_estimated": sorted({u.run for u in self.under_estimated}),
        }


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


def _time_line(
    run: RunOutput, plan: PlannedRun, estimate: Estimate, margin: tuple[float, float]
) -> OutcomeLine:
    estimated = float(estimate.seconds)
    limit = _limit(plan.limit_seconds, estimate)
    common: dict[str, Any] = {
        "key": "time",
        "run": run.run,
        "estimated": estimated,
        "unit": estimate.unit,
        "model": run.model,
        "recipe": run.recipe,
        "config": run.config,
        "settings": plan.settings,
    }
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
                f"it needed about {_show(projected * estimated, estimate.unit)}"
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


def _rate_line(
    key: str,
    run: RunOutput,
    plan: PlannedRun,
    estimated: float,
    margin: tuple[float, float],
) -> OutcomeLine:
    """A run's measured it/s (``speed``) or tokens/s (``tokens``) against the planned one."""
    common: dict[str, Any] = {
        "key": key,
        "run": run.run,
        "estimated": estimated,
        "unit": "it/s" if key == "speed" else "tokens/s",
        "model": run.model,
        "recipe": run.recipe,
        "config": run.config,
        "settings": plan.settings,
    }
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


def _eval_line(
    job: EvalOutput, estimate: Estimate, limit: int | None, margin: tuple[float, float]
) -> OutcomeLine:
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


def _disk_line(
    estimate: tuple[Entry, float, str],
    runs: Sequence[RunOutput],
    places: Sequence[Path],
    experiment_dir: Path,
    margin: tuple[float, float],
) -> OutcomeLine:
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


# ---------------------------------------------------------------------------------------
# the entry point


def _check_margin(margin: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(m) for m in margin)
    except (TypeError, ValueError):
        raise OutcomeError(f"a margin is two numbers (low, high), not {margin!r}") from None
    if not 0 < lo <= 1 <= hi:
        raise OutcomeError(f"a margin must hold 1 (0 < low <= 1 <= high), not {lo:g} to {hi:g}")
    return lo, hi


def _sacct(
    runs: Sequence[PlannedRun], plan: Mapping[str, Any], runner: Callable[..., Any]
) -> dict[str, Any]:
    from .probes.slurm import SlurmError

    experiment = _section(plan, "experiment")
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
) -> OutcomeReport:
    """What the planned runs of ``experiment_dir`` really took, beside each logged estimate.

    ``runs_root`` replaces the experiment directory as the parent of the run directories;
    ``sacct`` also asks SLURM accounting for each run's job by its name (the scaffolder's job
    name is the run's name); ``margin`` is (low, high) of actual/estimated counted as right;
    ``runner`` runs sacct (:func:`subprocess.run`'s signature). Raises :class:`OutcomeError`
    (one line) for what cannot be read.
    """
    directory = Path(experiment_dir).expanduser()
    if not directory.is_dir():
        raise OutcomeError(f"{directory}: no such experiment directory")
    bounds = _check_margin(margin)
    log_path = directory / LOG_FILENAME
    if not log_path.is_file():
        raise OutcomeError(f"{directory}: no design log ({LOG_FILENAME})")
    plan_path = directory / PLAN_FILENAME
    if not plan_path.is_file():
        raise OutcomeError(f"{directory}: no {PLAN_FILENAME} (the plan the runs were made from)")
    try:
        plan = load_plan(plan_path)
    except PlanError as exc:
        raise OutcomeError(str(exc)) from None
    runs = _planned_runs(plan)
    try:
        entries = read_log(log_path).entries
    except OSError as exc:
        raise OutcomeError(f"{log_path}: cannot read it ({exc.strerror or exc})") from None
    estimates = _read_estimates(entries, runs)
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
        lines = [
            _time_line(outputs[r.name], r, estimates.training[r.name], bounds) for r in covered
        ]
        words = _estimate_words(estimates.training.values())
        checks.append(OutcomeCheck("time", CHECK_LABELS["time"], words, tuple(lines)))
    for key, figure in (("speed", estimates.speed), ("tokens", estimates.tokens)):
        if figure is None:
            continue
        entry, planned = figure
        shown = _show(planned, "it/s" if key == "speed" else "tokens/s")
        where = f"{entry.action} ({entry.time_text}) {shown}"
        lines = [_rate_line(key, outputs[r.name], r, planned, bounds) for r in fine_tuned]
        checks.append(OutcomeCheck(key, CHECK_LABELS[key], where, tuple(lines)))
    evals: list[EvalOutput] = []
    if estimates.evaluation:
        section = _section(plan, "evaluation")
        compute = _section(section, "compute")
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
            lines += [_eval_line(job, estimate, eval_limit, bounds) for job in jobs]
        words = _estimate_words(estimates.evaluation.values())
        checks.append(OutcomeCheck("eval-time", CHECK_LABELS["eval-time"], words, tuple(lines)))
    if estimates.disk:
        places = [directory]
        if runs_root is not None:
            places += [base / r.name for r in runs if (base / r.name).is_dir()]
        entry, size, unit = estimates.disk
        where = f"{entry.action} ({entry.time_text}) {_show(size, unit)}"
        line = _disk_line(estimates.disk, list(outputs.values()), places, directory, bounds)
        checks.append(OutcomeCheck("disk", CHECK_LABELS["disk"], where, (line,)))
    experiment = _section(plan, "experiment")
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


# ---------------------------------------------------------------------------------------
# the log's side


def result_for(report: OutcomeReport, key: str) -> str:
    """The ``Result:`` of the ``key`` check: what ``designlog outcome DIR --check KEY`` prints."""
    return report.check(key).result()


def check_key(entry: Entry) -> str | None:
    """The key a ``CHECK_ESTIMATE`` entry checks, read from its ``--check KEY`` command."""
    found = _CHECK_KEY.search(entry.get("Command") or "")
    return found.group(1) if found else None


def check_entries(
    report: OutcomeReport,
    existing_entries: Sequence[Entry],
    command_for: Callable[[str], str],
) -> list[Entry]:
    """One ``CHECK_ESTIMATE`` entry per estimate whose Result differs from the latest
    ``CHECK_ESTIMATE`` for the same key in ``existing_entries`` (a rerun adds nothing new
    unless something changed). ``command_for(key)`` gives each entry's ``Command:``."""
    latest: dict[str, str | None] = {}
    for entry in existing_entries:
        if entry.action == CHECK_ACTION:
            key = check_key(entry)
            if key is not None:
                latest[key] = entry.get("Result")
    made = []
    for check in report.checks:
        result = check.result()
        if latest.get(check.key) == result:
            continue
        under = check.under
        warning = None
        if under:
            warning = "UNDER-ESTIMATED: " + "; ".join(f"{u.run} ({u.detail})" for u in under)
        made.append(
            new_entry(
                CHECK_ACTION,
                CHECK_BRIEFS[check.key],
                command=command_for(check.key),
                result=result,
                source=check.source(),
                warning=warning,
            )
        )
    return made


__all__ = [
    "CHECK_ACTION",
    "CHECK_KEYS",
    "DEFAULT_MARGIN",
    "VERDICTS",
    "EvalOutput",
    "OutcomeCheck",
    "OutcomeError",
    "OutcomeLine",
    "OutcomeReport",
    "PlannedRun",
    "RunOutput",
    "check_entries",
    "check_key",
    "disk_usage",
    "read_outcome",
    "result_for",
]
