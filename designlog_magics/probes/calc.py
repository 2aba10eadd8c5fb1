"""What a calculation cell did: its inputs, its calculations, their values.

A ``%%log_calc`` cell is ordinary Python. Read with :mod:`ast`, each top-level assignment is
either an input (a literal, or a value taken from a variable defined earlier) or a calculation
(anything computed), so the log can show ``Input: samples=8000, batch_size=4, speed=4.34 it/s``
and ``Calculation: steps_per_epoch = samples / batch_size = 2000``. A trailing comment on an
assignment is its unit (``speed = 4.34  # it/s``).
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import DesignLogError
from .clipping import clip

_TIGHT_UNITS = {
    "s",
    "ms",
    "min",
    "h",
    "d",
    "%",
    "B",
    "K",
    "M",
    "G",
    "T",
    "KB",
    "MB",
    "GB",
    "TB",
    "KiB",
    "MiB",
    "GiB",
    "TiB",
    "x",
    "×",
}


class CalculationError(DesignLogError):
    """A calculation cell that could not run: one line saying where and why."""


@dataclass(frozen=True)
class Assignment:
    """One ``name = expression`` of the cell, with its value after the cell ran."""

    name: str
    expression: str
    value: Any
    unit: str
    is_input: bool
    line: int

    def value_text(self) -> str:
        return format_value(self.value, self.unit)

    def as_input(self) -> str:
        """``speed=4.34 it/s``; a value that says where it came from (a ``source`` text, as a
        calibration factor has) says so: ``safety=1.32 (p90 of actual/estimated over ...)``."""
        number = isinstance(self.value, int | float) and not isinstance(self.value, bool)
        source = getattr(self.value, "source", None) if number else None
        if isinstance(source, str) and source.strip():
            return f"{self.name}={self.value_text()} ({' '.join(source.split())})"
        return f"{self.name}={self.value_text()}"

    @property
    def shown_exactly(self) -> bool:
        return not isinstance(self.value, float) or _shows_exactly(self.value)

    def approximate(self, inexact_names: frozenset[str] = frozenset()) -> bool:
        """The value, or a value it was computed from, is shown rounded: a reader recomputing
        from the log's figures gets close to it, not the same digits."""
        if not self.shown_exactly:
            return True
        try:
            tree = ast.parse(self.expression, mode="eval")
        except SyntaxError:
            return False
        return any(isinstance(n, ast.Name) and n.id in inexact_names for n in ast.walk(tree))

    def as_calculation(self, inexact_names: frozenset[str] = frozenset()) -> str:
        sign = "≈" if self.approximate(inexact_names) else "="
        return f"{self.name} = {self.expression} {sign} {self.value_text()}"


@dataclass(frozen=True)
class CalcFacts:
    """Inputs and calculations of a cell, in the order they were written."""

    assignments: tuple[Assignment, ...]

    @property
    def inputs(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if a.is_input)

    @property
    def calculations(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if not a.is_input)

    def input_text(self) -> str:
        return ", ".join(a.as_input() for a in self.inputs)

    def calculation_text(self) -> str:
        inexact: set[str] = {a.name for a in self.inputs if not a.shown_exactly}
        parts = []
        for assignment in self.calculations:
            parts.append(assignment.as_calculation(frozenset(inexact)))
            if assignment.approximate(frozenset(inexact)):
                inexact.add(assignment.name)
        return ", ".join(parts)

    def default_result(self) -> str:
        """The last calculation (or input) as ``name = value``, when no template is given."""
        last = (self.calculations or self.inputs or (None,))[-1]
        if last is None:
            return "No values computed"
        return f"{last.name} = {last.value_text()}"


def format_value(value: Any, unit: str = "") -> str:
    """Numbers as a person writes them in a plan: 2000, 4.34, 461, 0.125; then the unit."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = repr(value) if not isinstance(value, str) else value
        text = clip(text, 80)
    elif isinstance(value, int):
        text = str(value)
    elif math.isnan(value) or math.isinf(value):
        text = str(value)
    elif value == int(value) and abs(value) < 1e15:
        text = str(int(value))
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.3g}"
    if not unit:
        return text
    return f"{text}{unit}" if unit in _TIGHT_UNITS else f"{text} {unit}"


def _shows_exactly(value: float) -> bool:
    text = format_value(value)
    try:
        return float(text) == value
    except ValueError:
        return False


def _comments_by_line(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return comments


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def run_calculation(source: str, namespace: MutableMapping[str, Any]) -> CalcFacts:
    """Execute ``source`` in ``namespace`` and describe its assignments.

    Raises :class:`CalculationError` (one line: the line number and the error) when the cell
    does not compile or fails; names assigned before the failure stay in ``namespace``.
    """
    try:
        tree = ast.parse(source, "<log_calc>", "exec")
    except SyntaxError as exc:
        raise CalculationError(f"syntax error on line {exc.lineno}: {exc.msg}") from None
    before = _values_read_from_outside(tree, namespace)
    try:
        code = compile(tree, "<log_calc>", "exec")
        exec(code, namespace)  # type: ignore[arg-type]  # noqa: S102 - the user's own cell
    except Exception as exc:
        line = _failing_line(exc)
        where = f" on line {line}" if line else ""
        raise CalculationError(f"calculation failed{where}: {type(exc).__name__}: {exc}") from None
    comments = _comments_by_line(source)
    assigned_here: set[str] = set()
    found: list[Assignment] = []
    for statement in tree.body:
        targets: list[ast.expr]
        value: ast.expr | None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        elif isinstance(statement, ast.AugAssign):
            targets = [statement.target]
            value = ast.BinOp(statement.target, statement.op, statement.value)
        else:
            continue
        names = _target_names(targets)
        if not names:
            continue
        elements = (
            value.elts
            if isinstance(value, ast.Tuple) and len(names) > 1 and len(value.elts) == len(names)
            else [value] * len(names)
        )
        unit = comments.get(statement.end_lineno or statement.lineno, "")
        for name, element in zip(names, elements, strict=True):
            expression = ast.unparse(element)
            is_input = _is_literal(element) or _reads_earlier_variable(element, assigned_here)
            found.append(
                Assignment(name, expression, namespace.get(name), unit, is_input, statement.lineno)
            )
            assigned_here.add(name)
    described = _last_per_name(found)
    shown = {a.name for a in described if a.is_input}
    outside = [
        Assignment(name, name, value, "", True, 0)
        for name, value in before.items()
        if name not in shown
    ]
    return CalcFacts(tuple(outside + described))


def _values_read_from_outside(tree: ast.Module, namespace: MutableMapping[str, Any]) -> dict:
    """Values that the cell's calculations read from earlier variables, taken before it runs.

    ``x = x * 2`` with ``x = 10`` must log ``Input: x=10``, not the 20 the statement leaves.
    Names read by an input assignment (``speed = prior_speed``) are shown by that assignment.
    """
    assigned: set[str] = set()
    values: dict[str, Any] = {}
    for statement in tree.body:
        value = getattr(statement, "value", None)
        is_input_assignment = isinstance(statement, ast.Assign | ast.AnnAssign) and (
            value is not None and (_is_literal(value) or _reads_earlier_variable(value, assigned))
        )
        reads = statement.value if isinstance(statement, ast.Assign | ast.AnnAssign) else statement
        if reads is not None and not is_input_assignment:
            for node in ast.walk(reads):
                if (
                    isinstance(node, ast.Name)
                    and isinstance(node.ctx, ast.Load)
                    and node.id not in assigned
                    and node.id not in values
                    and node.id in namespace
                    and _is_plain_value(namespace[node.id])
                ):
                    values[node.id] = namespace[node.id]
        if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            name = statement.target.id
            if name not in assigned and name not in values and _is_plain_value(namespace.get(name)):
                values[name] = namespace[name]
        for target in _statement_targets(statement):
            assigned.add(target)
    return values


def _reads_earlier_variable(node: ast.expr, assigned_here: set[str]) -> bool:
    """``speed`` or ``speed.tokens_per_s``: a value taken from a variable of an earlier cell."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id not in assigned_here


def _is_plain_value(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _statement_targets(statement: ast.stmt) -> list[str]:
    if isinstance(statement, ast.Assign):
        return [n.id for t in statement.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(statement, ast.AnnAssign | ast.AugAssign):
        return [n.id for n in ast.walk(statement.target) if isinstance(n, ast.Name)]
    return []


def _last_per_name(found: list[Assignment]) -> list[Assignment]:
    """A name assigned twice is described once: by its last assignment, at its place."""
    last = {assignment.name: index for index, assignment in enumerate(found)}
    return [a for index, a in enumerate(found) if last[a.name] == index]


def _target_names(targets: list[ast.expr]) -> list[str]:
    target = targets[-1]
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
        return [e.id for e in target.elts]  # type: ignore[attr-defined]
    return []


def _failing_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<log_calc>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def evaluate_assignment(statement: str, namespace: MutableMapping[str, Any]) -> CalcFacts:
    """The line form ``NAME = EXPR`` over existing variables: inputs are the names it reads."""
    try:
        tree = ast.parse(statement.strip(), "<log_calc>", "exec")
    except SyntaxError as exc:
        raise CalculationError(f"not an assignment NAME = EXPR: {exc.msg}") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign | ast.AnnAssign):
        raise CalculationError("expected one assignment, e.g. %log_calc total = steps / speed")
    node = tree.body[0]
    value_node = node.value
    assert value_node is not None
    read_names = []
    for sub in ast.walk(value_node):
        if isinstance(sub, ast.Name) and sub.id not in read_names and sub.id in namespace:
            read_names.append(sub.id)
    before = {name: namespace[name] for name in read_names if _is_plain_value(namespace[name])}
    facts = run_calculation(statement.strip(), namespace)
    inputs = tuple(Assignment(name, name, value, "", True, 1) for name, value in before.items())
    calculations = tuple(
        Assignment(a.name, a.expression, a.value, a.unit, False, a.line)
        for a in facts.assignments
        if a.line  # the snapshot above already holds the names read from outside
    )
    return CalcFacts(inputs + calculations)
