"""How far this cluster's estimates run from what the runs took, over many experiments.

Why: one experiment cannot show that estimates run 30 % short; many can. Upstream's
estimator multiplies every estimate by a fixed 1.5 that nothing calibrates.
``calibrate(ROOT)`` reads every experiment under ROOT that has a design log, a plan and
finished runs (``read_outcome`` on each; the others are listed as skipped, with why), and
gathers actual/estimated of each run's training time (the ``time`` check):

* per model and recipe (the model from the run's resolved config, else the plan's
  ``runs[].model``; the recipe from torchtune's resolved config in the run's output), the
  median, the p90 and the count behind each;
* the recommended factor: the p90 over every run kept, the factor that would have covered
  90 % of them, beside the share the fixed 1.5 would have covered.

The p90 is the nearest rank: the ``ceil(0.9 * n)``-th smallest ratio. It is a ratio that
was observed, and by its definition at least 90 % of the runs are at or under it; with fewer
than ten runs it is the largest one. (An interpolated percentile would name a factor no run
had, and could cover fewer than 90 % of a small sample.)

A run killed at its time limit took at least its actual time; it counts with the ratio it
would have had at the pace it went (its measured time times planned steps over steps done),
since its lower bound would pull the factor down exactly where it was too small. Runs still
running, not found, or ended without a time (out of memory, failed) are left out.

``like`` keeps runs like a plan (``model=``, ``recipe=``, ``batch_size=`` ... as ``--like``),
read from each run's resolved config, else from its plan (controls and run parameters).
:class:`Calibration` is the factor as a float that says where it came from, for
``-o calibration`` and the ``Input:`` of a ``%%log_calc`` that uses it.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .exceptions import DesignLogError
from .outcome import DEFAULT_MARGIN, UNDER, OutcomeError, OutcomeLine, read_outcome
from .plan_yaml import PLAN_FILENAME
from .store import LOG_FILENAME

FIXED_FACTOR = 1.5  # upstream estimate_compute.DEFAULT_SAFETY_MARGIN
COVERAGE = 0.9
MAX_DEPTH = 5  # directories below ROOT searched for experiments (scratch/ck-projects/P/E is 3)


class CalibrationError(DesignLogError):
    """Nothing to calibrate from, or a ``like`` that cannot be read: one plain line."""


class Calibration(float):
    """The recommended factor (a float), with where it came from.

    ``source`` reads like ``p90 of actual/estimated over 14 runs in 3 experiments: a, b, c``;
    a ``%%log_calc`` that uses it shows it in its ``Input:``.
    """

    source: str
    median: float
    p90: float
    count: int
    experiments: tuple[str, ...]

    def __new__(
        cls,
        value: float,
        *,
        source: str,
        median: float,
        count: int,
        experiments: Sequence[str],
    ) -> Calibration:
        self = super().__new__(cls, value)
        self.source = source
        self.median = float(median)
        self.p90 = float(value)
        self.count = count
        self.experiments = tuple(experiments)
        return self

    def __repr__(self) -> str:
        return f"Calibration({float(self):.4g}, {self.source!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (float(self), self.source, self.median, self.count, self.experiments))


def _rebuild(
    value: float, source: str, median: float, count: int, experiments: Sequence[str]
) -> Calibration:
    return Calibration(value, source=source, median=median, count=count, experiments=experiments)


def nearest_rank(values: Sequence[float], fraction: float = COVERAGE) -> float:
    """The ``ceil(fraction * n)``-th smallest value (the nearest-rank percentile)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))
    return ordered[rank - 1]


@dataclass(frozen=True)
class CalibrationRun:
    """One run's actual/estimated training time, as counted."""

    experiment: str
    run: str
    model: str | None
    recipe: str | None
    ratio: float
    killed: bool  # killed at its time limit: ``ratio`` is at the pace it went (or at least)
    verdict: str


@dataclass(frozen=True)
class RatioGroup:
    """The runs of one model and recipe: how many, their median and p90."""

    model: str
    recipe: str
    count: int
    median: float
    p90: float


def _normal_recipe(name: str) -> str:
    """``LoRAFinetuneRecipeSingleDevice`` and ``lora_finetune_single_device`` alike."""
    return name.lower().replace("_", "").replace("recipe", "")


def _like_problem(line: OutcomeLine, key: str, wanted: Any) -> str | None:
    """Why the run is not like the plan on ``key`` (None when it is)."""
    from .probes.runfacts import same_model

    config = line.config
    if key == "model":
        have = config if config is not None else line.model
        if same_model(have, wanted):
            return None
        return f"model {line.model or 'unknown'} vs {wanted}"
    if key == "recipe":
        if line.recipe is not None and _normal_recipe(line.recipe) == _normal_recipe(wanted):
            return None
        return f"recipe {line.recipe or 'unknown (no resolved config)'} vs {wanted}"
    have = getattr(config, key, None) if config is not None else None
    if have is None:
        have = line.settings.get(key)
    if have is None:
        return f"{key} unknown"
    if have == wanted and isinstance(have, bool) == isinstance(wanted, bool):
        return None
    return f"{key} {have} vs {wanted}"


def _counted(line: OutcomeLine) -> float | None:
    """The ratio a run counts with (see the module docstring), or None."""
    if line.ratio is None:
        return None
    if line.verdict == UNDER and line.at_least and line.projected_ratio is not None:
        return max(line.projected_ratio, line.ratio)
    return line.ratio


def find_experiments(root: str | os.PathLike[str]) -> list[Path]:
    """Directories under ``root`` (itself included) holding a design log or a plan; an
    experiment's own subdirectories (its runs) are not searched."""
    top = Path(root).expanduser()
    found = []
    base = len(top.parts)
    for directory, dirs, files in os.walk(top):
        dirs.sort()
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if LOG_FILENAME in files or PLAN_FILENAME in files:
            found.append(Path(directory))
            dirs[:] = []
        elif len(Path(directory).parts) - base >= MAX_DEPTH:
            dirs[:] = []
    return found


@dataclass(frozen=True)
class CalibrationReport:
    """What ``calibrate`` found: the runs counted, their groups, the factor, what was skipped."""

    root: str
    like: Mapping[str, Any]
    runs: tuple[CalibrationRun, ...]
    groups: tuple[RatioGroup, ...]
    skipped: tuple[tuple[str, str], ...]  # (experiment directory, why)
    unlike: tuple[tuple[str, str], ...]  # (experiment/run, how it differs from ``like``)
    calibration: Calibration
    fixed_covered: int  # runs the fixed 1.5 would have covered

    @property
    def factor(self) -> float:
        return float(self.calibration)

    @property
    def fixed_share(self) -> float:
        return self.fixed_covered / len(self.runs)

    def fixed_verdict(self) -> str:
        """How the fixed 1.5 compares: too loose, too tight, or right."""
        factor = self.factor
        n = len(self.runs)
        covered = (
            f"1.5 would have covered {self.fixed_covered} of {n} runs ({self.fixed_share:.0%})"
        )
        if factor < FIXED_FACTOR:
            extra = FIXED_FACTOR / factor - 1
            return (
                f"{covered}: too loose; {factor:.2f} covers 90%, and 1.5 asks {extra:.0%} "
                f"more time than that (longer waits in the queue)"
            )
        if factor > FIXED_FACTOR:
            return f"{covered}: too tight; {factor:.2f} is needed to cover 90%"
        return f"{covered}: right for 90%"

    def result_text(self) -> str:
        """One line, for an ``EXTRACT_CALIBRATION`` entry's ``Result:``."""
        killed = sum(1 for r in self.runs if r.killed)
        killed_text = f", {killed} killed at its time limit counted at its pace" if killed else ""
        return (
            f"Factor {self.factor:.2f}: {self.calibration.source} (median "
            f"{self.calibration.median:.2f}{killed_text}); {self.fixed_verdict()}"
        )

    def render(self) -> str:
        """A text table: per model and recipe, then every run, then what was skipped."""
        out = [f"Calibration over {self.root}" + _like_text(self.like), ""]
        rows = [("model", "recipe", "runs", "median", "p90")]
        rows += [
            (g.model, g.recipe, str(g.count), f"{g.median:.2f}", f"{g.p90:.2f}")
            for g in self.groups
        ]
        rows.append(
            ("all", "", str(len(self.runs)), f"{self.calibration.median:.2f}", f"{self.factor:.2f}")
        )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        out += ["  " + "  ".join(r[i].ljust(widths[i]) for i in range(5)).rstrip() for r in rows]
        out += ["", f"Recommended factor: {self.factor:.2f} ({self.calibration.source})"]
        out += [self.fixed_verdict(), "", "Runs (actual/estimated):"]
        for run in self.runs:
            mark = " (killed at its time limit: at its pace)" if run.killed else ""
            out.append(f"  {run.experiment}/{run.run}: {run.ratio:.2f}{mark}")
        if self.unlike:
            out += ["", "Not like the plan:"] + [f"  {w}: {why}" for w, why in self.unlike]
        if self.skipped:
            out += ["", "Skipped:"] + [f"  {w}: {why}" for w, why in self.skipped]
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``--json``)."""
        return {
            "root": self.root,
            "like": dict(self.like),
            "factor": self.factor,
            "median": self.calibration.median,
            "count": len(self.runs),
            "experiments": list(self.calibration.experiments),
            "source": self.calibration.source,
            "fixed_factor": FIXED_FACTOR,
            "fixed_covered": self.fixed_covered,
            "fixed_share": self.fixed_share,
            "fixed_verdict": self.fixed_verdict(),
            "result": self.result_text(),
            "groups": [
                {
                    "model": g.model,
                    "recipe": g.recipe,
                    "count": g.count,
                    "median": g.median,
                    "p90": g.p90,
                }
                for g in self.groups
            ],  # fmt: skip
            "runs": [
                {
                    "experiment": r.experiment,
                    "run": r.run,
                    "model": r.model,
                    "recipe": r.recipe,
                    "ratio": r.ratio,
                    "killed": r.killed,
                    "verdict": r.verdict,
                }
                for r in self.runs
            ],  # fmt: skip
            "skipped": [{"experiment": w, "why": why} for w, why in self.skipped],
            "unlike": [{"run": w, "why": why} for w, why in self.unlike],
        }


def _like_text(like: Mapping[str, Any]) -> str:
    """`` like batch_size 4, model Llama-3.2-1B``: no ``=``, so an ``Input:`` that shows a
    factor's source binds no name but the factor's own."""
    if not like:
        return ""
    return " like " + ", ".join(f"{k} {v}" for k, v in like.items())


def calibrate(
    root: str | os.PathLike[str],
    *,
    like: Mapping[str, str] = MappingProxyType({}),
    margin: Sequence[float] = DEFAULT_MARGIN,
    sacct: bool = False,
    runner: Callable[..., Any] = subprocess.run,
) -> CalibrationReport:
    """The factor that would have covered 90 % of the finished runs under ``root`` (see the
    module docstring); raises :class:`CalibrationError` when there is nothing to count."""
    from .probes.runtable import parse_like

    top = Path(root).expanduser()
    if not top.is_dir():
        raise CalibrationError(f"{top}: no such directory")
    try:
        wanted = parse_like(like)
    except ValueError as exc:
        raise CalibrationError(str(exc)) from None
    runs: list[CalibrationRun] = []
    skipped: list[tuple[str, str]] = []
    unlike: list[tuple[str, str]] = []
    used: list[str] = []
    for directory in find_experiments(top):
        shown = str(directory.relative_to(top)) if directory != top else str(directory)
        try:
            report = read_outcome(directory, margin=margin, sacct=sacct, runner=runner)
        except OutcomeError as exc:
            why = str(exc)
            skipped.append((shown, why.removeprefix(f"{directory}: ")))
            continue
        if not any(check.key == "time" for check in report.checks):
            skipped.append((shown, "no training time estimate (Estimate: ... per run) in its log"))
            continue
        name = report.experiment or directory.name
        counted = 0
        waiting = []
        for line in report.check("time").lines:
            ratio = _counted(line)
            if ratio is None:
                waiting.append(f"{line.run} {line.verdict_text}")
                continue
            problems = [p for k, v in wanted.items() if (p := _like_problem(line, k, v))]
            if problems:
                unlike.append((f"{name}/{line.run}", "; ".join(problems)))
                continue
            runs.append(
                CalibrationRun(
                    name, line.run, line.model, line.recipe, ratio, line.at_least, line.verdict
                )
            )
            counted += 1
        if counted:
            used.append(name)
        elif not waiting:
            skipped.append((shown, "none of its runs is like the plan"))
        else:
            skipped.append((shown, "no finished run with a time: " + ", ".join(waiting)))
    if not runs:
        why = "; ".join(f"{w} ({r})" for w, r in skipped) or "no experiment found"
        raise CalibrationError(f"nothing to calibrate from under {top}{_like_text(like)}: {why}")
    ratios = [r.ratio for r in runs]
    factor = nearest_rank(ratios)
    source = (
        f"p90 of actual/estimated over {len(runs)} run{'s' if len(runs) != 1 else ''} in "
        f"{len(used)} experiment{'s' if len(used) != 1 else ''}: {', '.join(used)}"
        f"{_like_text(like)}"
    )
    calibration = Calibration(
        factor, source=source, median=statistics.median(ratios), count=len(runs), experiments=used
    )
    return CalibrationReport(
        root=str(top),
        like=dict(wanted),
        runs=tuple(runs),
        groups=_groups(runs),
        skipped=tuple(skipped),
        unlike=tuple(unlike),
        calibration=calibration,
        fixed_covered=sum(1 for r in ratios if r <= FIXED_FACTOR),
    )


def _groups(runs: Sequence[CalibrationRun]) -> tuple[RatioGroup, ...]:
    by: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        key = (run.model or "unknown model", run.recipe or "unknown recipe")
        by.setdefault(key, []).append(run.ratio)
    return tuple(
        RatioGroup(model, recipe, len(values), statistics.median(values), nearest_rank(values))
        for (model, recipe), values in sorted(by.items())
    )


__all__ = [
    "COVERAGE",
    "FIXED_FACTOR",
    "Calibration",
    "CalibrationError",
    "CalibrationReport",
    "CalibrationRun",
    "RatioGroup",
    "calibrate",
    "find_experiments",
    "nearest_rank",
]
