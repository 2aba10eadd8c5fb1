"""What the ``%%log_summary`` cell gives the plan: its fenced ```yaml blocks and its runs table.

Why its own module: the cell knows what the log cannot. A ```yaml block may give any part of
the schema; the runs table (found by ``summary.find_runs_table``) gives the runs: a ``run``
column (the names), a ``type`` column (fine-tuned, control or eval-only) and one column per
parameter (``LoRA rank`` -> ``lora_rank``; notes columns are skipped, a ``model`` column names
each run's base model). Over the fine-tuned runs, a column whose values differ is a variable, a
column with one value in every run a constant (a control).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ..summary import RunsTable
from .schema import FINE_TUNED, RUN_TYPES, PlanError, run_name_problem, show_value

# Header words of the runs table that are no parameters; aliases to torchtune's keys.
NOTE_COLUMNS = {"notes", "note", "description", "comment", "comments"}
COLUMN_ALIASES = {"learning_rate": "lr", "rank": "lora_rank", "base_model": "model"}
NONE_CELLS = {"", "-", "–", "—"}  # noqa: RUF001 (dashes people type for "none")


def yaml_blocks(markdown: str) -> dict[str, Any]:
    """The fenced ```yaml blocks of the cell, merged (a key given twice must agree)."""
    merged: dict[str, Any] = {}
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = re.fullmatch(r" {0,3}(`{3,}|~{3,})\s*(?:yaml|yml)\s*", lines[index], re.I)
        if not opening:
            index += 1
            continue
        fence = opening.group(1)
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence[0] * len(fence))
            and not lines[end].strip().strip(fence[0])
        ):
            body.append(lines[end])
            end += 1
        try:
            data = yaml.safe_load("\n".join(body))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {index + 2 + mark.line} of the cell" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "not YAML"
            raise PlanError(f"the cell's yaml block: {problem}{where}") from None
        if data is not None and not isinstance(data, dict):
            raise PlanError("the cell's yaml block must be a mapping (experiment:, controls:, ...)")
        conflicts: list[str] = []
        merged = _merge(merged, data or {}, "", conflicts)
        if conflicts:
            raise PlanError("the cell's yaml blocks disagree: " + "; ".join(conflicts))
        index = end + 1
    return merged


def _merge(
    base: dict[str, Any], extra: Mapping[str, Any], where: str, out: list[str]
) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        key = str(key)
        path = f"{where}.{key}" if where else key
        if key in result and isinstance(result[key], dict) and isinstance(value, dict):
            result[key] = _merge(result[key], value, path, out)
        elif key in result and result[key] != value:
            out.append(f"{path}: {show_value(result[key])} and {show_value(value)}")
        else:
            result[key] = value
    return result


def column_key(header: str) -> str:
    """``LoRA rank`` -> ``lora_rank``, ``batch size`` -> ``batch_size`` (torchtune's keys)."""
    key = re.sub(r"[^a-z0-9]+", "_", header.replace("`", "").lower()).strip("_")
    return COLUMN_ALIASES.get(key, key)


_INT_RE = re.compile(r"[-+]?[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+")
_FLOAT_RE = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?")


def cell_value(text: str) -> Any:
    """A table cell as a value: ``-``/empty -> None, numbers -> int/float, true/false -> bool."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "`":
        text = text[1:-1].strip()
    if text in NONE_CELLS:
        return None
    if _INT_RE.fullmatch(text):
        return int(text.replace(",", ""))
    if _FLOAT_RE.fullmatch(text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def run_type(text: str) -> str | None:
    """``Fine-tuned``, ``fine tuned``, ``finetuned`` -> ``fine-tuned``; ``None`` if unknown."""
    key = re.sub(r"[\s_]+", "-", text.strip().lower())
    key = {"finetuned": "fine-tuned", "evalonly": "eval-only"}.get(key, key)
    return key if key in RUN_TYPES else None


@dataclass
class TableRuns:
    """Runs read from the runs table: runs, variables, constant columns (controls)."""

    runs: list[dict[str, Any]]
    variables: dict[str, list[Any]]
    constants: dict[str, Any]


def runs_from_table(table: RunsTable, problems: list[str]) -> TableRuns:
    """Runs, variables and constants of a runs table (see the module docstring)."""
    keys: dict[int, str] = {}
    model_column: int | None = None
    for index, header in enumerate(table.columns):
        if index in (table.name_column, table.type_column):
            continue
        key = column_key(header)
        if not key or key in NOTE_COLUMNS:
            continue
        if key == "model":
            model_column = index
            continue
        if key in keys.values():
            problems.append(f"the runs table has two {key} columns")
            continue
        keys[index] = key
    if table.type_column is None:
        problems.append("the runs table needs a type column (fine-tuned, control or eval-only)")
        return TableRuns([], {}, {})
    rows: list[tuple[str, str | None, str | None, dict[str, Any]]] = []
    for cells in table.rows:
        name = cells[table.name_column].strip()
        if len(name) >= 2 and name[0] == name[-1] == "`":
            name = name[1:-1].strip()
        problem = run_name_problem(name)
        if problem:
            problems.append(problem)
            continue
        kind = run_type(cells[table.type_column])
        if kind is None:
            problems.append(
                f"run {name}: type {show_value(cells[table.type_column])} is not fine-tuned, "
                f"control or eval-only"
            )
            continue
        model = cell_value(cells[model_column]) if model_column is not None else None
        values = {key: cell_value(cells[i]) for i, key in keys.items()}
        rows.append((name, kind, str(model) if model is not None else None, values))
    tuned = [values for _, kind, _, values in rows if kind == FINE_TUNED]
    variables: dict[str, list[Any]] = {}
    constants: dict[str, Any] = {}
    for key in keys.values():
        present = [values[key] for values in tuned if values[key] is not None]
        distinct = _distinct(present)
        if not present:
            continue
        if len(distinct) == 1 and len(present) == len(tuned):
            constants[key] = distinct[0]
        else:
            variables[key] = distinct
    runs: list[dict[str, Any]] = []
    for name, kind, model, values in rows:
        if kind == FINE_TUNED:
            chosen = variables if variables else keys.values()
            parameters = {k: values[k] for k in chosen if values[k] is not None}
        else:
            parameters = {k: v for k, v in values.items() if v is not None and k not in constants}
        run: dict[str, Any] = {"name": name, "type": kind}
        if model is not None:
            run["model"] = model
        run["parameters"] = parameters
        runs.append(run)
    return TableRuns(runs, variables, constants)


def _distinct(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not any(value == seen and type(value) is type(seen) for seen in out):
            out.append(value)
    return out


def varied_parameters(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Parameters whose values differ across the given runs (runs given in a yaml block)."""
    params: list[dict[str, Any]] = [
        r["parameters"] if isinstance(r.get("parameters"), dict) else {} for r in runs
    ]
    keys = list(dict.fromkeys(k for p in params for k in p))
    variables: dict[str, list[Any]] = {}
    for key in keys:
        values = [p.get(key) for p in params]
        distinct = _distinct(v for v in values if v is not None)
        if len(distinct) > 1 or (distinct and None in values):
            variables[key] = distinct
    return variables
