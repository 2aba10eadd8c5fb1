"""CALCULATE_TIME (or another action): a calculation logged as its inputs, its steps and its
result; and when it is an estimate, which value is the estimate and which runs it covers.

In a notebook the calculation is the user's own Python (a ``%%log_calc`` cell, or one
``%log_calc NAME = EXPR`` line), run in the user's namespace. From the command line or an agent
it is given as inputs and assignments and evaluated by a restricted evaluator: arithmetic over
named numbers, never ``exec``.

An estimate names its variable with ``--estimate VAR`` (what the run is expected to take; the
outcome's actual/estimated ratios are against it), optionally the SLURM time asked for with
``--limit VAR`` (the estimate times a safety factor), and the runs it covers with ``--covers``
(``fine-tuned`` for a training time, ``evaluation`` for an evaluation time, ``all``, ``control``
or run names). They become ``Estimate:``, ``Limit:`` and ``Covers:`` fields, which the
scaffolders' ``experiment_summary.yaml`` takes its ``compute.time`` from.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..entry import ACTION_NAME_RE
from ..exceptions import StepError
from ..expansion import format_names, format_template
from ..spec import calc_brief
from .base import StepContext, StepOutcome, facts_of, make_entry, outcome
from .table import Verb, explain_argument

TIME_UNITS = {"s": "s", "sec": "s", "seconds": "s", "min": "min", "minutes": "min", "h": "h"}
TIME_UNITS |= {"hours": "h"}
SIZE_UNITS = {"GiB": "GiB", "GB": "GB", "MiB": "MiB", "MB": "MB", "TiB": "TiB", "TB": "TB"}
DEFAULT_COVERS = {"CALCULATE_TIME": "fine-tuned", "CALCULATE_EVAL_TIME": "evaluation"}


def calculate(
    ctx: StepContext,
    *,
    words: Sequence[str] = (),
    action: str | None = None,
    brief: str | None = None,
    inputs: Sequence[str] = (),
    steps: Sequence[str] = (),
    result: str | None = None,
    estimate: str | None = None,
    limit: str | None = None,
    covers: str | None = None,
    explain: str | None = None,
    cell: str | None = None,
    line: str | None = None,
) -> StepOutcome:
    """Log a calculation. ``words`` are ``[ACTION] [BRIEF]``; ``result`` is a template formatted
    with the calculation's variables after it ran (it is never expanded before)."""
    from ..probes.arith import evaluate_restricted
    from ..probes.calc import CalculationError, evaluate_assignment, run_calculation

    words = list(words)
    if action is None and words and ACTION_NAME_RE.fullmatch(words[0]) and len(words[0]) > 1:
        action = words.pop(0)
    action = (action or "CALCULATE_TIME").upper()
    brief = brief or " ".join(words) or calc_brief(action)
    try:
        if cell is not None or line is not None:
            if ctx.namespace is None:
                raise StepError("a calculation in Python runs only in a notebook")
            if cell is not None:
                facts = run_calculation(cell, ctx.namespace)
            else:
                facts = evaluate_assignment(line or "", ctx.namespace)
            names: Any = ctx.namespace
            formatter: Callable[[str, Mapping[str, Any]], str] = format_template
        else:
            if not steps and not inputs:
                raise StepError("give the calculation: --input NAME=VALUE ... --step 'X = EXPR'")
            facts, names = evaluate_restricted(inputs, steps)
            formatter = format_names
    except CalculationError as exc:
        raise StepError(f"{exc}; nothing was logged") from None
    if result:
        try:
            text = formatter(result, names)
        except ValueError as exc:
            raise StepError(f"--result: {exc}; nothing was logged") from None
    else:
        text = facts.default_result()
    values = {a.name: a for a in facts.assignments}
    covered = (covers or DEFAULT_COVERS.get(action)) if estimate else None
    if covers and not estimate:
        raise StepError("--covers needs --estimate VAR (the estimate that covers those runs)")
    if limit and not estimate:
        raise StepError("--limit needs --estimate VAR (the estimate the limit is made from)")
    entry = make_entry(
        action,
        brief,
        input=facts.input_text() or None,
        calculation=facts.calculation_text() or None,
        result=text,
        estimate=_estimate_text(values, estimate, "--estimate") if estimate else None,
        limit=_estimate_text(values, limit, "--limit") if limit else None,
        covers=_covers_text(covered) if covered and _is_time(values, estimate) else None,
        explanation=explain,
    )
    return outcome(entry, value=facts, data=facts_of(facts))


def _is_time(values: Mapping[str, Any], name: str | None) -> bool:
    return name is not None and name in values and values[name].unit in TIME_UNITS


def _estimate_text(values: Mapping[str, Any], name: str, option: str) -> str:
    """``total_min = 15.38 min per run`` (a time) or ``need_gib = 40.00 GiB`` (a size)."""
    if name not in values:
        raise StepError(f"{option} {name}: the calculation has no variable {name!r}")
    assignment = values[name]
    value = assignment.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StepError(f"{option} {name}: {name} is not a number")
    unit = assignment.unit
    if unit in TIME_UNITS:
        return f"{name} = {value:.2f} {TIME_UNITS[unit]} per run"
    if unit in SIZE_UNITS:
        return f"{name} = {value:.2f} {SIZE_UNITS[unit]}"
    raise StepError(
        f"{option} {name}: give {name} a unit in a trailing comment "
        f"(# min, # s, # h for a time; # GiB for a size)"
    )


def _covers_text(selector: str) -> str:
    names = [part.strip() for part in selector.split(",") if part.strip()]
    if not names:
        raise StepError("--covers takes fine-tuned, control, evaluation, all or run names")
    for name in names:
        if "/" in name or name.startswith(("-", ".")) or "\x00" in name:
            raise StepError(f"--covers: {name!r} is not a run name")
    return ", ".join(names)


def _grammar(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "words",
        nargs="*",
        metavar="[ACTION] [BRIEF]",
        help="action type (default CALCULATE_TIME) and brief description",
    )
    parser.add_argument("-a", "--action", help="action type")
    parser.add_argument("-b", "--brief", help="brief description")
    parser.add_argument(
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input, with its unit after a space: samples=8000, speed='4.34 it/s'",
    )
    parser.add_argument(
        "--step",
        dest="steps",
        action="append",
        default=[],
        metavar="'NAME = EXPR  # unit'",
        help="a calculation step: arithmetic over the inputs and earlier steps",
    )
    parser.add_argument(
        "--result",
        metavar="TEMPLATE",
        help='formatted with the variables after the calculation, e.g. "{total_min:.0f} minutes"',
    )
    parser.add_argument(
        "--estimate",
        metavar="VAR",
        help="the variable that is the estimate (a time per run, or a disk size)",
    )
    parser.add_argument(
        "--limit", metavar="VAR", help="the variable that is the SLURM time to ask for per run"
    )
    parser.add_argument(
        "--covers",
        metavar="RUNS",
        help="the runs the estimate covers: fine-tuned (default for CALCULATE_TIME), "
        "evaluation (default for CALCULATE_EVAL_TIME), control, all, or run names",
    )
    explain_argument(parser)


VERBS = (
    Verb(
        "calculate",
        calculate,
        _grammar,
        "CALCULATE_TIME (or another action): log a calculation's inputs, steps and result.",
        "designlog calculate CALCULATE_TIME 'Training time' --input samples=8000 "
        "--input 'speed=4.34 it/s' --step 'total_min = samples / speed / 60  # min' "
        "--estimate total_min",
        cell="cell",
        notebook_only=("cell", "line"),
    ),
)
