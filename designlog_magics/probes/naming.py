"""The experiment naming convention of the specification's example.

``cap_8L_lora_comparison_2025-10-22``: a task (``cap``), factors (``8L``, ``lora``,
``comparison``) and a ``YYYY-MM-DD`` date, joined by ``_``; lowercase, digits, ``_`` and ``-``,
with short uppercase factor codes such as ``8L`` or ``80P`` allowed.
"""

from __future__ import annotations

import re
from datetime import date

_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_LOWER_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_FACTOR_CODE_RE = re.compile(r"\d+[A-Z]{1,3}|[A-Z]{1,3}\d*")


def naming_problems(name: str) -> list[str]:
    """Ways ``name`` breaks the convention (empty when it follows it)."""
    problems: list[str] = []
    if not name:
        return ["the name is empty"]
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "_-"))})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        problems.append(f"characters other than letters, digits, _ and -: {shown}")
    tokens = name.split("_")
    if any(not token for token in tokens):
        problems.append("empty part between underscores")
    match = _DATE_RE.fullmatch(tokens[-1])
    if not match:
        problems.append("does not end with a YYYY-MM-DD date (e.g. _2025-10-22)")
    else:
        try:
            date(*(int(g) for g in match.groups()))
        except ValueError:
            problems.append(f"{tokens[-1]} is not a valid date")
    body = tokens[:-1] if match else tokens
    if len([t for t in body if t]) < 2:
        problems.append("needs a task and at least one factor before the date (task_factor_date)")
    elif not re.fullmatch(r"[a-z][a-z0-9-]*", body[0]):
        problems.append(f"the task part {body[0]!r} should be lowercase (e.g. cap)")
    for token in body[1:]:
        if token and not (_LOWER_TOKEN_RE.fullmatch(token) or _FACTOR_CODE_RE.fullmatch(token)):
            problems.append(
                f"{token!r} mixes case: use lowercase, or a short uppercase code such as 8L"
            )
    if len(name) > 80:
        problems.append(f"longer than 80 characters ({len(name)})")
    return problems
