"""``experiment_summary.md``: the user's plan plus sections generated from the log itself.

The generated sections (resources verified, prior runs, estimates, disk) are rendered from the
log's entries at the moment the summary is written, so the summary and the log cannot disagree.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .entry import Entry
from .spec import SUMMARY_SECTIONS

SUMMARY_FILENAME = "experiment_summary.md"
GENERATED_MARKER = "<!-- generated from design-experiment.log -->"


@dataclass(frozen=True)
class RunsTable:
    """The runs table of a plan: how many runs, grouped by their type column when present.

    ``columns`` and ``rows`` keep the cells as written (stripped; rows padded or cut to the
    header's width) for readers that need the runs themselves (``plan_yaml``).
    """

    count: int
    groups: tuple[tuple[str, int], ...]
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    name_column: int = 0
    type_column: int | None = None

    def description(self) -> str:
        noun = "run" if self.count == 1 else "runs"
        if len(self.groups) > 1:
            detail = " + ".join(f"{n} {name}" for name, n in self.groups)
            return f"{self.count} {noun} ({detail})"
        return f"{self.count} {noun}"


_NAME_HEADERS = ("run", "runs", "name", "run name", "run_name")
_TYPE_HEADERS = ("type", "kind", "role", "group")


def find_runs_table(markdown: str) -> RunsTable | None:
    """The first markdown table whose header has a run/name column, counted by rows."""
    lines = markdown.splitlines()
    for index in range(len(lines) - 1):
        header, rule = lines[index].strip(), lines[index + 1].strip()
        if not (header.startswith("|") and re.fullmatch(r"\|?[\s:|-]+\|?", rule) and "-" in rule):
            continue
        written = [c.strip() for c in header.strip("|").split("|")]
        columns = [c.lower() for c in written]
        matching = [i for i, c in enumerate(columns) if re.search(r"\brun\b|\bruns\b|\bname\b", c)]
        if not matching:
            continue
        name_column = next((i for i in matching if columns[i] in _NAME_HEADERS), matching[0])
        rows = []
        for line in lines[index + 2 :]:
            if not line.strip().startswith("|"):
                break
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        type_column = next((i for i, c in enumerate(columns) if c in _TYPE_HEADERS), None)
        groups: Counter[str] = Counter()
        if type_column is not None:
            for row in rows:
                if type_column < len(row) and row[type_column]:
                    groups[row[type_column]] += 1
        width = len(written)
        cells = tuple(tuple((row + [""] * width)[:width]) for row in rows)
        return RunsTable(
            len(rows), tuple(groups.items()), tuple(written), cells, name_column, type_column
        )
    return None


def _section(title: str, entries: Sequence[Entry], fields: Sequence[str]) -> list[str]:
    if not entries:
        return []
    out = [f"### {title}", ""]
    for entry in entries:
        details = "; ".join(
            f"{key}: {entry.get(key)}" for key in fields if entry.get(key) is not None
        ).replace("\n", " ")
        out.append(f"- **{entry.brief or entry.action}** ({entry.time_text}) {details}".rstrip())
    out.append("")
    return out


def generated_sections(entries: Sequence[Entry]) -> str:
    """Markdown sections rendered from the log: resources, prior runs, estimates, disk."""

    lines = ["", GENERATED_MARKER, "## From the design log", ""]
    for section in SUMMARY_SECTIONS:
        chosen = [e for e in entries if e.action.startswith(section.prefixes)]
        lines += _section(section.title, chosen, section.fields)
    return "\n".join(lines).rstrip() + "\n"


def build_summary(markdown: str, entries: Sequence[Entry]) -> str:
    """The whole summary file: the user's markdown, then the generated sections."""
    return markdown.rstrip() + "\n" + generated_sections(entries)


def summary_result(markdown: str) -> str:
    """The ``Result:`` line: what the file holds."""
    table = find_runs_table(markdown)
    if table is not None:
        return f"File created with {table.description()}"
    headings = [ln.lstrip("#").strip() for ln in markdown.splitlines() if ln.startswith("#")]
    if headings:
        return f"File created with {len(headings)} sections ({', '.join(headings[:3])})"
    return "File created"


def plan_result(plan: Mapping[str, Any]) -> str:
    """The ``Result:`` line of ``experiment_summary.yaml``: its runs and the SLURM time each
    asks for (what the scaffolders will request)."""
    runs = [r for r in plan.get("runs") or [] if isinstance(r, Mapping)]
    by_time: dict[str, list[str]] = {}
    for run in runs:
        compute = run.get("compute")
        time = compute.get("time") if isinstance(compute, Mapping) else None
        if time:
            by_time.setdefault(str(time), []).append(str(run.get("name")))
    noun = "run" if len(runs) == 1 else "runs"
    parts = [f"{time} ({', '.join(names)})" for time, names in by_time.items()]
    text = f"experiment_summary.yaml for the scaffolders: {len(runs)} {noun}"
    if parts:
        text += "; compute.time " + ", ".join(parts)
    evaluation = plan.get("evaluation")
    compute = evaluation.get("compute") if isinstance(evaluation, Mapping) else None
    if isinstance(compute, Mapping) and compute.get("time"):
        text += f"; evaluation {compute['time']} per job"
    return text
