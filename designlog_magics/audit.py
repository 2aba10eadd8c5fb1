"""Checks over a list of entries, the way an auditor reads a design log.

Used by ``designlog audit`` and replay; which steps are done, missing or unsettled is the
specification's rule (:mod:`.spec`), shared with ``%log_complete`` and the panel.

The checks (:func:`audit_entries`), each named in the report:

* entries well-formed: what the parser could not read (with line numbers), and entries of the
  built-in action types lacking a brief or one of their usual fields (warnings);
* required steps before COMPLETE: model and dataset verified, prior runs searched (or the
  time estimate marked preliminary), time calculated, disk checked, name decided, summary
  created, all by successful entries before the first COMPLETE;
* failures settled: each failure followed by a later success of its action or a
  ``Resolution:`` naming it;
* calculations recomputed: every arithmetic step of a ``Calculation:`` (see
  :func:`recheck_calculation`);
* timestamps in order: never going backwards.

:func:`audit_path` runs them on a log file, an experiment directory, or a notebook; for a
notebook it also checks that the log embedded in it or shown in its outputs agrees with the
log file (:func:`notebook_findings`).
"""

from __future__ import annotations

import ast
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .entry import Entry
from .probes.arith import NotArithmetic, evaluate_node
from .spec import (  # noqa: F401
    BUILTIN_ACTIONS,
    COMPLETE_ACTIONS,
    DESIGN_STEPS,
    DesignStep,
    is_preliminary,
    missing_steps,
    steps_done,
    unsettled_message,
)
from .spec import unsettled_failures as spec_unsettled
from .textformat import Diagnostic, Dialect, dialect_of, render

if TYPE_CHECKING:
    from .record import LogSnapshot


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


# The check each finding belongs to (for the report).
CHECK_OF_CODE = {
    "malformed": "entries well-formed",
    "missing-field": "entries well-formed",
    "not-complete": "required steps before COMPLETE",
    "missing-step": "required steps before COMPLETE",
    "unsettled-failure": "failures settled",
    "calculation": "calculations recomputed",
    "time-order": "timestamps in order",
    "log-missing": "notebook agrees with the log file",
    "notebook-extra": "notebook agrees with the log file",
    "notebook-missing": "notebook agrees with the log file",
    "notebook-stale": "notebook agrees with the log file",
    "notebook-unreadable": "notebook agrees with the log file",
    "plan": "the scaffolders' plan agrees with the log",
}
NOTEBOOK_CHECK = "notebook agrees with the log file"
DIALECT_NAMES = {
    "seed": "the specification's (Command:/Result:/Explanation:)",
    "upstream": "the workflow's later one (Details:, Result: success|failure|warning; its 22 "
    "action types mapped onto the design steps)",
}
PLAN_CHECK = "the scaffolders' plan agrees with the log"


@dataclass
class AuditReport:
    """The findings of an audit, and what passed.

    ``source`` is what was audited (a log file or a notebook), ``log_path`` the log file read.
    """

    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    entries: int = 0
    source: str = ""
    log_path: str | None = None
    dialect: Dialect = "seed"  # the log's (see textformat.dialect_of)

    @property
    def passed(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "error"]

    def findings_of(self, check: str) -> list[Finding]:
        """The findings that belong to one of the :attr:`checked` checks."""
        return [f for f in self.findings if CHECK_OF_CODE.get(f.code, "other") == check]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (``designlog audit --json``)."""
        return {
            "passed": self.passed,
            "source": self.source,
            "log_path": self.log_path,
            "entries": self.entries,
            "dialect": self.dialect,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "checks": [
                {
                    "check": check,
                    "passed": not any(f.severity == "error" for f in self.findings_of(check)),
                }
                for check in self.checked
            ],
            "findings": [
                {**f.as_dict(), "check": CHECK_OF_CODE.get(f.code, "other")} for f in self.findings
            ],
        }

    def render(self) -> str:
        """A readable report: the verdict, then each check with its findings."""
        verdict = "PASSED" if self.passed else "FAILED"
        counts = f"{_count(len(self.errors), 'error')}, {_count(len(self.warnings), 'warning')}"
        head = [f"Audit of {self.source or 'the log'}"]
        if self.log_path and self.log_path != self.source:
            head.append(f"Log file: {self.log_path}")
        if self.dialect == "upstream":
            head.append(f"Dialect: {DIALECT_NAMES['upstream']}")
        head.append(f"{verdict}: {counts}; {_count(self.entries, 'entry', 'entries')} checked")
        lines = head + [""]
        checks = list(self.checked)
        if any(CHECK_OF_CODE.get(f.code, "other") == "other" for f in self.findings):
            checks.append("other")
        for check in checks:
            found = self.findings_of(check)
            failed = any(f.severity == "error" for f in found)
            mark = "FAIL" if failed else "ok  "
            lines.append(f"  {mark}  {check}")
            for finding in found:
                lines.append(f"        {finding}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.render()


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"


def unsettled_failures(
    entries: Sequence[Entry], lines: Sequence[int] | None = None
) -> list[Finding]:
    """The failures nothing settled (:func:`.spec.unsettled_failures`), as findings."""
    return [
        Finding(
            "unsettled-failure",
            unsettled_message(entries[index]),
            lines[index] if lines else None,
        )
        for index in spec_unsettled(entries)
    ]


_NUMBER_RE = re.compile(r"^\s*(-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)")
_BINDING_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)")


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
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
                    value = evaluate_node(ast.parse(expression.strip(), mode="eval"), names)
                except (NotArithmetic, SyntaxError, ZeroDivisionError, OverflowError):
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
    report = AuditReport(entries=len(entries), dialect=dialect_of(entries))
    line_of = (lambda i: lines[i]) if lines else (lambda i: None)  # noqa: E731

    report.checked.append("entries well-formed")
    for diagnostic in diagnostics:
        severity = "error" if diagnostic.severity == "error" else "warning"
        report.findings.append(Finding("malformed", diagnostic.message, diagnostic.line, severity))
    for index, entry in enumerate(entries):
        for gap in missing_fields(entry, report.dialect):
            report.findings.append(
                Finding("missing-field", f"{entry.action}: {gap}", line_of(index), "warning")
            )

    report.checked.append("required steps before COMPLETE")
    complete_at = next((i for i, e in enumerate(entries) if e.action in COMPLETE_ACTIONS), None)
    if complete_at is None:
        report.findings.append(
            Finding(
                "not-complete",
                "no COMPLETE (or COMPLETE_DESIGN) entry: the design is not marked finished",
            )
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
        problems = recheck_calculation(entry)
        if not problems:
            continue
        start = line_of(index)
        line = start + field_offset(entry, "Calculation") if start else None
        for problem in problems:
            report.findings.append(
                Finding("calculation", f"{entry.action} '{entry.brief}': {problem}", line)
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


def missing_fields(entry: Entry, dialect: Dialect = "seed") -> list[str]:
    """What an entry lacks: in the seed dialect, a built-in action type's brief or one of its
    usual fields; in the workflow's later dialect, its ``Details:`` and its ``Result:``
    (a tool's header names what it did instead of a ``Details:``)."""
    if dialect == "upstream":
        present = {name for name, _ in entry.fields}
        wanted = ("Result",) if entry.brief.strip() else ("Details", "Result")
        return [f"no {name}: field (the later dialect)" for name in wanted if name not in present]
    spec = BUILTIN_ACTIONS.get(entry.action)
    if spec is None:
        return []
    gaps = [] if entry.brief.strip() else ["no brief description after the action type"]
    present = {name for name, _ in entry.fields}
    gaps.extend(f"no {name}: field" for name in spec.usual_fields if name not in present)
    return gaps


def field_offset(entry: Entry, key: str) -> int:
    """Lines from an entry's header to its first ``key:`` field, as the entry is written.

    A parsed entry renders to as many lines as it was read from (continuation lines, blank
    lines inside values and stray lines all stay lines), so this is its offset in the file.
    """
    for offset, line in enumerate(render(entry).split("\n")):
        if offset and line.startswith(key + ":"):
            return offset
    return 0


def describe(entry: Entry) -> str:
    """An entry in one line, as its header reads: ``[time] ACTION: brief``."""
    brief = entry.brief.splitlines()[0] if entry.brief else ""
    return f"[{entry.time_text}] {entry.action}" + (f": {brief}" if brief else "")


def audit_snapshot(snapshot: LogSnapshot, *, source: str = "") -> AuditReport:
    """Audit a log as read (its text parsed afresh, so findings carry line numbers)."""
    parsed = snapshot.parsed
    if parsed.entries == list(snapshot.entries):
        entries, lines = parsed.entries, parsed.entry_lines
    else:  # a record whose entries were given without their text
        entries, lines = list(snapshot.entries), None
    report = audit_entries(entries, lines=lines, diagnostics=parsed.diagnostics)
    report.source = source or str(snapshot.path)
    report.log_path = str(snapshot.path)
    return report


def notebook_findings(nb: Any, snapshot: LogSnapshot) -> list[Finding]:
    """Where a notebook and its log file disagree: entries the notebook shows (in outputs) or
    embeds (in metadata) that the file lacks, and entries of the file the notebook has nowhere.
    """
    from .record import RecordError, entries_in_outputs, log_from_metadata

    findings = []
    try:
        shown = entries_in_outputs(nb)
    except RecordError as exc:
        shown = []
        findings.append(Finding("notebook-unreadable", f"a record output: {exc}"))
    try:
        embedded = log_from_metadata(nb)
    except RecordError as exc:
        embedded = None
        findings.append(Finding("notebook-unreadable", f"the designlog metadata: {exc}"))
    in_file = set(snapshot.entries)
    reported: set[Entry] = set()
    for item in shown:
        if item.entry not in in_file and item.entry not in reported:
            reported.add(item.entry)
            findings.append(
                Finding(
                    "notebook-extra",
                    f"{item.where}, shows an entry the log file lacks: {describe(item.entry)}",
                )
            )
    embedded_entries = set(embedded.entries) if embedded else set()
    for entry in embedded.entries if embedded else ():
        if entry not in in_file and entry not in reported:
            reported.add(entry)
            findings.append(
                Finding(
                    "notebook-extra",
                    "the log embedded in the notebook's metadata has an entry the log file "
                    f"lacks: {describe(entry)}",
                )
            )
    in_notebook = {item.entry for item in shown} | embedded_entries
    lines = snapshot.parsed.entry_lines
    aligned = snapshot.parsed.entries == list(snapshot.entries)
    for index, entry in enumerate(snapshot.entries):
        if entry not in in_notebook:
            findings.append(
                Finding(
                    "notebook-missing",
                    f"the log file has an entry the notebook neither shows nor embeds: "
                    f"{describe(entry)}",
                    lines[index] if aligned else None,
                )
            )
    if embedded is not None:
        behind = [e for e in snapshot.entries if e not in embedded_entries]
        if behind:
            findings.append(
                Finding(
                    "notebook-stale",
                    "the log embedded in the notebook's metadata lacks "
                    f"{_count(len(behind), 'entry', 'entries')} of the file "
                    "(run designlog attach again)",
                    severity="warning",
                )
            )
        elif embedded.sha256 != snapshot.sha256:
            findings.append(
                Finding(
                    "notebook-stale",
                    "the log file changed since it was embedded in the notebook (its SHA-256 "
                    "differs), though every entry is the same",
                    severity="warning",
                )
            )
    return findings


def audit_notebook(
    path: str | os.PathLike[str], *, log_path: str | os.PathLike[str] | None = None
) -> AuditReport:
    """Audit a notebook's log file and check that the notebook agrees with it.

    The log file is ``log_path`` or the one the notebook names (see :mod:`.record`). When no
    file can be found, the notebook's own copy (its metadata, else its last record) is audited
    and the audit fails with a ``log-missing`` finding.
    """
    from .record import LogSnapshot as Snapshot
    from .record import RecordError, find_log, notebook_copy, read_notebook

    nb = read_notebook(path)
    try:
        location = find_log(nb, path, log_path)
    except RecordError as exc:
        if log_path is not None:
            raise
        try:
            copy = notebook_copy(nb)
        except RecordError:
            copy = None
        report = audit_snapshot(copy[0]) if copy is not None else audit_entries([])
        report.source, report.log_path = str(path), None
        report.checked.append(NOTEBOOK_CHECK)
        report.findings.append(Finding("log-missing", str(exc)))
        return report
    snapshot = Snapshot.from_file(location.path)
    report = audit_snapshot(snapshot, source=str(path))
    report.checked.append(NOTEBOOK_CHECK)
    report.findings.extend(notebook_findings(nb, snapshot))
    return report


def audit_path(
    path: str | os.PathLike[str], *, log_path: str | os.PathLike[str] | None = None
) -> AuditReport:
    """Audit a log file, an experiment directory (its log), or a notebook (``.ipynb``).

    Raises ``FileNotFoundError`` when there is no such log, and ``record.RecordError`` for a
    notebook that cannot be read.
    """
    from .record import LogSnapshot as Snapshot
    from .store import find_log_file

    target = Path(path).expanduser()
    if target.suffix == ".ipynb" and not target.is_dir():
        return audit_notebook(target, log_path=log_path)
    if target.is_dir():
        target = find_log_file(target)
    if not target.is_file():
        raise FileNotFoundError(f"no design log at {target}")
    report = audit_snapshot(Snapshot.from_file(target))
    plan_findings(report, target)
    return report


def plan_findings(report: AuditReport, log_path: Path) -> None:
    """Where the scaffolders' ``experiment_summary.yaml`` and the log disagree: each compute
    time against the estimate that covers it (rounded up as stated), the model and dataset
    paths against the verified ones, the name and directory."""
    from .plan_yaml import PLAN_FILENAME, PlanError, check_plan, load_plan
    from .session import last_bindings
    from .store import read_log

    # the later dialect keeps the log in {experiment_dir}/logs/
    experiment_dir = log_path.parent.parent if log_path.parent.name == "logs" else log_path.parent
    path = experiment_dir / PLAN_FILENAME
    if not path.is_file():
        return
    report.checked.append(PLAN_CHECK)
    entries = read_log(log_path).entries
    paths = {**(last_bindings(entries) or {}), "experiment_dir": str(experiment_dir)}
    try:
        problems = check_plan(load_plan(path), entries, paths)
    except PlanError as exc:
        problems = [str(exc)]
    report.findings.extend(Finding("plan", f"{PLAN_FILENAME}: {p}") for p in problems)
