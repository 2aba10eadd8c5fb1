"""The rate over a prior run, drawn as a small static SVG for the cell's output.

A reader sees at a glance why the speed figure is what it is: tqdm's rate at each update, the
steady stretch that was kept, the warmup, validations and checkpoint pauses that were left out,
the rate to plan with, and tokens/s per GPU per step where the run logged it. The charts are
drawn by leather (the optional extra ``designlog-magics[figures]``: pure Python, no other
dependency), imported only here and only when a figure is drawn; without it there is no
figure and no error. The output is an image, not a widget, so it survives export; its text is
escaped by the XML writer.

Why leather and not matplotlib: in a fresh kernel, importing matplotlib's ``Figure`` and SVG
canvas costs about 0.5 s and 45 MB, and drawing these two panels 0.1 s each time; leather
draws them in about 0.03 s with about 1 MB more (``benchmarks/bench_speed.py``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

KIND_STYLE = {
    "steady": ("#1565c0", "steady (kept)"),
    "warmup": ("#f9a825", "warmup"),
    "validation": ("#6a1b9a", "validation"),
    "pause": ("#c62828", "pause (checkpoint, gap)"),
    "epoch-average": ("#9e9e9e", "epoch average"),
}
TOKENS_COLOUR = "#2e7d32"
WIDTH = 760
RATE_HEIGHT = 280
TOKENS_HEIGHT = 220
TOKEN_POINTS_MAX = 600  # per-step tokens/s drawn (evenly chosen): enough for a line
DOT_RADIUS = 1.6


def speed_figure(report: Any, tokens: Any = None) -> str | None:
    """SVG text of the run's rate per update (and its tokens/s per step when ``tokens`` has
    them); None when there is nothing to draw or the figures extra is not installed."""
    points = list(report.points)
    if not points:
        return None
    try:
        import leather  # type: ignore[import-untyped]
    except ImportError:  # the optional extra is not installed: no figure
        return None
    panels = [(_rate_chart(leather, points, report.plan_its), RATE_HEIGHT)]
    steps = list(getattr(tokens, "steps", None) or ()) if tokens is not None else []
    if len(steps) >= 2:
        panels.append(
            (_tokens_chart(leather, steps, getattr(tokens, "tokens_per_s", None)), TOKENS_HEIGHT)
        )
    return _stacked_svg(panels)


def _stacked_svg(panels: Sequence[tuple[Any, int]]) -> str:
    """One SVG of leather charts stacked top to bottom, each ``(chart, height)``."""
    height = sum(h for _, h in panels)
    root = ET.Element(
        "svg",
        width=str(WIDTH),
        height=str(height),
        version="1.1",
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {WIDTH} {height}",
    )
    top = 0
    for chart, panel_height in panels:
        group = ET.SubElement(root, "g", transform=f"translate(0,{top})")
        group.append(chart.to_svg_group(WIDTH, panel_height))
        top += panel_height
    return ET.tostring(root, encoding="unicode")


def _rate_chart(leather: Any, points: Sequence[Any], plan: float | None) -> Any:
    chart = leather.Chart("it/s at each update, in the order printed")
    for kind, (colour, label) in KIND_STYLE.items():
        chosen = [(i, rate) for i, p in enumerate(points) if p[4] == kind and (rate := p[3])]
        if chosen:
            chart.add_dots(chosen, name=label, fill_color=colour, radius=DOT_RADIUS)
    if plan:
        chart.add_line(
            [(0, plan), (max(1, len(points) - 1), plan)],
            name=f"plan with {plan:.2f} it/s",
            stroke_color=KIND_STYLE["steady"][0],
            width=1,
            stroke_dasharray="4,3",
        )
    chart.add_x_axis(tick_formatter=_count)
    return chart


def _tokens_chart(leather: Any, steps: Sequence[tuple[int, float]], median: float | None) -> Any:
    every = max(1, len(steps) // TOKEN_POINTS_MAX)
    chosen = [(int(s), float(v)) for s, v in steps[::every]]
    chart = leather.Chart("tokens/s per GPU at each training step")
    chart.add_line(chosen, name="tokens/s per GPU", stroke_color=TOKENS_COLOUR, width=1)
    if median:
        chart.add_line(
            [(chosen[0][0], median), (chosen[-1][0], median)],
            name=f"median after warmup: {median:,.0f}",
            stroke_color=TOKENS_COLOUR,
            width=1,
            stroke_dasharray="4,3",
        )
    chart.add_x_axis(tick_formatter=_count)
    chart.add_y_axis(tick_formatter=_count)
    return chart


def _count(value: Any, index: int, count: int) -> str:
    """A tick as a short whole number: ``750``, ``2.5k``, ``1.2M``."""
    number = float(value)
    if abs(number) >= 1_000_000:
        return f"{number / 1_000_000:g}M"
    if abs(number) >= 1000:
        return f"{number / 1000:g}k"
    return f"{number:,.0f}"


VERDICT_COLOURS = {
    "within the margin": "#2e7d32",
    "UNDER-ESTIMATED": "#c62828",
    "over-estimated": "#f9a825",
}
ESTIMATE_COLOUR = "#9e9e9e"
OUTCOME_HEIGHT = 300


def outcome_figure(points: Sequence[tuple[str, float, float, str]]) -> str | None:
    """SVG text of each run's training time: the estimate (grey) beside what it took (coloured
    by its verdict), in minutes; None when no run has both or the figures extra is missing."""
    runs = [(run, est, act, verdict) for run, est, act, verdict in points if "/" not in run]
    if not runs:
        return None
    try:
        import leather
    except ImportError:
        return None
    columns: list[tuple[str, float]] = []
    colours: dict[str, str] = {}
    for run, estimated, actual, verdict in runs:
        columns.append((f"{run} estimated", estimated / 60))
        columns.append((f"{run} took", actual / 60))
        colours[f"{run} estimated"] = ESTIMATE_COLOUR
        colours[f"{run} took"] = VERDICT_COLOURS.get(verdict, "#616161")
    chart = leather.Chart("training time per run, minutes: estimated (grey) and what it took")
    chart.add_columns(columns, fill_color=lambda datum: colours[datum.x])
    chart.add_y_axis(tick_formatter=_count)
    return _stacked_svg([(chart, OUTCOME_HEIGHT)])
