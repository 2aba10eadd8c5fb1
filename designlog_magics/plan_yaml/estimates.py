"""The log's time estimates, and which run each one covers.

Why its own module: each run's SLURM time (``runs[].compute.time``; without it a run gets a
15-minute default) and the evaluation's come from nothing but the estimates ``%%log_calc``
logged: an estimate's ``Estimate:``/``Limit:`` fields (``slurm_min = 23.07 min per run``) and
its ``Covers:`` (``fine-tuned``, ``control``, ``evaluation``, ``all`` or run names).
``compute.time`` is the covering estimate (its ``Limit:`` when it has one: the SLURM time asked
for) rounded up to the next whole minute, written ``H:MM:SS`` (``0:24:00``): the form
``sbatch --time`` takes (hours may pass 24), the form upstream's
``setup_finetune.py``/``setup_inspect.py`` put into ``#SBATCH --time`` verbatim and
``estimate_compute.parse_wall_time`` reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from ..entry import Entry
from .schema import CONTROL, FINE_TUNED, PlanError

# Covers: selectors; anything else in the comma-separated list is a run name.
EVALUATION, ALL = "evaluation", "all"
DEFAULT_COVERS = {"CALCULATE_TIME": FINE_TUNED, "CALCULATE_EVAL_TIME": EVALUATION}

# ``Estimate: slurm_min = 23.07 min per run`` / ``Limit: ...`` (steps/calculate.py writes
# f"{name} = {value:.2f} {unit} per run"); a size estimate (``need_gib = 40.00 GiB``) is no time.
TIME_ESTIMATE_RE = re.compile(
    r"(?P<variable>[A-Za-z_][A-Za-z0-9_]*) = (?P<value>[0-9]+(?:\.[0-9]+)?) "
    r"(?P<unit>s|min|h) per run"
)
SIZE_ESTIMATE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]* = [0-9]+(?:\.[0-9]+)? (?:[KMGT]i?B)")
COVERS_ITEM_RE = re.compile(r"[^,\s](?:[^,]*[^,\s])?")
UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600}


@dataclass(frozen=True)
class Estimate:
    """A time estimate of the log: what one run (or one evaluation cell) takes.

    ``seconds`` is the ``Estimate:`` value, ``limit_seconds`` the ``Limit:`` value (the SLURM
    time asked for) when the entry has one; ``covers`` the ``Covers:`` items (selectors or run
    names), the action's default when the field is absent, ``()`` when there is neither.
    """

    action: str
    timestamp: datetime
    variable: str
    value: Decimal
    unit: str
    seconds: Decimal
    covers: tuple[str, ...]
    limit_variable: str | None = None
    limit_seconds: Decimal | None = None
    limit_value: Decimal | None = None
    limit_unit: str | None = None

    @property
    def slurm_seconds(self) -> Decimal:
        """What ``compute.time`` is made from: the limit when logged, else the estimate."""
        return self.limit_seconds if self.limit_seconds is not None else self.seconds

    @property
    def time(self) -> str:
        return compute_time(self.slurm_seconds)

    def describe(self) -> str:
        return f"{self.action} ({self.timestamp:%Y-%m-%d %H:%M:%S})"


def _time_field(entry: Entry, name: str) -> tuple[str, Decimal, str, Decimal] | None:
    text = entry.get(name)
    if text is None:
        return None
    match = TIME_ESTIMATE_RE.fullmatch(text.strip())
    if match is None:
        if name == "Estimate" and SIZE_ESTIMATE_RE.fullmatch(text.strip()):
            return None
        raise PlanError(
            f"{entry.action} ({entry.time_text}): {name}: {text!r} is not "
            f"'VAR = VALUE UNIT per run' (UNIT s, min or h)"
        )
    value = Decimal(match["value"])
    unit = match["unit"]
    return match["variable"], value, unit, value * UNIT_SECONDS[unit]


def parse_estimate(entry: Entry) -> Estimate | None:
    """The time estimate an entry carries, or ``None`` (no ``Estimate:``, or a size estimate).

    Raises ``PlanError`` for an ``Estimate:``, ``Limit:`` or ``Covers:`` field that is not in
    the form ``%%log_calc`` writes. Failed entries are parsed too; callers skip them.
    """
    estimate = _time_field(entry, "Estimate")
    if estimate is None:
        return None
    variable, value, unit, seconds = estimate
    limit = _time_field(entry, "Limit")
    covers_text = entry.get("Covers")
    if covers_text is None:
        default = DEFAULT_COVERS.get(entry.action)
        covers: tuple[str, ...] = (default,) if default else ()
    else:
        items = [item.strip() for item in covers_text.split(",")]
        if not items or not all(COVERS_ITEM_RE.fullmatch(item) for item in items):
            raise PlanError(
                f"{entry.action} ({entry.time_text}): Covers: {covers_text!r} is not a "
                f"comma-separated list of fine-tuned, control, evaluation, all or run names"
            )
        covers = tuple(items)
    return Estimate(
        entry.action,
        entry.timestamp,
        variable,
        value,
        unit,
        seconds,
        covers,
        limit[0] if limit else None,
        limit[3] if limit else None,
        limit[1] if limit else None,
        limit[2] if limit else None,
    )


def compute_time(seconds: Decimal | float | int) -> str:
    """``H:MM:SS`` for a SLURM time limit: ``seconds`` rounded UP to the next whole minute.

    ``compute_time(1384.2) == "0:24:00"``, ``compute_time(1440) == "0:24:00"``. A time that is
    not positive is refused (SLURM reads a limit of 0 as no limit at all).
    """
    if isinstance(seconds, bool):
        raise PlanError(f"not a time: {seconds!r}")
    try:
        value = Decimal(repr(seconds)) if isinstance(seconds, float) else Decimal(seconds)
    except (InvalidOperation, TypeError, ValueError):
        raise PlanError(f"not a time: {seconds!r}") from None
    if not value.is_finite() or value <= 0:
        raise PlanError(f"a SLURM time must be positive, not {seconds!r} seconds")
    minutes = int((value / 60).to_integral_value(rounding=ROUND_CEILING))
    if minutes * 60 < value:  # guard against an inexact division
        minutes += 1
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:00"


EVAL_ACTION = "CALCULATE_EVAL_TIME"


@dataclass(frozen=True)
class Coverage:
    """What an estimate covers: the runs it names and whether it is an evaluation's.

    An evaluation's estimate (a ``CALCULATE_EVAL_TIME``, or one whose ``Covers:`` says
    ``evaluation``) is the time of one evaluation job: it gives ``evaluation.compute.time``
    and never a training run's; its other selectors say whose evaluation jobs it covers (every
    run's when it names none). Any other estimate is a training run's time.
    """

    names: frozenset[str]
    evaluation: bool
    unmatched: tuple[str, ...]


def covered_runs(estimate: Estimate, runs: Sequence[tuple[str, str | None]]) -> Coverage:
    """What ``estimate`` covers among ``runs`` (each run's name and type); the one rule the
    scaffolders' YAML and the outcome both follow."""
    evaluation = estimate.action == EVAL_ACTION or EVALUATION in estimate.covers
    items = [item for item in estimate.covers if item != EVALUATION]
    names: set[str] = set()
    unmatched: list[str] = []
    for item in items:
        if item == ALL:
            chosen = {name for name, _ in runs}
        elif item in (FINE_TUNED, CONTROL, "eval-only"):
            chosen = {name for name, kind in runs if kind == item}
        else:
            chosen = {item} & {name for name, _ in runs}
        if not chosen:
            unmatched.append(item)
        names |= chosen
    if evaluation and not items:
        names = {name for name, _ in runs}
    return Coverage(frozenset(names), evaluation, tuple(unmatched))


def resolve_estimates(
    estimates: Sequence[tuple[int, Estimate]], runs: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Estimate], Estimate | None, list[str]]:
    """Each run's covering estimate (the latest wins), the evaluation's, and the problems.

    An estimate whose ``Covers:`` names something no run is (``control`` with no control run,
    a run name not in the plan) is a problem, unless a later estimate of the same action
    followed it (the log is append-only: a replaced estimate stays in it).
    """
    per_run: dict[str, Estimate] = {}
    evaluation: Estimate | None = None
    problems: list[str] = []
    last_of_action = {estimate.action: index for index, estimate in estimates}
    pairs = [(str(r.get("name")), r.get("type") if isinstance(r.get("type"), str) else None)
             for r in runs]  # fmt: skip
    for index, estimate in estimates:
        coverage = covered_runs(estimate, pairs)
        if coverage.evaluation:
            evaluation = estimate  # one evaluation job's time, never a training run's
        else:
            for name in coverage.names:
                per_run[name] = estimate
        unmatched = list(coverage.unmatched)
        if unmatched and last_of_action[estimate.action] == index:
            problems.append(
                f"the estimate of {estimate.describe()} covers "
                f"{', '.join(unmatched)}, which no run of the plan is"
            )
    return per_run, evaluation, problems
