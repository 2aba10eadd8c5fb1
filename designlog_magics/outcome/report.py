"""What the outcome of an experiment found: one check per logged estimate, and each run.

Why: the same findings are shown as a text table (``designlog outcome``), as JSON
(``--json``), as points of an estimated-against-actual plot, and as the ``Result:`` and
``Source:`` of a log entry; the report holds them once and renders each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..runoutputs import EvalOutput, RunOutput
from .lines import UNDER, OutcomeError, OutcomeLine

CHECK_KEYS = ("time", "speed", "tokens", "eval-time", "disk")
CHECK_LABELS = {
    "time": "Training time",
    "speed": "Training speed (it/s)",
    "tokens": "Training tokens/s per GPU",
    "eval-time": "Evaluation time",
    "disk": "Disk used",
}


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
