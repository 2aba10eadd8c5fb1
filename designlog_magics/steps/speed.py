"""EXTRACT_SPEED: how fast a prior run went (it/s and tokens/s), what it was and how it ended;
on an inspect-ai evaluation's output, its time, tokens and samples per second."""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..commandline import quote_path, verb_command
from ..exceptions import StepError
from ..spec import default_explanation
from .base import Plot, StepContext, StepOutcome, facts_of, make_entry, outcome
from .search import like_argument, like_from_words
from .table import Verb, explain_argument


class RunSpeed(float):
    """What ``%log_speed -o VAR`` stores: the it/s to plan with, and the run's other figures.

    It is a float (``steps / speed`` works as before), and ``speed.tokens_per_s`` gives the
    tokens per second per GPU, for estimates that divide tokens instead of steps.
    """

    its: float
    tokens_per_s: float | None
    run: str
    outcome: str
    config: dict[str, Any]

    def __new__(cls, its: float, **facts: Any) -> RunSpeed:
        value = super().__new__(cls, its)
        value.its = its
        value.tokens_per_s = facts.get("tokens_per_s")
        value.run = facts.get("run") or ""
        value.outcome = facts.get("outcome") or ""
        value.config = facts.get("config") or {}
        return value


def _resolve_source(source: str, ctx: StepContext, notes: list[str]) -> str:
    from ..probes.slurm.jobids import names_one_job

    if names_one_job(source):
        from ..probes import slurm

        try:
            path = ctx.run_path(slurm.resolve_output(source))
        except slurm.SlurmError as exc:
            raise StepError(f"job {source}: {exc}") from None
        notes.append(f"job {source}: {path}")
    else:
        path = ctx.run_path(source)
    if not os.path.isfile(path):
        raise StepError(f"no such file: {path}")
    return path


def speed(
    ctx: StepContext,
    *,
    source: str,
    full: bool = False,
    like: Sequence[str] | None = None,
    explain: str | None = None,
) -> StepOutcome:
    """EXTRACT_SPEED of the run whose output (or job id) is ``source``, the file read once."""
    from ..probes.prior_run import read_prior_run

    notes: list[str] = []
    path = _resolve_source(source, ctx, notes)
    words = [quote_path(ctx.log_path(path))] + (["--full"] if full else [])
    if like:
        words += ["--like", *(shlex.quote(word) for word in like)]
    command = verb_command("speed", *words)
    try:
        with ctx.progress(f"reading {Path(path).name}") as progress:
            prior = read_prior_run(
                path,
                full=full,
                progress=lambda done, total: progress.update(
                    f"{done / 1e6:,.0f} of {total / 1e6:,.0f} MB"
                ),
            )
    except OSError as exc:
        raise StepError(f"cannot read {path}: {exc.strerror or exc}") from None
    if prior.eval_run is not None:
        return _eval_speed(prior.eval_run, path, command, explain, notes)
    report, tokens, facts = prior.speed, prior.tokens, prior.facts
    assert report is not None and tokens is not None  # a training output has both
    config = facts.config
    run_name = next((p for p in reversed(Path(path).parts[:-1]) if p.startswith("ck-out-")), None)
    plan = like_from_words(like or [])
    its = report.plan_its
    warning = _transfer_warning(path, facts, its, tokens, plan) if plan else None
    entry = make_entry(
        "EXTRACT_SPEED",
        f"Analyzing {run_name or 'prior run'} for training speed",
        command=command,
        result=report.summary(),
        run=config.describe() if config is not None else None,
        outcome=outcome_text(facts.outcome) if facts.outcome.state != "unknown" else None,
        tokens=tokens_text(tokens) if tokens.tokens_per_s else None,
        warning=warning,
        error=None if report.ok else report.error,
        explanation=default_explanation("EXTRACT_SPEED", explain),
    )
    value = None
    if report.ok and its:
        value = RunSpeed(
            its,
            tokens_per_s=tokens.tokens_per_s,
            run=run_name or "",
            outcome=facts.outcome.state,
            config=dict(config.raw) if config is not None else {},
        )
    data = {
        **facts_of(report),
        "plan_its": its,
        "tokens": facts_of(tokens),
        "config": facts_of(config),
        "outcome": facts_of(facts.outcome),
    }
    return outcome(
        entry,
        value=value,
        data=data,
        notes=[*notes, report.detail()],
        plot=Plot("speed", (report, tokens)),
    )


def outcome_text(run_outcome: Any) -> str:
    """How the run ended, as a planner reads it: a killed run's speed still counts."""
    what = {
        "completed": "completed",
        "timeout": "killed at its time limit",
        "cancelled": "cancelled",
        "oom": "ran out of memory",
        "failed": "crashed",
        "running": "still running",
    }.get(run_outcome.state, run_outcome.state)
    done = run_outcome.describe().partition(": ")[2]
    text = f"{what} ({done})" if done else what
    if run_outcome.state in ("timeout", "cancelled", "running"):
        text += "; the speed of the steps it ran still counts"
    if run_outcome.state in ("oom", "failed") and run_outcome.detail:
        text += f": {run_outcome.detail}"
    return text


def tokens_text(tokens: Any) -> str:
    """The ``Tokens:`` line: tokens/s per GPU and where the figure came from."""
    figure = f"{tokens.tokens_per_s:,.0f} tokens/s per GPU"
    if tokens.kind == "last-step":
        return f"{figure} (the last step's value in the wandb summary, not a mean)"
    source = "torchtune's metric log" if "disk-log" in (tokens.source or "") else "the output"
    return (
        f"{figure} (median of {tokens.samples:,} steps after {tokens.excluded_warmup:,} "
        f"warmup, from {source})"
    )


def _eval_speed(
    run: Any, path: str, command: str, explain: str | None, notes: list[str]
) -> StepOutcome:
    ok = run.total_seconds is not None
    entry = make_entry(
        "EXTRACT_SPEED",
        f"Analyzing {run.task or Path(path).name} for evaluation throughput",
        command=command,
        result=run.summary() if ok else "Failed: no evaluation summary found",
        error=None if ok else run.error or "no evaluation summary found",
        explanation=explain
        or "Measuring evaluation throughput so evaluation time is estimated from a run",
    )
    return outcome(entry, value=run if ok else None, data=facts_of(run), notes=notes)


def _transfer_warning(
    path: str, facts: Any, its: float | None, tokens: Any, like: Mapping[str, str]
) -> str | None:
    from ..probes.runtable import record_from_facts, transfer_warning

    try:
        warning: str | None = transfer_warning(record_from_facts(path, facts, its, tokens), like)
        return warning
    except ValueError as exc:
        raise StepError(f"--like: {exc}") from None


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SLURM_OUT|JOBID", help="a slurm-*.out file or a job id")
    parser.add_argument("--full", action="store_true", help="read every byte (no sampling)")
    like_argument(
        parser,
        "warn when the run differs from the plan in model, batch size, "
        "accumulation or sequence length",
    )
    explain_argument(parser)


VERBS = (
    Verb(
        "speed",
        speed,
        _grammar,
        "EXTRACT_SPEED: the steady training speed of a prior run, from its output or job id.",
        "designlog speed /scratch/me/ck-out-happy-narwhal/slurm-4187301.out",
        reads_only=True,
        paths=("source",),
        output=True,
    ),
)
