"""The rate over a prior run, drawn as a small static SVG for the cell's output.

A reader sees at a glance why the speed figure is what it is: tqdm's rate at each update, the
steady stretch that was kept, the warmup, validations and checkpoint pauses that were left out,
and tokens/s per GPU where the run printed it. matplotlib is an optional extra
(``designlog-magics[figures]``), imported only here and only when a figure is drawn; the output
is an image, not a widget, so it survives export.
"""

from __future__ import annotations

import io
from typing import Any

KIND_STYLE = {
    "steady": ("#1565c0", "steady (kept)"),
    "warmup": ("#f9a825", "warmup"),
    "validation": ("#6a1b9a", "validation"),
    "pause": ("#c62828", "pause (checkpoint, gap)"),
    "epoch-average": ("#9e9e9e", "epoch average"),
}


def speed_figure(report: Any, tokens: Any = None) -> str | None:
    """SVG text of the run's rate per update; None when there is nothing to draw."""
    points = list(getattr(report, "points", None) or ())
    if not points:
        return None
    try:
        import matplotlib
    except ImportError:  # the optional extra is not installed: no figure
        return None

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.4), dpi=100)
    axes = figure.add_subplot()
    for kind, (colour, label) in KIND_STYLE.items():
        chosen = [(_x(p), rate) for p in points if _kind(p) == kind and (rate := _rate(p))]
        if chosen:
            axes.scatter([x for x, _ in chosen], [y for _, y in chosen], s=4, c=colour, label=label)
    plan = getattr(report, "plan_its", None) or getattr(report, "speed_its", None)
    if plan:
        axes.axhline(plan, color="#1565c0", linewidth=0.8, linestyle="--")
        axes.annotate(
            f"plan with {plan:.2f} it/s",
            (0.01, 0.92),
            xycoords="axes fraction",
            fontsize=8,
            color="#1565c0",
        )
    axes.set_xlabel("update", fontsize=8)
    axes.set_ylabel("it/s", fontsize=8)
    axes.tick_params(labelsize=7)
    steps = list(getattr(tokens, "steps", None) or ()) if tokens is not None else []
    if steps:
        right = axes.twinx()
        xs = _scale([s for s, _ in steps], [_x(p) for p in points])
        right.plot(
            xs, [v for _, v in steps], color="#2e7d32", linewidth=0.8, label="tokens/s per GPU"
        )
        right.set_ylabel("tokens/s per GPU", fontsize=8, color="#2e7d32")
        right.tick_params(labelsize=7)
    axes.legend(fontsize=6, loc="lower right", markerscale=2)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _x(point: Any) -> float:
    return float(point[0])


def _rate(point: Any) -> float | None:
    value = point[3]
    return float(value) if value is not None else None


def _kind(point: Any) -> str:
    return str(point[4])


def _scale(steps: list[int], xs: list[float]) -> list[float]:
    """Place logged steps on the update axis (the same run, its own step numbering)."""
    if not steps or not xs or max(steps) == min(steps):
        return [float(s) for s in steps]
    low, high = min(xs), max(xs)
    first, last = min(steps), max(steps)
    return [low + (s - first) * (high - low) / (last - first) for s in steps]
