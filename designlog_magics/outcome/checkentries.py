"""The log's side of the outcome: a ``CHECK_ESTIMATE`` entry per estimate whose check changed.

Why: the outcome is a fact to log beside the estimates it checks, but a rerun that finds the
same must not add the same entries again; and ``designlog outcome DIR --check KEY`` prints
exactly the ``Result:`` its entry holds, so a replay reproduces it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..entry import Entry, new_entry
from .report import OutcomeReport

CHECK_ACTION = "CHECK_ESTIMATE"
CHECK_BRIEFS = {
    "time": "Training time: estimated against what the runs took",
    "speed": "Training speed: planned it/s against each run's",
    "tokens": "Tokens/s per GPU: planned against each run's",
    "eval-time": "Evaluation time: estimated against each eval job's",
    "disk": "Disk: estimated against what the experiment uses",
}
_CHECK_KEY = re.compile(r"--check[ =]([A-Za-z][A-Za-z-]*)")


def result_for(report: OutcomeReport, key: str) -> str:
    """The ``Result:`` of the ``key`` check: what ``designlog outcome DIR --check KEY`` prints."""
    return report.check(key).result()


def check_key(entry: Entry) -> str | None:
    """The key a ``CHECK_ESTIMATE`` entry checks, read from its ``--check KEY`` command."""
    found = _CHECK_KEY.search(entry.get("Command") or "")
    return found.group(1) if found else None


def check_entries(
    report: OutcomeReport,
    existing_entries: Sequence[Entry],
    command_for: Callable[[str], str],
) -> list[Entry]:
    """One ``CHECK_ESTIMATE`` entry per estimate whose Result differs from the latest
    ``CHECK_ESTIMATE`` for the same key in ``existing_entries`` (a rerun adds nothing new
    unless something changed). ``command_for(key)`` gives each entry's ``Command:``."""
    latest: dict[str, str | None] = {}
    for entry in existing_entries:
        if entry.action == CHECK_ACTION:
            key = check_key(entry)
            if key is not None:
                latest[key] = entry.get("Result")
    made = []
    for check in report.checks:
        result = check.result()
        if latest.get(check.key) == result:
            continue
        under = check.under
        warning = None
        if under:
            warning = "UNDER-ESTIMATED: " + "; ".join(f"{u.run} ({u.detail})" for u in under)
        made.append(
            new_entry(
                CHECK_ACTION,
                CHECK_BRIEFS[check.key],
                command=command_for(check.key),
                result=result,
                source=check.source(),
                warning=warning,
            )
        )
    return made
