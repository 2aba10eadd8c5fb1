"""Where a SLURM job's output went: the file that holds its stdout.

SLURM 22.05 (Debian 12) has no ``StdOut`` field in ``sacct``. :func:`resolve_output`
asks ``scontrol show job`` first (exact, but only while slurmctld still remembers the
job: ``MinJobAge``, 300 s by default), then falls back to what accounting keeps: the
job's ``WorkDir`` with an ``--output`` given on the ``sbatch`` command line
(``SubmitLine``), or else SLURM's default name, ``slurm-%j.out`` (``slurm-%A_%a.out``
for an array task). An ``#SBATCH --output`` line inside the script is not recorded
anywhere once scontrol has forgotten the job: then the path has to be given by hand.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess

from .client import (
    COMMAND_TIMEOUT,
    UNAVAILABLE,
    Runner,
    SacctParseError,
    SlurmError,
    SlurmUnavailable,
    error_line,
    run,
    sacct_failure,
    short_line,
)
from .jobids import JOB_ID_RE, default_output_name


class OutputNotFound(SlurmError, LookupError):
    """The output file of a job could not be found; the message says what was tried."""


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
    match = JOB_ID_RE.match(text)
    if not match or (match["task"] or "").startswith("["):
        raise SacctParseError(f"not a SLURM job id: {job_id!r} (expected e.g. 1234 or 1234_5)")
    return text


def _from_scontrol(job_id: str, runner: Runner, tried: list[str]) -> str | None:
    try:
        proc = run(["scontrol", "show", "job", "-o", job_id], runner, COMMAND_TIMEOUT)
    except SlurmUnavailable as exc:
        tried.append(str(exc).removeprefix(UNAVAILABLE + ": "))
        return None
    if proc.returncode != 0:
        if "invalid job id" in (proc.stderr or "").lower():
            tried.append(
                "scontrol no longer knows the job (slurmctld forgets ended jobs after "
                "MinJobAge, 300 s by default)"
            )
        else:
            tried.append(f"scontrol failed: {error_line(proc.stderr or '')}")
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
        proc = run(argv, runner, COMMAND_TIMEOUT)
        if (
            proc.returncode != 0
            and "SubmitLine" in fields
            and "invalid field" in ((proc.stderr or "").lower())
        ):
            fields.remove("SubmitLine")  # older SLURM: no SubmitLine field
            continue
        break
    if proc.returncode != 0:
        raise sacct_failure(proc)
    rows = []
    for line in (proc.stdout or "").splitlines():
        if not line.strip():
            continue
        parts = line.split("|", len(fields) - 1)
        if len(parts) != len(fields):
            raise SacctParseError(f"cannot read sacct output: {short_line(line)!r}")
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
    match = JOB_ID_RE.match(row["JobID"])
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
    name = default_output_name(row["JobID"])
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
