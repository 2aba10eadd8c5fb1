"""Calling SLURM's clients (``sacct``, ``scontrol``), and their failures as one-line errors.

Why: every question asked of SLURM goes through one ``runner`` with the signature of
:func:`subprocess.run`, so that callers can give another environment
(``functools.partial(subprocess.run, env=...)``) and tests can give canned answers; and a
machine without working accounting says so in one line, at once, whichever question was asked.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping

from ...exceptions import DesignLogError

Runner = Callable[..., subprocess.CompletedProcess]

#: Seconds a sacct/scontrol call may take before it counts as not answering.
COMMAND_TIMEOUT = 60.0
_PROBE_TIMEOUT = 15.0
UNAVAILABLE = "SLURM accounting is not available on this machine"


class SlurmError(DesignLogError):
    """A SLURM command could not answer the question (base of the errors here)."""


class SlurmUnavailable(SlurmError):
    """This machine has no working SLURM accounting; the message is one line."""


class SacctParseError(SlurmError, ValueError):
    """Text from sacct/scontrol (or given by the user) that is not what it should be."""


def short_line(text: str, limit: int = 200) -> str:
    """``text`` on one line (white space folded), cut to ``limit`` characters with ``...``."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def error_line(stderr: str) -> str:
    """The line of a command's error output that says what went wrong, shortened."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for marker in ("fatal:", "error:"):
        for ln in lines:
            if marker in ln:
                return short_line(ln)
    return short_line(lines[0]) if lines else "no message"


def _runner_env(runner: Runner) -> Mapping[str, str] | None:
    """The environment a runner based on subprocess.run gives its commands, if known."""
    if runner is subprocess.run:
        return os.environ
    if isinstance(runner, functools.partial) and runner.func is subprocess.run:
        return runner.keywords.get("env") or os.environ
    return None


def run(argv: list[str], runner: Runner, timeout: float) -> subprocess.CompletedProcess:
    """``argv`` run by ``runner``; raises :class:`SlurmUnavailable` when it cannot be run."""
    program = argv[0]
    env = _runner_env(runner)
    if env is not None:
        # Answer at once what SLURM would only say after a while: a SLURM_CONF naming a
        # missing file makes every client retry for 60 s.
        if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
            raise SlurmUnavailable(f"{UNAVAILABLE}: {program} not found")
        conf = env.get("SLURM_CONF")
        if conf and not os.path.isfile(conf):
            raise SlurmUnavailable(
                f"{UNAVAILABLE}: SLURM_CONF names {short_line(conf)}, which does not exist"
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
        raise SlurmUnavailable(f"{UNAVAILABLE}: {program} not found") from None
    except PermissionError:
        raise SlurmUnavailable(
            f"{UNAVAILABLE}: {program} cannot be run (permission denied)"
        ) from None
    except subprocess.TimeoutExpired:
        raise SlurmUnavailable(
            f"{UNAVAILABLE}: {program} did not answer within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise SlurmUnavailable(f"{UNAVAILABLE}: {program} cannot be run ({exc.strerror})") from None


def sacct_failure(proc: subprocess.CompletedProcess) -> SlurmError:
    """The error a failed sacct call stands for (:class:`SlurmUnavailable` when accounting
    is not there)."""
    stderr = (proc.stderr or "") + "\n" + (proc.stdout or "")
    low = stderr.lower()
    if "accounting storage is disabled" in low:
        return SlurmUnavailable(f"{UNAVAILABLE}: accounting storage is disabled (no slurmdbd)")
    if (
        "configuration source" in low
        or "unable to process configuration" in low
        or "cannot stat file" in low
        or ("slurm.conf" in low and ("no such file" in low or "can't open" in low))
    ):
        return SlurmUnavailable(f"{UNAVAILABLE}: no SLURM configuration found (is SLURM_CONF set?)")
    if "talking to the database" in low or "connection refused" in low or "slurmdbd" in low:
        return SlurmUnavailable(
            f"{UNAVAILABLE}: sacct cannot reach the accounting daemon ({error_line(stderr)})"
        )
    return SlurmError(f"sacct failed (exit {proc.returncode}): {error_line(stderr)}")


def ensure_slurm(runner: Runner = subprocess.run) -> None:
    """Raise :class:`SlurmUnavailable` unless sacct exists and answers a tiny query."""
    proc = run(
        ["sacct", "-X", "-P", "-n", "--format=JobID", "--starttime", "now"],
        runner,
        _PROBE_TIMEOUT,
    )
    if proc.returncode != 0:
        failure = sacct_failure(proc)
        if isinstance(failure, SlurmUnavailable):
            raise failure
        raise SlurmUnavailable(f"{UNAVAILABLE}: {failure}")


def slurm_available(runner: Runner = subprocess.run) -> bool:
    """True when sacct is on PATH and answers (see :func:`ensure_slurm` for the reason)."""
    try:
        ensure_slurm(runner)
    except SlurmError:
        return False
    return True
