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
    points = list(report.points)
    if not points:
        return None
    try:
        import matplotlib
    except ImportError:  # the optional extra is not installed: no figure
        return None

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    steps = list(getattr(tokens, "steps", None) or ()) if tokens is not None else []
    figure = Figure(figsize=(6.4, 3.2 if steps else 2.4), dpi=100)
    grid = figure.add_gridspec(2 if steps else 1, 1, height_ratios=[2, 1] if steps else [1])
    axes = figure.add_subplot(grid[0])
    for kind, (colour, label) in KIND_STYLE.items():
        chosen = [
            (i, rate) for i, p in enumerate(points) if _kind(p) == kind and (rate := _rate(p))
        ]
        if chosen:
            axes.scatter([x for x, _ in chosen], [y for _, y in chosen], s=5, c=colour, label=label)
    plan = report.plan_its
    if plan:
        axes.axhline(
            plan, color="#1565c0", linewidth=0.8, linestyle="--", label=f"plan with {plan:.2f} it/s"
        )
    axes.set_ylabel("it/s", fontsize=8)
    axes.set_xlabel("update (in the order printed)", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=6, loc="lower right", markerscale=2)
    if steps:
        lower = figure.add_subplot(grid[1])
        lower.plot([s for s, _ in steps], [v for _, v in steps], color="#2e7d32", linewidth=0.7)
        rate = getattr(tokens, "tokens_per_s", None)
        if rate:
            lower.axhline(rate, color="#2e7d32", linewidth=0.8, linestyle="--")
        lower.set_xlabel("training step", fontsize=8)
        lower.set_ylabel("tokens/s per GPU", fontsize=8)
        lower.tick_params(labelsize=7)
    figure.tight_layout()
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text: small, searchable
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _rate(point: Any) -> float | None:
    value = point[3]
    return float(value) if value is not None else None


def _kind(point: Any) -> str:
    return str(point[4])
