"""DECIDE_NAMING (or DECIDE_<WHAT>): a decision and its reasoning; names are checked against the
convention ``task_factor_YYYY-MM-DD``."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

from ..entry import ACTION_NAME_RE
from ..exceptions import StepError
from .base import StepContext, StepOutcome, make_entry, outcome
from .table import Verb, explain_argument


def decide(
    ctx: StepContext,
    *,
    words: Sequence[str] = (),
    decision: str | None = None,
    reasoning: str | None = None,
    action: str = "DECIDE_NAMING",
    explain: str | None = None,
    cell: str | None = None,
) -> StepOutcome:
    """A decision with its reasoning (a cell may hold ``Decision:``/``Reasoning:`` lines)."""
    from ..probes.naming import naming_problems

    action = action.upper()
    if not ACTION_NAME_RE.fullmatch(action):
        raise StepError(f"invalid action type {action!r}")
    fields: list[tuple[str, str]] = []
    if decision is not None:
        fields.append(("Decision", decision))
    if reasoning is not None:
        fields.append(("Reasoning", reasoning))
    if cell is not None:
        fields.extend(cell_fields(ctx.expand(cell).logged))
    if explain is not None:
        fields.append(("Explanation", explain))
    chosen = next((v for k, v in fields if k == "Decision"), None)
    if not chosen:
        raise StepError("give --decision D (or a Decision: line in the cell)")
    if not any(k == "Reasoning" for k, _ in fields):
        raise StepError("give --reasoning R (or a Reasoning: line)")
    if action == "DECIDE_NAMING":
        problems = naming_problems(chosen.strip())
        if problems:
            fields.append(("Warning", "name breaks the convention: " + "; ".join(problems)))
    brief = " ".join(words) or (
        "Experiment name chosen" if action == "DECIDE_NAMING" else "Decision made"
    )
    return outcome(make_entry(action, brief, fields))


def cell_fields(body: str) -> list[tuple[str, str]]:
    """``Key: value`` lines of a cell (later unindented lines continue the value)."""
    fields: list[list[str]] = []
    for raw in body.splitlines():
        match = re.match(r"^([A-Za-z][A-Za-z0-9 _-]{0,47}):\s?(.*)$", raw)
        if match and not raw.startswith((" ", "\t")):
            fields.append([match.group(1).strip(), match.group(2)])
        elif fields:
            fields[-1][1] += "\n" + raw.strip()
        elif raw.strip():
            raise StepError(
                "the cell holds Key: value lines, e.g. 'Decision: cap_8L_lora_2025-10-22'"
            )
    return [(k, v.strip("\n")) for k, v in fields]


def naming(ctx: StepContext, *, name: str) -> StepOutcome:
    """The naming convention check alone: nothing to log."""
    from ..probes.naming import naming_problems

    problems = naming_problems(name.strip())
    text = (
        f"{name} follows the convention task_factor_YYYY-MM-DD"
        if not problems
        else f"{name} breaks the convention: " + "; ".join(problems)
    )
    return StepOutcome(value=problems, data={"name": name, "problems": problems}, notes=[text])


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="*", metavar="BRIEF")
    parser.add_argument("--decision", "-d", metavar="D")
    parser.add_argument("--reasoning", "-r", metavar="R")
    parser.add_argument(
        "-a", "--action", default="DECIDE_NAMING", help="action type (default DECIDE_NAMING)"
    )
    explain_argument(parser)


def _naming_grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")


VERBS = (
    Verb(
        "decide",
        decide,
        _grammar,
        "DECIDE_NAMING (or -a DECIDE_<WHAT>): record a decision and its reasoning.",
        'designlog decide --decision cap_8L_lora_2025-10-22 --reasoning "task, factor, date"',
        cell="cell",
        notebook_only=("cell",),
    ),
    Verb(
        "naming",
        naming,
        _naming_grammar,
        "Check an experiment name against the convention task_factor_YYYY-MM-DD "
        "(exit 1 when it breaks it).",
        "designlog naming cap_8L_lora_comparison_2025-10-22",
        reads_only=True,
        logs=False,
    ),
)
