"""What each planned run of an experiment really was: found on disk (and in accounting), read
with the probes.

Where a run is: its directory ``{experiment_dir}/{run}/`` (or
``{runs_root}/{run}/``) holds its training job's ``slurm-<jobid>.out``; upstream's
``finetune.slurm`` sends it to ``{run}/artifacts/`` instead, looked at when the run's
directory has none. Its evaluation jobs write under ``{run}/eval/`` (one cell directory per
job; upstream puts eval outputs under ``{run}/artifacts/``, told apart by inspect-ai's
summary at their end). With several outputs the newest job id is the run, and the run says
so. With accounting, a newer job of the run's name (the scaffolder names the job after the
run) is the run.

What a run was: ``prior_run`` (its resolved config, how it ended and its steps, its it/s and
tokens/s per GPU, the file read once), ``trainclock`` (training seconds from tqdm's
counters), inspect-ai's summary for an eval job, sacct's state and Elapsed (SLURM's end minus
start) for a job accounting knows.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .probes.runfacts import RunConfig, RunOutcome, job_id_from_name, read_run_facts
from .probes.slurm import SacctJob, query_jobs

EVAL_DEPTH = 4  # directories below {run}/eval (or {run}/artifacts) searched for eval outputs
_SACCT_STATES = {
    "COMPLETED": "completed",
    "TIMEOUT": "timeout",
    "OUT_OF_MEMORY": "oom",
    "CANCELLED": "cancelled",
    "PREEMPTED": "cancelled",
    "DEADLINE": "cancelled",
}


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan, with what the plan says about it."""

    name: str
    type: str | None
    model: str | None
    settings: Mapping[str, Any]  # controls, then the run's parameters over them
    limit_seconds: int | None  # compute.time

    @property
    def epochs(self) -> int | None:
        value = self.settings.get("epochs")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class RunOutput:
    """What one planned run's training job really was, from its output and accounting.

    ``state``: runfacts' states (completed, timeout, cancelled, oom, failed, running,
    unknown) or ``not-found``. ``training_seconds`` from tqdm's counters, ``wall_seconds``
    from sacct's Elapsed (SLURM's end minus start).
    """

    run: str
    state: str
    path: str | None = None
    outputs: tuple[str, ...] = ()
    job_id: str | None = None
    detail: str | None = None
    training_seconds: float | None = None
    clock: str | None = None  # how tqdm's counters were read
    wall_seconds: float | None = None
    sacct_state: str | None = None
    its: float | None = None
    speed_error: str | None = None
    tokens_per_s: float | None = None
    steps_done: int | None = None
    steps_planned: int | None = None
    model: str | None = None
    recipe: str | None = None
    where: str = ""  # why it was not found, or which of several outputs was read
    config: RunConfig | None = field(default=None, compare=False, repr=False)

    @property
    def actual_seconds(self) -> tuple[float | None, str]:
        """The run's time and where it came from: the wall time when sacct knows the ended
        job, else tqdm's training seconds, else None."""
        if self.wall_seconds is not None:
            return self.wall_seconds, f"sacct Elapsed of job {self.job_id} (SLURM start to end)"
        if self.training_seconds is not None:
            return self.training_seconds, f"{self.clock} in {self.path}"
        return None, "no training time in its output"


@dataclass(frozen=True)
class EvalOutput:
    """One evaluation job (one cell) of a run: inspect-ai's total time and how it ended."""

    run: str
    job: str  # the cell, e.g. r8/eval/capitalization_epoch1
    path: str
    state: str  # completed, timeout, interrupted, failed, oom, cancelled, running
    seconds: float | None
    detail: str | None = None
    outputs: int = 1


def _job_order(path: str) -> tuple[int, int, float, str]:
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        mtime = 0.0
    return (*job_order_id(job_id_from_name(path)), mtime, path)


def _outputs_in(directory: Path) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith("slurm-") and name.endswith(".out"):
            path = directory / name
            if path.is_file():
                found.append(str(path))
    return found


def _eval_files(directory: Path) -> list[str]:
    found: list[str] = []
    base_depth = len(directory.parts)
    for root, dirs, files in os.walk(directory):
        if len(Path(root).parts) - base_depth >= EVAL_DEPTH:
            dirs[:] = []
        dirs.sort()
        for name in sorted(files):
            if name.startswith("slurm-") and name.endswith(".out"):
                found.append(os.path.join(root, name))
    return found


def _training_outputs(run_dir: Path) -> list[str]:
    """The run's training outputs: ``slurm-*.out`` in its directory (sbatch's default), else in its
    ``artifacts/`` (where upstream's finetune.slurm sends them); eval outputs left out."""
    from .probes.evals import looks_like_eval

    for directory in (run_dir, run_dir / "artifacts"):
        found = [p for p in _outputs_in(directory) if not looks_like_eval(p)]
        if found:
            return sorted(found, key=_job_order)
    return []


def show_path(path: str, base: Path) -> str:
    """``path`` relative to ``base`` when inside it (shorter, and the same on every machine)."""
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return path


@dataclass
class RunContext:
    """Where runs are read: their parent directory, the experiment's, accounting's jobs."""

    base: Path  # where the run directories are
    experiment_dir: Path
    sacct_jobs: dict[str, SacctJob] | None  # job name -> the newest SacctJob


def read_run(run: PlannedRun, ctx: RunContext) -> RunOutput:
    """What the planned run's training job was; ``not-found`` (with why) when nothing is."""
    run_dir = ctx.base / run.name
    outputs = _training_outputs(run_dir) if run_dir.is_dir() else []
    job = ctx.sacct_jobs.get(run.name) if ctx.sacct_jobs is not None else None
    path = outputs[-1] if outputs else None
    job_id = job_id_from_name(path) if path else None
    where = ""
    if len(outputs) > 1:
        names = ", ".join(Path(p).name for p in outputs)
        where = f"the newest of {len(outputs)} outputs ({names})"
    if job is not None and (job_id is None or job_order_id(job.job_id) > job_order_id(job_id)):
        # accounting knows a newer job by the run's name: that job is the run
        job_id = job.job_id
        path = job.output_path
        where = f"job {job.job_id}, the newest of the run's name in accounting"
        if outputs:
            where += f", is newer than {Path(outputs[-1]).name}"
    elif job is not None and job.job_id != job_id:
        job = None  # accounting's job by that name is older than the output's
    if path is None and job is None:
        why = f"no directory {show_path(str(run_dir), ctx.experiment_dir)}/"
        if run_dir.is_dir():
            why = f"no slurm-*.out in {show_path(str(run_dir), ctx.experiment_dir)}/"
        if ctx.sacct_jobs is not None:
            why += f" and no job named {run.name} in accounting"
        return RunOutput(run.name, "not-found", where=why)
    return _measure(run, path, outputs, job_id, job, where, ctx)


def job_order_id(job_id: str | None) -> tuple[int, int]:
    """A job id as numbers that sort as SLURM numbers jobs (an array task after its job)."""
    main, _, task = (job_id or "").partition("_")
    return (int(main) if main.isdigit() else -1, int(task) if task.isdigit() else -1)


def _measure(
    run: PlannedRun,
    path: str | None,
    outputs: list[str],
    job_id: str | None,
    job: SacctJob | None,
    where: str,
    ctx: RunContext,
) -> RunOutput:
    from .probes.prior_run import read_prior_run
    from .probes.trainclock import read_train_clock

    state, detail = "unknown", None
    config: RunConfig | None = None
    outcome: RunOutcome | None = None
    seconds = clock = None
    its = tokens = None
    speed_error = None
    if path is not None:
        try:
            prior = read_prior_run(path)
        except OSError as exc:
            prior = None
            state, detail = "not-found", f"cannot read {path}: {exc.strerror or exc}"
        if prior is not None:
            config, outcome = prior.facts.config, prior.facts.outcome
            state, detail = outcome.state, outcome.detail
            epochs_planned = outcome.epochs_planned or run.epochs
            if (
                state == "unknown"
                and epochs_planned is not None
                and outcome.epochs_done is not None
                and outcome.epochs_done >= epochs_planned
            ):
                state = "completed"
                detail = f"the bar of its last planned epoch ({epochs_planned}) reached its total"
            train = read_train_clock(path)
            seconds, clock = train.seconds, train.describe()
            speed = prior.speed
            if speed is not None and speed.ok and speed.plan_its is not None:
                its = float(speed.plan_its)
            else:
                speed_error = (speed.error if speed else None) or "no training progress found"
            tokens = prior.tokens.tokens_per_s if prior.tokens is not None else None
    sacct_state = wall = None
    if job is not None:
        sacct_state = job.state
        if not job.active:
            wall = float(job.elapsed_seconds)
        if job.timed_out:
            state, detail = "timeout", f"sacct: job {job.job_id} TIMEOUT after {job.elapsed}"
        elif job.active:
            state, detail = "running", f"sacct: job {job.job_id} {job.state}"
        elif state in ("unknown", "running", "not-found"):
            state = _SACCT_STATES.get(job.state, "failed")
            detail = f"sacct: job {job.job_id} {job.state}"
    steps_done = outcome.steps_done if outcome else None
    steps_planned = None
    epochs = (outcome.epochs_planned if outcome else None) or run.epochs
    if outcome is not None and outcome.steps_per_epoch and epochs:
        steps_planned = outcome.steps_per_epoch * epochs
    return RunOutput(
        run=run.name,
        state=state,
        path=show_path(path, ctx.experiment_dir) if path else None,
        outputs=tuple(show_path(p, ctx.experiment_dir) for p in outputs),
        job_id=job_id,
        detail=detail,
        training_seconds=seconds,
        clock=clock,
        wall_seconds=wall,
        sacct_state=sacct_state,
        its=its,
        speed_error=speed_error,
        tokens_per_s=tokens,
        steps_done=steps_done,
        steps_planned=steps_planned,
        model=(config.model_name if config else None) or run.model,
        recipe=config.recipe if config else None,
        where=where,
        config=config,
    )


def read_evals(run: PlannedRun, ctx: RunContext) -> list[EvalOutput]:
    """The run's eval jobs: ``{run}/eval/**/slurm-*.out`` (a cell directory each), and eval
    outputs under ``{run}/artifacts/`` (upstream's eval_template.slurm); the newest output of
    each cell."""
    from .probes.evals import looks_like_eval, read_eval_run

    run_dir = ctx.base / run.name
    cells: dict[str, list[str]] = {}
    for path in _eval_files(run_dir / "eval"):
        cells.setdefault(os.path.dirname(path), []).append(path)
    for path in _eval_files(run_dir / "artifacts"):
        if looks_like_eval(path):
            cells.setdefault(os.path.dirname(path), []).append(path)
    found = []
    for cell, paths in sorted(cells.items()):
        path = sorted(paths, key=_job_order)[-1]
        job = show_path(cell, ctx.base)
        summary = read_eval_run(path)
        facts = read_run_facts(path)
        state = facts.outcome.state
        shown = show_path(path, ctx.experiment_dir)
        if state == "timeout":
            found.append(EvalOutput(run.name, job, shown, "timeout", None, facts.outcome.detail))
        elif summary.total_seconds is not None:
            ended = "interrupted" if summary.interrupted else "completed"
            found.append(
                EvalOutput(run.name, job, shown, ended, summary.total_seconds, None, len(paths))
            )
        elif state in ("oom", "failed", "cancelled"):
            found.append(EvalOutput(run.name, job, shown, state, None, facts.outcome.detail))
        else:
            found.append(EvalOutput(run.name, job, shown, "running", None, "no summary yet"))
    return found


def newest_jobs(
    names: Sequence[str], since: str | None, runner: Callable[..., Any] = subprocess.run
) -> dict[str, SacctJob]:
    """The newest job of each name in SLURM accounting (the scaffolder names a run's job
    after the run). Raises :class:`~.probes.slurm.SlurmError` when accounting cannot answer."""
    query = query_jobs(name=list(names), since=since, runner=runner)
    newest: dict[str, SacctJob] = {}
    for job in query.jobs:
        have = newest.get(job.name)
        if have is None or job_order_id(job.job_id) > job_order_id(have.job_id):
            newest[job.name] = job
    return newest
