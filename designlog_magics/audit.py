"""Checks over a list of entries, the way an auditor reads a design log.

Used by ``%log_complete`` (what is still missing before the design is declared complete),
``%designlog status`` and the panel's checklist (which steps are done), and ``designlog audit``.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .entry import Entry
from .textformat import Diagnostic


@dataclass(frozen=True)
class DesignStep:
    """A step the specification expects, done by a non-failed entry of ``action``."""

    key: str
    label: str
    action: str
    required: bool = True


DESIGN_STEPS: tuple[DesignStep, ...] = (
    DesignStep("model", "model verified", "VERIFY_MODEL"),
    DesignStep("dataset", "dataset verified", "VERIFY_DATASET"),
    DesignStep("search", "prior runs searched", "SEARCH_PRIOR_RUNS"),
    DesignStep("speed", "speed extracted", "EXTRACT_SPEED", required=False),
    DesignStep("time", "time calculated", "CALCULATE_TIME"),
    DesignStep("disk", "disk checked", "CHECK_DISK"),
    DesignStep("naming", "name decided", "DECIDE_NAMING"),
    DesignStep("summary", "summary created", "CREATE_SUMMARY"),
    DesignStep("complete", "complete", "COMPLETE", required=False),
)


def steps_done(entries: Sequence[Entry]) -> dict[str, bool]:
    """For each design step, whether a non-failed entry records it."""
    done_actions = {e.action for e in entries if not e.failed}
    return {step.key: step.action in done_actions for step in DESIGN_STEPS}


def is_preliminary(entry: Entry) -> bool:
    """An estimate the writer marked as preliminary (no prior run to rest on)."""
    text = " ".join([entry.brief, *(v for _, v in entry.fields)]).lower()
    return "preliminary" in text


@dataclass(frozen=True)
class Finding:
    """One thing the audit found; ``severity`` "error" fails the audit."""

    code: str
    message: str
    line: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{self.severity.upper()}: {where}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "severity": self.severity,
        }


@dataclass
class AuditReport:
    """The findings of an audit, and what passed."""

    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    entries: int = 0

    @property
    def passed(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


def missing_steps(entries: Sequence[Entry]) -> list[str]:
    """Labels of the required steps no non-failed entry records (used by ``%log_complete``)."""
    done = steps_done(entries)
    missing = []
    for step in DESIGN_STEPS:
        if not step.required or done[step.key]:
            continue
        if step.key == "search" and any(
            e.action == "CALCULATE_TIME" and is_preliminary(e) for e in entries
        ):
            continue  # an estimate marked preliminary stands in for a prior-run search
        missing.append(step.label)
    return missing


def unsettled_failures(
    entries: Sequence[Entry], lines: Sequence[int] | None = None
) -> list[Finding]:
    """Failures not followed by a later success of the same action, nor by a later entry
    whose ``Resolution:`` names the action or the failed entry's brief."""
    findings = []
    for index, entry in enumerate(entries):
        if not entry.failed:
            continue
        later = entries[index + 1 :]
        if any(e.action == entry.action and not e.failed for e in later):
            continue
        resolutions = " ".join(r for e in later for r in e.get_all("Resolution"))
        if resolutions and (
            entry.action in resolutions or (entry.brief and entry.brief in resolutions)
        ):
            continue
        findings.append(
            Finding(
                "unsettled-failure",
                f"{entry.action} failed ({entry.get('Error') or entry.get('Result')}) and no later "
                f"success or Resolution: follows",
                lines[index] if lines else None,
            )
        )
    return findings


_NUMBER_RE = re.compile(r"^\s*(-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)")
_BINDING_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)")
_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def _arith(node: ast.AST, names: dict[str, float]) -> float:
    if isinstance(node, ast.Expression):
        return _arith(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _arith(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _arith(node.left, names), _arith(node.right, names)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](left, right)
    raise ValueError("not arithmetic")


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in (part.strip() for part in parts) if p]


def _number(text: str) -> tuple[float, int] | None:
    match = _NUMBER_RE.match(text)
    if not match:
        return None
    digits = match.group(1).replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits), decimals


def recheck_calculation(entry: Entry) -> list[str]:
    """Recompute every arithmetic step of the entry's ``Calculation:``; return mismatches.

    Names are bound from ``Input:`` (``samples=8000``) and from earlier steps; a step is
    compared only when its left side is arithmetic (numbers, names, + - * / // % **) and the
    right side starts with a number. ``=`` must match to the digits shown; ``≈`` within 2%.
    """
    names: dict[str, float] = {}
    for text in entry.get_all("Input"):
        for name, value in _BINDING_RE.findall(text):
            names[name] = float(value.replace(",", ""))
    problems = []
    for calculation in entry.get_all("Calculation"):
        for step in _split_top_level(calculation.replace("×", "*").replace("÷", "/")):
            parts = re.split(r"\s*(=|≈)\s*", step)
            target = parts[0] if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", parts[0]) else None
            for i in range(0 if target is None else 2, len(parts) - 2, 2):
                expression, sign, shown = parts[i], parts[i + 1], parts[i + 2]
                if not re.search(r"[-+*/%]", expression.strip().lstrip("-")):
                    continue
                parsed = _number(shown)
                if parsed is None:
                    continue
                try:
                    value = _arith(ast.parse(expression.strip(), mode="eval"), names)
                except (ValueError, SyntaxError, ZeroDivisionError, OverflowError):
                    continue
                claimed, decimals = parsed
                if sign == "=":
                    ok = math.isclose(round(value, decimals), claimed, rel_tol=1e-9, abs_tol=1e-9)
                else:
                    ok = math.isclose(value, claimed, rel_tol=0.02, abs_tol=0.5 * 10**-decimals)
                if not ok:
                    problems.append(
                        f"{expression.strip()} {sign} {shown.strip()} is wrong: it is {value:.6g}"
                    )
                if target is not None and i == 2:
                    names[target] = value
            if target is not None and target not in names and len(parts) >= 3:
                parsed = _number(parts[-1])
                if parsed:
                    names[target] = parsed[0]
    return problems


def audit_entries(
    entries: Sequence[Entry],
    *,
    lines: Sequence[int] | None = None,
    diagnostics: Sequence[Diagnostic] = (),
) -> AuditReport:
    """Run every check on a log's entries (see the module docstring)."""
    report = AuditReport(entries=len(entries))
    line_of = (lambda i: lines[i]) if lines else (lambda i: None)  # noqa: E731

    report.checked.append("entries well-formed")
    for diagnostic in diagnostics:
        severity = "error" if diagnostic.severity == "error" else "warning"
        report.findings.append(Finding("malformed", diagnostic.message, diagnostic.line, severity))

    report.checked.append("required steps before COMPLETE")
    complete_at = next((i for i, e in enumerate(entries) if e.action == "COMPLETE"), None)
    if complete_at is None:
        report.findings.append(
            Finding("not-complete", "no COMPLETE entry: the design is not marked finished")
        )
        before = list(entries)
    else:
        before = list(entries[:complete_at])
    for label in missing_steps(before):
        report.findings.append(
            Finding(
                "missing-step",
                f"{label}: no successful entry before COMPLETE"
                if complete_at is not None
                else f"{label}: no successful entry",
                line_of(complete_at) if complete_at is not None else None,
            )
        )

    report.checked.append("failures settled")
    report.findings.extend(unsettled_failures(entries, lines))

    report.checked.append("calculations recomputed")
    for index, entry in enumerate(entries):
        for problem in recheck_calculation(entry):
            report.findings.append(
                Finding("calculation", f"{entry.action} '{entry.brief}': {problem}", line_of(index))
            )

    report.checked.append("timestamps in order")
    for index in range(1, len(entries)):
        if entries[index].timestamp < entries[index - 1].timestamp:
            report.findings.append(
                Finding(
                    "time-order",
                    f"timestamp {entries[index].time_text} is earlier than the entry before it "
                    f"({entries[index - 1].time_text})",
                    line_of(index),
                )
            )
    return report
