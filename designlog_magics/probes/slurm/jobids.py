"""SLURM's job ids, and the output file name SLURM gives a job by default.

Why: a job id is read from sacct's answer, checked when a user gives one, and turned into
``slurm-%j.out`` (``slurm-%A_%a.out`` for an array task) wherever a job's output is looked
for; the grammar is written once.
"""

from __future__ import annotations

import re

#: ``1234``, an array task ``1234_5`` (or a pending range ``1234_[1-3]``), a het component
#: ``1234+0``.
JOB_ID_RE = re.compile(r"^(?P<job>\d+)(?:_(?P<task>\d+|\[[^\]]*\]))?(?:\+(?P<het>\d+))?$")


def default_output_name(job_id: str) -> str | None:
    """``slurm-1234.out`` / ``slurm-1234_5.out``; None for a pending array range or no id."""
    match = JOB_ID_RE.match(job_id)
    if not match or (match["task"] or "").startswith("["):
        return None
    if match["task"] is not None:
        return f"slurm-{match['job']}_{match['task']}.out"
    return f"slurm-{match['job']}.out"


_ONE_JOB_RE = re.compile(r"\d+(?:_\d+)?")


def names_one_job(text: str) -> bool:
    """``1234`` or ``1234_5``: one job, or one task of an array, as a user names it (``designlog
    speed 1234`` reads that job's output)."""
    return _ONE_JOB_RE.fullmatch(text) is not None
