"""SLURM accounting: which runs happened before and how long they took (``sacct``).

Which runs count for estimates
------------------------------
Only ``COMPLETED`` runs are *usable*: their elapsed time is the time a whole run took.
Everything else is *unusable* and never feeds an estimate: ``FAILED``, ``CANCELLED``,
``OUT_OF_MEMORY``, ``NODE_FAIL``, ``BOOT_FAIL``, ``DEADLINE``, ``PREEMPTED``, and runs
that have not ended (``PENDING``, ``RUNNING`` ...).

``TIMEOUT`` runs are unusable too, because their elapsed time is the time limit, not the
time the run needed; but up to the limit they trained normally, so the progress bar in
their output still shows a real training speed. They are therefore also listed apart
(:attr:`SacctQuery.timed_out`) and the summary says so; a caller that wants their speed
reads their output by path, explicitly.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .client import (
    COMMAND_TIMEOUT,
    Runner,
    SacctParseError,
    run,
    sacct_failure,
    short_line,
)
from .jobids import JOB_ID_RE, default_output_name

#: Fields asked of sacct, in this order. WorkDir comes last: it is the only free text.
SACCT_FIELDS: tuple[str, ...] = ("JobID", "JobName", "State", "ExitCode", "Elapsed", "WorkDir")
#: ``--starttime`` when none is given (sacct's own default would be midnight today).
DEFAULT_SINCE = "now-30days"
#: States of runs whose elapsed time may feed estimates.
USABLE_STATES = frozenset({"COMPLETED"})
#: States of runs that have not ended yet.
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "RUNNING",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SUSPENDED",
        "CONFIGURING",
        "COMPLETING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "SPECIAL_EXIT",
        "RESV_DEL_HOLD",
    }
)
_MAX_LISTED = 10


_ELAPSED_RE = re.compile(
    r"^(?:(?P<days>\d+)-(?P<dh>\d{1,2}):|(?P<hours>\d+):)?"
    r"(?P<minutes>\d{1,2}):(?P<seconds>\d{1,2})(?:\.(?P<frac>\d{1,6}))?$"
)


def parse_elapsed(text: str) -> int:
    """Seconds in a SLURM duration: ``MM:SS``, ``HH:MM:SS`` or ``D-HH:MM:SS``.

    A fraction (``05:12.345``, as in ``TotalCPU``) is rounded to the nearest second.
    Raises :class:`SacctParseError` (a ``ValueError``) for anything else.
    """
    if not isinstance(text, str):
        raise SacctParseError(f"not a SLURM elapsed time: {text!r} (expected a string)")
    match = _ELAPSED_RE.match(text.strip())
    if not match:
        raise SacctParseError(
            f"not a SLURM elapsed time: {text!r} (expected MM:SS, HH:MM:SS or D-HH:MM:SS)"
        )
    days = int(match["days"] or 0)
    hours = int(match["dh"] if match["days"] is not None else match["hours"] or 0)
    minutes, seconds = int(match["minutes"]), int(match["seconds"])
    if minutes >= 60 or seconds >= 60 or (match["days"] is not None and hours >= 24):
        raise SacctParseError(f"not a SLURM elapsed time: {text!r} (a field is out of range)")
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    frac = match["frac"]
    if frac and int(frac) * 2 >= 10 ** len(frac):
        total += 1
    return total


_SINCE_PATTERNS = [
    re.compile(p)
    for p in (
        r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?",
        r"now([+-]\d+(seconds|minutes|hours|days|weeks)?)?",
        r"today|midnight|noon|fika|teatime",
        r"\d{2}/\d{2}(/\d{2})?(-\d{2}:\d{2}(:\d{2})?)?",
        r"\d{4}(\d{2})?(-\d{2}:\d{2}(:\d{2})?)?",
        r"\d{2}:\d{2}(:\d{2})?",
    )
]
_SHORT_AGO_RE = re.compile(r"(\d+)\s*(h|d|w)")
_SHORT_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def _since_text(since: str | _dt.date | None) -> str:
    if since is None:
        return DEFAULT_SINCE
    if isinstance(since, _dt.datetime):
        return since.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(since, _dt.date):
        return since.isoformat()
    if not isinstance(since, str):
        raise SacctParseError(f"not a start time: {since!r} (give a date or text like 2025-10-01)")
    text = since.strip()
    short = _SHORT_AGO_RE.fullmatch(text)
    if short:
        return f"now-{short[1]}{_SHORT_UNITS[short[2]]}"
    if any(p.fullmatch(text) for p in _SINCE_PATTERNS):
        return text
    raise SacctParseError(
        f"not a start time sacct understands: {since!r} "
        "(use e.g. 2025-10-01, 2025-10-01T08:00, now-7days or 7d)"
    )


_GLOB_CHARS = frozenset("*?[")


def _names(name: str | Iterable[str]) -> tuple[str, ...]:
    names = [name] if isinstance(name, str) else list(name)
    cleaned = tuple(n.strip() for n in names if isinstance(n, str) and n.strip())
    if not cleaned or len(cleaned) != len(names):
        raise SacctParseError(f"not a job name (or list of them): {name!r}")
    return cleaned


def name_patterns(name: str | Sequence[str] | None) -> tuple[str, ...]:
    """The job names to match with :func:`fnmatch.fnmatchcase` after sacct answers.

    ``sacct --name`` compares names exactly, so ``ck-out-*`` would find nothing. When
    any name holds a glob character (``*``, ``?``, ``[``) sacct is asked without
    ``--name`` and every name given (patterns and exact names alike) filters its answer;
    otherwise this is empty and the names go to sacct as ``--name``.
    """
    if name is None:
        return ()
    names = _names(name)
    return names if any(_GLOB_CHARS & set(n) for n in names) else ()


def sacct_command(
    name: str | Sequence[str] | None = None,
    since: str | _dt.date | None = None,
    user: str | None = None,
) -> list[str]:
    """The sacct command line :func:`query_jobs` runs, as an argument list.

    Allocations only (``-X``: no ``.batch``/``.extern`` steps), parsable (``-P``, fields
    split by ``|``), no header (``-n``). ``since`` is a date, a datetime, a sacct time
    (``2025-10-01``, ``now-7days``) or a short age (``7d``, ``12h``, ``2w``); without it
    the last 30 days. ``name`` is one job name or several; a name with glob characters
    leaves ``--name`` out (see :func:`name_patterns`). ``user`` defaults to sacct's own
    default, the user running it.
    """
    argv = ["sacct", "-X", "-P", "-n", "--format=" + ",".join(SACCT_FIELDS)]
    argv += ["--starttime", _since_text(since)]
    if name is not None and not name_patterns(name):
        argv += ["--name", ",".join(_names(name))]
    if user is not None:
        if not isinstance(user, str) or not user.strip() or any(c.isspace() for c in user):
            raise SacctParseError(f"not a user name: {user!r}")
        argv += ["--user", user]
    return argv


def sacct_command_line(
    name: str | Sequence[str] | None = None,
    since: str | _dt.date | None = None,
    user: str | None = None,
) -> str:
    """:func:`sacct_command` as one shell line, for the log's ``Command:``."""
    return shlex.join(sacct_command(name=name, since=since, user=user))


@dataclass(frozen=True)
class SacctJob:
    """One allocation as sacct reports it.

    ``state`` is the first word of sacct's State (``CANCELLED by 1000`` -> ``CANCELLED``);
    ``output_path`` is the job's output file at SLURM's default place (``WorkDir`` /
    ``slurm-%j.out``) when that file exists, else ``None`` (:func:`resolve_output` also
    asks scontrol and the submit line).
    """

    job_id: str
    name: str
    state: str
    elapsed: str
    elapsed_seconds: int
    workdir: str
    output_path: str | None
    exit_code: str

    @property
    def usable(self) -> bool:
        """Ended normally: its elapsed time may feed estimates."""
        return self.state in USABLE_STATES

    @property
    def timed_out(self) -> bool:
        """Hit its time limit: elapsed is the limit, but its output shows real speed."""
        return self.state == "TIMEOUT"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def describe(self) -> str:
        """``12 train (COMPLETED, 00:05:12)``."""
        return f"{self.job_id} {self.name} ({self.state}, {self.elapsed})"


@dataclass(frozen=True)
class SacctQuery:
    """What one sacct call found. ``command`` is the shell line that was run.

    With ``name_filter`` (glob patterns, see :func:`name_patterns`) ``jobs`` holds only
    the runs whose job name matches one of them, out of the ``listed`` that the command
    printed; the summary says so, since the command alone prints them all.
    """

    command: str
    jobs: tuple[SacctJob, ...]
    name_filter: tuple[str, ...] = ()
    listed: int | None = None

    @property
    def usable(self) -> tuple[SacctJob, ...]:
        """COMPLETED runs: the only ones whose elapsed time feeds estimates."""
        return tuple(j for j in self.jobs if j.usable)

    @property
    def unusable(self) -> tuple[SacctJob, ...]:
        """Every other run (FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, PENDING, RUNNING ...)."""
        return tuple(j for j in self.jobs if not j.usable)

    @property
    def timed_out(self) -> tuple[SacctJob, ...]:
        """TIMEOUT runs (also in :attr:`unusable`): speed from their output by path only."""
        return tuple(j for j in self.jobs if j.timed_out)

    def summary(self) -> str:
        """One line, e.g. ``Found 3 prior runs in accounting: 12 train (COMPLETED,
        00:05:12), ...; not used for estimates: 14 train (FAILED, 00:00:03)``."""
        where = "in accounting"
        if self.name_filter:
            listed = len(self.jobs) if self.listed is None else self.listed
            where += (
                f" whose job name matches {' or '.join(self.name_filter)} "
                f"(names filtered by the pattern from the {listed} run"
                f"{'s' if listed != 1 else ''} sacct listed)"
            )
        if not self.jobs:
            return f"Found no prior runs {where}."
        count = len(self.jobs)
        head = f"Found {count} prior run{'s' if count != 1 else ''} {where}: "
        usable = _listing(j.describe() for j in self.usable) if self.usable else "none COMPLETED"
        text = head + usable
        if self.unusable:
            text += "; not used for estimates: " + _listing(
                j.describe()
                if not j.timed_out
                else f"{j.job_id} {j.name} ({j.state}, {j.elapsed}; speed from its output only)"
                for j in self.unusable
            )
        return text


def _listing(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += f" and {len(items) - _MAX_LISTED} more"
    return shown


def _default_output(job_id: str, workdir: str) -> str | None:
    name = default_output_name(job_id)
    if not name or not workdir or not os.path.isabs(workdir):
        return None
    path = os.path.join(workdir, name)
    return path if os.path.isfile(path) else None


def _parse_sacct_line(line: str, number: int) -> SacctJob:
    parts = line.split("|", len(SACCT_FIELDS) - 1)
    if len(parts) != len(SACCT_FIELDS):
        raise SacctParseError(
            f"cannot read sacct output line {number}: {short_line(line)!r} "
            f"(expected {len(SACCT_FIELDS)} fields separated by '|': {','.join(SACCT_FIELDS)})"
        )
    job_id, name, state, exit_code, elapsed, workdir = (p.strip() for p in parts)
    if not JOB_ID_RE.match(job_id):
        raise SacctParseError(f"cannot read sacct output line {number}: bad JobID {job_id!r}")
    if not state:
        raise SacctParseError(f"cannot read sacct output line {number}: empty State")
    try:
        seconds = parse_elapsed(elapsed)
    except SacctParseError as exc:
        raise SacctParseError(f"cannot read sacct output line {number}: {exc}") from None
    return SacctJob(
        job_id=job_id,
        name=name,
        state=state.split()[0].rstrip("+"),
        elapsed=elapsed,
        elapsed_seconds=seconds,
        workdir=workdir,
        output_path=_default_output(job_id, workdir),
        exit_code=exit_code,
    )


def parse_sacct_output(text: str) -> tuple[SacctJob, ...]:
    """Jobs in the output of :func:`sacct_command` (``-P -n``, :data:`SACCT_FIELDS`)."""
    return tuple(
        _parse_sacct_line(line, number)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    )


def query_jobs(
    name: str | Sequence[str] | None = None,
    since: str | _dt.date | None = None,
    user: str | None = None,
    runner: Runner = subprocess.run,
) -> SacctQuery:
    """Prior runs from SLURM accounting (see :func:`sacct_command` for the arguments).

    A ``name`` with glob characters (``ck-out-*``) is matched here, against the job
    names sacct prints, since sacct matches names exactly (see :func:`name_patterns`);
    ``command`` is then the sacct line as run and the summary names the pattern.

    Raises :class:`SlurmUnavailable` when there is no working accounting here,
    :class:`SlurmError` when sacct refuses the query (e.g. an unknown user) and
    :class:`SacctParseError` when its answer cannot be read.
    """
    argv = sacct_command(name=name, since=since, user=user)
    patterns = name_patterns(name)
    proc = run(argv, runner, COMMAND_TIMEOUT)
    if proc.returncode != 0:
        raise sacct_failure(proc)
    jobs = parse_sacct_output(proc.stdout or "")
    if not patterns:
        return SacctQuery(command=shlex.join(argv), jobs=jobs)
    matching = tuple(j for j in jobs if any(fnmatch.fnmatchcase(j.name, p) for p in patterns))
    return SacctQuery(
        command=shlex.join(argv), jobs=matching, name_filter=patterns, listed=len(jobs)
    )
