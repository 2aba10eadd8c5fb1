"""The ``experiment_summary.yaml`` file: written in the template's style, read back and checked.

Why its own module: the text and the disk are their own concern: the template's layout (key
order kept, list items indented, plain lists in flow style), an atomic write that never
overwrites without ``--force``, and one ``PlanError`` line for a file that cannot be read.
``compute.time`` is always quoted (unquoted, YAML 1.1 reads ``1:30:00`` as the number 5400).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .schema import WALL_TIME_RE, PlanError, validate_plan

PLAN_FILENAME = "experiment_summary.yaml"


class _PlanDumper(yaml.SafeDumper):
    """PyYAML's safe dumper in the template's style: list items indented under their key,
    lists of plain values in flow style (``[8, 16]``), times and texts with line breaks in
    double quotes (``"0:24:00"``, ``"Capitalize: {input}\n"``)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True  # a list two runs share is written out twice, never as &id001 / *id001


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    if WALL_TIME_RE.fullmatch(text) or "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
    return dumper.represent_str(text)


def _represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.Node:
    flow = bool(items) and not any(isinstance(item, dict | list) for item in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


_PlanDumper.add_representer(str, _represent_str)
_PlanDumper.add_representer(list, _represent_list)


HEADER = (
    "# experiment_summary.yaml: the plan for the torchtune and inspect-ai scaffolders,\n"
    "# written from design-experiment.log and the experiment_summary.md cell.\n"
)


def dump_plan(plan: Mapping[str, Any]) -> str:
    """The plan as YAML text: key order kept, block style, unicode as written."""
    body = yaml.dump(
        dict(plan),
        Dumper=_PlanDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
        indent=2,
    )
    return HEADER + body


def load_plan(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a (possibly edited) experiment_summary.yaml and validate it; one ``PlanError`` line
    for a missing file, a YAML syntax error (with its line) or a wrong structure."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{target}: no such file") from None
    except IsADirectoryError:
        raise PlanError(f"{target}: is a directory, not an experiment_summary.yaml") from None
    except UnicodeDecodeError:
        raise PlanError(f"{target}: not UTF-8 text") from None
    except OSError as exc:
        raise PlanError(f"{target}: cannot read it ({exc.strerror or exc})") from None
    try:
        plan = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise PlanError(f"{target}: YAML syntax error{where}: {problem}") from None
    problems = validate_plan(plan)
    if problems:
        shown = "; ".join(problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise PlanError(f"{target} is not a valid experiment_summary.yaml: {shown}{more}")
    assert isinstance(plan, dict)
    return plan


def write_plan(path: str | os.PathLike[str], text: str, force: bool = False) -> Path:
    """Write ``text`` to ``path`` whole (see :mod:`..files`); an existing file is refused
    without ``force``."""
    from ..files import FileExists, write_file

    target = Path(path)
    try:
        return write_file(target, text, force=force)
    except FileExists as exc:
        raise PlanError(str(exc)) from None
    except OSError as exc:
        raise PlanError(f"cannot write {target}: {exc.strerror or exc}") from None
