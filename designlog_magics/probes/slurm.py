"""SLURM accounting: which runs happened before, how long they took, where their output went.

Everything goes through ``sacct`` (and ``scontrol`` for the output file), called through
a ``runner`` with the signature of :func:`subprocess.run`, so that callers can give
another environment (``functools.partial(subprocess.run, env=...)``) and tests can give
canned answers.

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

Where the output is
-------------------
SLURM 22.05 (Debian 12) has no ``StdOut`` field in ``sacct``. :func:`resolve_output`
asks ``scontrol show job`` first (exact, but only while slurmctld still remembers the
job: ``MinJobAge``, 300 s by default), then falls back to what accounting keeps: the
job's ``WorkDir`` with an ``--output`` given on the ``sbatch`` command line
(``SubmitLine``), or else SLURM's default name, ``slurm-%j.out`` (``slurm-%A_%a.out``
for an array task). An ``#SBATCH --output`` line inside the script is not recorded
anywhere once scontrol has forgotten the job: then the path has to be given by hand.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import functools
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..exceptions import DesignLogError

__all__ = [
    "DEFAULT_SINCE",
    "SACCT_FIELDS",
    "OutputNotFound",
    "SacctJob",
    "SacctParseError",
    "SacctQuery",
    "SlurmError",
    "SlurmUnavailable",
    "ensure_slurm",
    "parse_elapsed",
    "parse_sacct_output",
    "name_patterns",
    "query_jobs",
    "resolve_output",
    "sacct_command",
    "sacct_command_line",
    "slurm_available",
]

Runner = Callable[..., subprocess.CompletedProcess]

#: Fields asked of sacct, in this order. WorkDir comes last: it is the only free text.
SACCT_FIELDS: tuple[str, ...] = ("JobID", "JobName", "State", "ExitCode", "Elapsed", "WorkDir")
#: ``--starttime`` when none is given (sacct's own default would be midnight today).
DEFAULT_SINCE = "now-30days"
#: Seconds a sacct/scontrol call may take before it counts as not answering.
COMMAND_TIMEOUT = 60.0
_PROBE_TIMEOUT = 15.0

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
_UNAVAILABLE = "SLURM accounting is not available on this machine"
_MAX_LISTED = 10


class SlurmError(DesignLogError):
    """A SLURM command could not answer the question (base of the errors here)."""


class SlurmUnavailable(SlurmError):
    """This machine has no working SLURM accounting; the message is one line."""


class SacctParseError(SlurmError, ValueError):
    """Text from sacct/scontrol (or given by the user) that is not what it should be."""


class OutputNotFound(SlurmError, LookupError):
    """The output file of a job could not be found; the message says what was tried."""


# ------------------------------------------------------------------ elapsed times

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


# ------------------------------------------------------------------ the sacct command

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


# ------------------------------------------------------------------ running commands


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for marker in ("fatal:", "error:"):
        for ln in lines:
            if marker in ln:
                return _one_line(ln)
    return _one_line(lines[0]) if lines else "no message"


def _runner_env(runner: Runner) -> Mapping[str, str] | None:
    """The environment a runner based on subprocess.run gives its commands, if known."""
    if runner is subprocess.run:
        return os.environ
    if isinstance(runner, functools.partial) and runner.func is subprocess.run:
        return runner.keywords.get("env") or os.environ
    return None


def _run(argv: list[str], runner: Runner, timeout: float) -> subprocess.CompletedProcess:
    program = argv[0]
    env = _runner_env(runner)
    if env is not None:
        # Answer at once what SLURM would only say after a while: a SLURM_CONF naming a
        # missing file makes every client retry for 60 s.
        if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
            raise SlurmUnavailable(f"{_UNAVAILABLE}: {program} not found")
        conf = env.get("SLURM_CONF")
        if conf and not os.path.isfile(conf):
            raise SlurmUnavailable(
                f"{_UNAVAILABLE}: SLURM_CONF names {_one_line(conf)}, which does not exist"
            )
    try:
        return runner(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise SlurmUnavailable(f"{_UNAVAILABLE}: {program} not found") from None
    except PermissionError:
        raise SlurmUnavailable(
            f"{_UNAVAILABLE}: {program} cannot be run (permission denied)"
        ) from None
    except subprocess.TimeoutExpired:
        raise SlurmUnavailable(
            f"{_UNAVAILABLE}: {program} did not answer within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise SlurmUnavailable(
            f"{_UNAVAILABLE}: {program} cannot be run ({exc.strerror})"
        ) from None


def _sacct_failure(proc: subprocess.CompletedProcess) -> SlurmError:
    stderr = (proc.stderr or "") + "\n" + (proc.stdout or "")
    low = stderr.lower()
    if "accounting storage is disabled" in low:
        return SlurmUnavailable(f"{_UNAVAILABLE}: accounting storage is disabled (no slurmdbd)")
    if (
        "configuration source" in low
        or "unable to process configuration" in low
        or "cannot stat file" in low
        or ("slurm.conf" in low and ("no such file" in low or "can't open" in low))
    ):
        return SlurmUnavailable(
            f"{_UNAVAILABLE}: no SLURM configuration found (is SLURM_CONF set?)"
        )
    if "talking to the database" in low or "connection refused" in low or "slurmdbd" in low:
        return SlurmUnavailable(
            f"{_UNAVAILABLE}: sacct cannot reach the accounting daemon ({_error_line(stderr)})"
        )
    return SlurmError(f"sacct failed (exit {proc.returncode}): {_error_line(stderr)}")


def ensure_slurm(runner: Runner = subprocess.run) -> None:
    """Raise :class:`SlurmUnavailable` unless sacct exists and answers a tiny query."""
    proc = _run(
        ["sacct", "-X", "-P", "-n", "--format=JobID", "--starttime", "now"],
        runner,
        _PROBE_TIMEOUT,
    )
    if proc.returncode != 0:
        failure = _sacct_failure(proc)
        if isinstance(failure, SlurmUnavailable):
            raise failure
        raise SlurmUnavailable(f"{_UNAVAILABLE}: {failure}")


def slurm_available(runner: Runner = subprocess.run) -> bool:
    """True when sacct is on PATH and answers (see :func:`ensure_slurm` for the reason)."""
    try:
        ensure_slurm(runner)
    except SlurmError:
        return False
    return True


# ------------------------------------------------------------------ jobs

_JOB_ID_RE = re.compile(r"^(?P<job>\d+)(?:_(?P<task>\d+|\[[^\]]*\]))?(?:\+(?P<het>\d+))?$")


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


def _default_output_name(job_id: str) -> str | None:
    match = _JOB_ID_RE.match(job_id)
    if not match or (match["task"] or "").startswith("["):
        return None
    if match["task"] is not None:
        return f"slurm-{match['job']}_{match['task']}.out"
    return f"slurm-{match['job']}.out"


def _default_output(job_id: str, workdir: str) -> str | None:
    name = _default_output_name(job_id)
    if not name or not workdir or not os.path.isabs(workdir):
        return None
    path = os.path.join(workdir, name)
    return path if os.path.isfile(path) else None


def _parse_sacct_line(line: str, number: int) -> SacctJob:
    parts = line.split("|", len(SACCT_FIELDS) - 1)
    if len(parts) != len(SACCT_FIELDS):
        raise SacctParseError(
            f"cannot read sacct output line {number}: {_one_line(line)!r} "
            f"(expected {len(SACCT_FIELDS)} fields separated by '|': {','.join(SACCT_FIELDS)})"
        )
    job_id, name, state, exit_code, elapsed, workdir = (p.strip() for p in parts)
    if not _JOB_ID_RE.match(job_id):
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
    proc = _run(argv, runner, COMMAND_TIMEOUT)
    if proc.returncode != 0:
        raise _sacct_failure(proc)
    jobs = parse_sacct_output(proc.stdout or "")
    if not patterns:
        return SacctQuery(command=shlex.join(argv), jobs=jobs)
    matching = tuple(j for j in jobs if any(fnmatch.fnmatchcase(j.name, p) for p in patterns))
    return SacctQuery(
        command=shlex.join(argv), jobs=matching, name_filter=patterns, listed=len(jobs)
    )


# ------------------------------------------------------------------ output files

_SCONTROL_KEY_RE = re.compile(r"(?:^| )([A-Za-z][A-Za-z0-9_/:]*)=")


def _scontrol_record(line: str) -> dict[str, str]:
    """``Key=Value`` pairs of one ``scontrol show job -o`` line (values may hold spaces)."""
    keys = list(_SCONTROL_KEY_RE.finditer(line))
    record: dict[str, str] = {}
    for i, match in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(line)
        record.setdefault(match[1], line[match.end() : end].strip())
    return record


def _scontrol_job_id(record: dict[str, str]) -> str:
    task = record.get("ArrayTaskId")
    if task and record.get("ArrayJobId"):
        return f"{record['ArrayJobId']}_{task}"
    return record.get("JobId", "?")


def _check_job_id(job_id: str | int) -> str:
    text = str(job_id).strip()
    match = _JOB_ID_RE.match(text)
    if not match or (match["task"] or "").startswith("["):
        raise SacctParseError(f"not a SLURM job id: {job_id!r} (expected e.g. 1234 or 1234_5)")
    return text


def _from_scontrol(job_id: str, runner: Runner, tried: list[str]) -> str | None:
    try:
        proc = _run(["scontrol", "show", "job", "-o", job_id], runner, COMMAND_TIMEOUT)
    except SlurmUnavailable as exc:
        tried.append(str(exc).removeprefix(_UNAVAILABLE + ": "))
        return None
    if proc.returncode != 0:
        if "invalid job id" in (proc.stderr or "").lower():
            tried.append(
                "scontrol no longer knows the job (slurmctld forgets ended jobs after "
                "MinJobAge, 300 s by default)"
            )
        else:
            tried.append(f"scontrol failed: {_error_line(proc.stderr or '')}")
        return None
    records = [_scontrol_record(ln) for ln in (proc.stdout or "").splitlines() if ln.strip()]
    if not records:
        tried.append("scontrol did not list the job")
        return None
    if len(records) > 1:
        # a whole job array was asked for: scontrol lists every task
        ids = [_scontrol_job_id(rec) for rec in records]
        exact = [rec for rec, rid in zip(records, ids, strict=True) if rid == job_id]
        if len(exact) != 1:
            raise OutputNotFound(
                f"job {job_id} is a job array with tasks {', '.join(sorted(ids))}: "
                f"give one task, e.g. {sorted(ids)[0]}"
            )
        records = exact
    rec = records[0]
    path = rec.get("StdOut", "")
    if not path:
        tried.append("scontrol shows no StdOut")
        return None
    if not os.path.isabs(path):
        path = os.path.join(rec.get("WorkDir", ""), path)
    if os.path.isfile(path):
        return path
    tried.append(f"{path} (StdOut in scontrol) does not exist")
    return None


_OUTPUT_OPT_RE = re.compile(r"^(?:-o(?P<short>.+)?|--output(?:=(?P<long>.*))?)$")
_PATTERN_RE = re.compile(r"%(\d*)([%AajxuNnst])")


def _output_option(submit_line: str) -> str | None:
    """The value of -o/--output on an sbatch command line, if any."""
    try:
        words = shlex.split(submit_line)
    except ValueError:
        return None
    value = None
    for i, word in enumerate(words):
        match = _OUTPUT_OPT_RE.match(word)
        if not match:
            continue
        if match["short"] is not None or match["long"] is not None:
            value = match["short"] if match["short"] is not None else match["long"]
        elif i + 1 < len(words):
            value = words[i + 1]
    return value


def _expand_output_pattern(pattern: str, fields: dict[str, str]) -> str | None:
    """Fill in %j, %A, %a, %x, %u (and %%) as sbatch does; None if others are used."""
    unknown = False

    def sub(match: re.Match[str]) -> str:
        nonlocal unknown
        width, code = match.groups()
        if code == "%":
            return "%"
        value = fields.get(code)
        if value is None:
            unknown = True
            return ""
        return value.zfill(int(width)) if width and value.isdigit() else value

    expanded = _PATTERN_RE.sub(sub, pattern)
    return None if unknown else expanded


def _from_sacct(job_id: str, runner: Runner, tried: list[str]) -> str | None:
    fields = ["JobID", "JobIDRaw", "JobName", "User", "WorkDir", "SubmitLine"]
    proc = None
    while True:
        argv = ["sacct", "-X", "-P", "-n", "-j", job_id, "--format=" + ",".join(fields)]
        proc = _run(argv, runner, COMMAND_TIMEOUT)
        if (
            proc.returncode != 0
            and "SubmitLine" in fields
            and "invalid field" in ((proc.stderr or "").lower())
        ):
            fields.remove("SubmitLine")  # older SLURM: no SubmitLine field
            continue
        break
    if proc.returncode != 0:
        raise _sacct_failure(proc)
    rows = []
    for line in (proc.stdout or "").splitlines():
        if not line.strip():
            continue
        parts = line.split("|", len(fields) - 1)
        if len(parts) != len(fields):
            raise SacctParseError(f"cannot read sacct output: {_one_line(line)!r}")
        rows.append(dict(zip(fields, parts, strict=True)))
    if not rows:
        tried.append("sacct does not know the job")
        return None
    if len(rows) > 1:
        exact = [r for r in rows if r["JobID"] == job_id]
        if len(exact) != 1:
            tasks = ", ".join(r["JobID"] for r in rows)
            raise OutputNotFound(
                f"job {job_id} is a job array with tasks {tasks}: give one task, e.g. "
                f"{rows[0]['JobID']}"
            )
        rows = exact
    row = rows[0]
    workdir = row["WorkDir"].strip()
    if not workdir or not os.path.isabs(workdir):
        tried.append(f"sacct has no usable WorkDir ({workdir!r})")
        return None
    match = _JOB_ID_RE.match(row["JobID"])
    if not match or (match["task"] or "").startswith("["):
        tried.append(f"job {row['JobID']} has not started")
        return None
    option = _output_option(row.get("SubmitLine", ""))
    if option is not None:
        values = {
            "j": row["JobIDRaw"] or match["job"],
            "A": match["job"],
            "x": row["JobName"],
            "u": row["User"],
        }
        if match["task"] is not None:
            values["a"] = match["task"]
        expanded = _expand_output_pattern(option, values)
        if expanded is None:
            tried.append(
                f"--output {option} on the submit line uses a pattern that cannot be filled in"
            )
            return None
        path = os.path.join(workdir, expanded)
        if os.path.isfile(path):
            return path
        tried.append(f"{path} (--output on the submit line) does not exist")
        return None
    name = _default_output_name(row["JobID"])
    path = os.path.join(workdir, name or "")
    if name and os.path.isfile(path):
        return path
    tried.append(f"{path} (SLURM's default name in the job's WorkDir) does not exist")
    return None


def resolve_output(job_id: str | int, runner: Runner = subprocess.run) -> str:
    """Path of the file that holds a job's stdout (with stderr, unless split).

    Tries ``scontrol show job`` (StdOut=), then sacct's WorkDir with ``--output`` from
    the submit line or SLURM's default name. Raises :class:`OutputNotFound` saying what
    was tried, :class:`SlurmUnavailable` when neither scontrol nor sacct can answer.
    """
    jid = _check_job_id(job_id)
    tried: list[str] = []
    found = _from_scontrol(jid, runner, tried)
    if found:
        return found
    found = _from_sacct(jid, runner, tried)
    if found:
        return found
    raise OutputNotFound(
        f"cannot find the output of job {jid}: {'; '.join(tried)}; "
        "if the job wrote elsewhere (#SBATCH --output in the script), give the file's path"
    )
