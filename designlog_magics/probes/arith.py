"""Arithmetic over named numbers, evaluated without ``exec``: what an agent's calculation and the
audit's recomputation may run.

A notebook's ``%%log_calc`` cell is the user's own code and runs as Python. A calculation that
comes from elsewhere (an agent's tool call, the ``designlog calculate`` verb, a log being
audited) is untrusted text: here it is parsed with :mod:`ast` and only numbers, names bound
before, ``+ - * / // % **``, unary signs, parentheses and the functions in :data:`FUNCTIONS`
are evaluated, with bounds on the text's length, the tree's size, exponents and magnitudes, so
neither ``__import__('os')`` nor ``9 ** 9 ** 9`` runs.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..exceptions import DesignLogError
from .calc import Assignment, CalcFacts

MAX_TEXT = 500  # characters of one expression
MAX_NODES = 200  # nodes of its syntax tree
MAX_EXPONENT = 100
MAX_MAGNITUDE = 1e300
MAX_STEPS = 100

Number = int | float

_OPERATORS: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
FUNCTIONS: Mapping[str, Callable[..., Number]] = {
    "ceil": math.ceil,
    "floor": math.floor,
    "round": round,
    "abs": abs,
    "min": min,
    "max": max,
}
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_INPUT_RE = re.compile(
    r"\s*(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*=\s*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>.*?)\s*\Z"
)
_STEP_RE = re.compile(
    r"\s*(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*=(?!=)(?P<expr>[^#]*)(?:#(?P<unit>.*))?"
)


class NotArithmetic(DesignLogError):
    """An expression that is not plain arithmetic, or too big to evaluate."""


def evaluate(expression: str, names: Mapping[str, Number]) -> Number:
    """The value of ``expression`` over ``names`` (raises :class:`NotArithmetic`)."""
    text = expression.strip()
    if len(text) > MAX_TEXT:
        raise NotArithmetic(f"expression longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise NotArithmetic(f"not arithmetic: {exc.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise NotArithmetic(f"expression with more than {MAX_NODES} parts")
    try:
        return evaluate_node(tree.body, names)
    except ZeroDivisionError:
        raise NotArithmetic("division by zero") from None
    except OverflowError:
        raise NotArithmetic("a number too large") from None


def evaluate_node(node: ast.AST, names: Mapping[str, Number]) -> Number:
    """Evaluate one node of an arithmetic tree (the audit recomputes with this too)."""
    if isinstance(node, ast.Expression):
        return evaluate_node(node.body, names)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _bounded(node.value)
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise NotArithmetic(f"unknown name {node.id!r}")
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = evaluate_node(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = evaluate_node(node.left, names), evaluate_node(node.right, names)
        if isinstance(node.op, ast.Pow) and (abs(right) > MAX_EXPONENT or abs(left) > 1e15):
            raise NotArithmetic(f"exponent too large (at most {MAX_EXPONENT})")
        return _bounded(_OPERATORS[type(node.op)](left, right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and not node.keywords
        and 1 <= len(node.args) <= 8
    ):
        arguments = [evaluate_node(argument, names) for argument in node.args]
        return _bounded(FUNCTIONS[node.func.id](*arguments))
    raise NotArithmetic(f"not arithmetic: {ast.unparse(node)[:60]!r}")


def _bounded(value: Any) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotArithmetic("not a number")
    if isinstance(value, complex) or (isinstance(value, float) and not math.isfinite(value)):
        raise NotArithmetic("not a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise NotArithmetic("a number too large")
    return value


def evaluate_restricted(
    inputs: Sequence[str], steps: Sequence[str]
) -> tuple[CalcFacts, dict[str, Number]]:
    """Inputs (``samples=8000``, ``speed=4.34 it/s``) and steps (``x = samples / speed  # s``)
    as the facts a ``%%log_calc`` cell of the same assignments gives, and the names' values."""
    from .calc import CalculationError

    if len(inputs) + len(steps) > MAX_STEPS:
        raise CalculationError(f"more than {MAX_STEPS} inputs and steps")
    names: dict[str, Number] = {}
    found: list[Assignment] = []
    for number, text in enumerate(inputs, start=1):
        match = _INPUT_RE.fullmatch(text)
        if not match:
            raise CalculationError(
                f"input {number}: {text[:60]!r} is not NAME=NUMBER [unit] (e.g. speed=4.34 it/s)"
            )
        name, raw, unit = match.group("name", "value", "unit")
        _check_name(name, f"input {number}")
        _check_unit(unit, f"input {number}")
        value: Number = int(raw) if re.fullmatch(r"[-+]?\d+", raw) else float(raw)
        names[name] = _bounded(value)
        found.append(Assignment(name, raw, value, unit, True, number))
    for number, text in enumerate(steps, start=len(inputs) + 1):
        match = _STEP_RE.fullmatch(text)
        if not match:
            raise CalculationError(f"step {number}: {text[:60]!r} is not NAME = EXPR  # unit")
        name, expression, unit = match.group("name"), match.group("expr"), match.group("unit")
        _check_name(name, f"step {number}")
        unit = (unit or "").strip()
        _check_unit(unit, f"step {number}")
        try:
            value = evaluate(expression, names)
        except NotArithmetic as exc:
            raise CalculationError(f"step {number} ({name}): {exc}") from None
        names[name] = value
        found.append(
            Assignment(
                name,
                ast.unparse(ast.parse(expression.strip(), mode="eval")),
                value,
                unit,
                False,
                number,
            )
        )
    last = {a.name: i for i, a in enumerate(found)}
    return CalcFacts(tuple(a for i, a in enumerate(found) if last[a.name] == i)), names


def _check_name(name: str, where: str) -> None:
    from .calc import CalculationError

    if not _NAME_RE.fullmatch(name) or name in FUNCTIONS:
        raise CalculationError(f"{where}: {name!r} cannot be a name")


def _check_unit(unit: str, where: str) -> None:
    from .calc import CalculationError

    if len(unit) > 20 or any(ch in unit for ch in "\n\r=,{}") or not unit.isprintable():
        raise CalculationError(f"{where}: {unit[:20]!r} is not a unit")
