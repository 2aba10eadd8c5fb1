"""Run a command with a timeout (the one subprocess runner), and summarise its result the way a
person would.

The summary is what goes to the log's ``Result:`` line: ``Directory exists with 15 files
(config.json, model.safetensors, etc.)`` for ``ls DIR``, ``File exists, 655K`` for ``ls -lh FILE``,
``4.0G`` for ``du -sh``, ``2.1T available`` for ``df -h``. Anything else gets its first line of
output. A failure is summarised from its exit status and its first line of error output.
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .clipping import clip

JOB_STATUS_COMMANDS = ("squeue", "sacct", "sstat")
_SUMMARY_CHARS = 160  # the first output line a summary quotes
_SEGMENT_SPLIT_RE = re.compile(r"\|\||&&|[|;&]")


@dataclass(frozen=True)
class CommandOutcome:
    """What a shell command did."""

    command: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def error(self) -> str | None:
        """A one-line description of the failure, or ``None``."""
        if self.timed_out:
            return f"timed out after {self.seconds:.0f}s"
        if self.returncode == 0:
            return None
        first = next((ln.strip() for ln in self.stderr.splitlines() if ln.strip()), "")
        if not first:
            first = next((ln.strip() for ln in self.stdout.splitlines() if ln.strip()), "")
        status = f"exit status {self.returncode}"
        return f"{first} ({status})" if first else status


def is_job_status_check(command: str) -> bool:
    """True for ``squeue``, ``sacct``, ``sstat`` and ``scontrol show job``: never logged."""
    for segment in _SEGMENT_SPLIT_RE.split(command):
        words = segment.strip().split()
        while words and "=" in words[0] and not words[0].startswith("-"):
            words = words[1:]  # VAR=value prefixes
        if words and words[0] in ("sudo", "watch", "timeout", "env"):
            words = [w for w in words[1:] if not w.startswith("-") and not w[:1].isdigit()]
        if not words:
            continue
        program = os.path.basename(words[0])
        if program in JOB_STATUS_COMMANDS:
            return True
        if program == "scontrol" and words[1:3] in (["show", "job"], ["show", "jobs"]):
            return True
    return False


def split_commands(body: str) -> list[str]:
    """The logical command lines of a cell body (backslash continuations joined, comments and
    blank lines dropped)."""
    commands: list[str] = []
    current = ""
    for raw in body.splitlines():
        line = raw.rstrip()
        if current:
            current += "\n" + line
        elif not line.strip() or line.lstrip().startswith("#"):
            continue
        else:
            current = line
        if current.endswith("\\"):
            continue
        commands.append(current.strip())
        current = ""
    if current:
        commands.append(current.strip())
    return commands


BASH = ("bash", "-o", "pipefail", "-c")
Pipeline = Sequence[Sequence[str]]


def run_command(
    command: str | Pipeline,
    *,
    timeout: float = 120.0,
    cwd: str | None = None,
    on_output: Callable[[str], None] | None = None,
    poll_interval: float = 0.1,
    max_output: int | None = None,
    executables: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> CommandOutcome:
    """Run ``command`` in its own process group: the one runner of this package.

    A string runs with bash (``pipefail``) in a new session, as a notebook cell's command does.
    A sequence of argvs is a pipeline run without a shell (each stage's stdout into the next;
    ``executables`` names the file each stage runs, else ``PATH`` finds it), as replay runs a
    judged read. Either way: stdin is empty, stderr of every stage is kept, the exit status is
    bash's with ``pipefail`` (the last non-zero one; a signal ``N`` as ``128+N``). A timeout, or
    output beyond ``max_output`` bytes, kills the whole group and is reported, not raised; a
    ``KeyboardInterrupt`` (a kernel interrupt) kills the group too and is re-raised, so nothing
    is half-logged. ``on_output`` is called now and then (for progress display); ``env`` is the
    environment (default: this process's).
    """
    shell = isinstance(command, str)
    if isinstance(command, str):
        stages, text = [[*BASH, command]], command
    else:
        stages = [list(stage) for stage in command]
        text = " | ".join(shlex.join(stage) for stage in stages)
    if not stages or not all(stages):
        raise ValueError("a pipeline needs at least one stage, each with a program")
    if executables is not None and len(executables) != len(stages):
        raise ValueError("one executable per stage")
    start = time.monotonic()
    processes: list[subprocess.Popen[bytes]] = []
    err_read, err_write = os.pipe()
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    timed_out = overflow = False
    try:
        try:
            previous: Any = subprocess.DEVNULL
            for index, argv in enumerate(stages):
                group: dict[str, Any] = (
                    {"start_new_session": True}
                    if shell
                    else {"process_group": processes[0].pid if processes else 0}
                )
                process = subprocess.Popen(
                    argv,
                    executable=executables[index] if executables is not None else None,
                    stdin=previous,
                    stdout=subprocess.PIPE,
                    stderr=err_write,
                    cwd=cwd,
                    env=env,
                    **group,
                )
                if processes:
                    processes[-1].stdout.close()  # type: ignore[union-attr]  # SIGPIPE reaches it
                processes.append(process)
                previous = process.stdout
        except OSError as exc:
            _stop(processes)
            return CommandOutcome(text, 126, "", f"{exc}\n", time.monotonic() - start)
        finally:
            os.close(err_write)
        deadline = start + timeout
        out_fd = processes[-1].stdout.fileno()  # type: ignore[union-attr]
        total = 0
        last_report = start
        with selectors.DefaultSelector() as selector:
            selector.register(out_fd, selectors.EVENT_READ, stdout)
            selector.register(err_read, selectors.EVENT_READ, stderr)
            while selector.get_map() and not (timed_out or overflow):
                now = time.monotonic()
                if now >= deadline:
                    timed_out = True
                    break
                if on_output and now - last_report >= poll_interval:
                    on_output(f"running for {now - start:.0f}s")
                    last_report = now
                for key, _ in selector.select(min(deadline - now, poll_interval)):
                    data = os.read(key.fd, 65536)
                    if not data:
                        selector.unregister(key.fd)
                        continue
                    key.data.append(data)
                    total += len(data)
                    if max_output is not None and total > max_output:
                        overflow = True
                        break
        for process in processes:
            if timed_out or overflow:
                break
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out or overflow:
            _kill_group(processes)
        for process in processes:
            process.wait()
    except BaseException:
        _stop(processes)
        raise
    finally:
        os.close(err_read)
        for process in processes:
            if process.stdout:
                process.stdout.close()
    seconds = time.monotonic() - start
    out, err = _decode(b"".join(stdout)), _decode(b"".join(stderr))
    if overflow:
        err += f"output over {max_output} bytes: stopped\n"
    if timed_out:
        return CommandOutcome(text, None, out, err, seconds, timed_out=True)
    statuses = [_bash_status(p.returncode) for p in processes]
    returncode = next((s for s in reversed(statuses) if s), 0)
    return CommandOutcome(text, returncode, out, err, seconds)


def _bash_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _kill_group(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGKILL the group the first stage leads (every stage, and whatever they started)."""
    if not processes:
        return
    try:
        os.killpg(processes[0].pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for process in processes:  # a stage that left the group
        try:
            process.kill()
        except ProcessLookupError:
            pass


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    _kill_group(processes)
    for process in processes:
        process.wait()


def _decode(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def _ls_long_size(line: str) -> str | None:
    # -rw-r--r-- 1 user group 655K Oct 22 14:23 words.json
    parts = line.split()
    if len(parts) >= 9 and parts[0][:1] in "-lbcps" and len(parts[0]) >= 10:
        return parts[4]
    return None


def _ls_long_name(line: str) -> str:
    # -rw-r--r-- 1 user group 655K Oct 22 14:23 my words.json  (eight fields, then the name)
    name = line.split(None, 8)[-1]
    return name.split(" -> ", 1)[0] if line.startswith("l") else name


def summarize(command: str, outcome: CommandOutcome) -> str:
    """The ``Result:`` line for one command (see the module docstring)."""
    if outcome.timed_out:
        return f"Failed: timed out after {outcome.seconds:.0f}s"
    if not outcome.ok:
        text = outcome.stderr.lower()
        if "no such file or directory" in text or "cannot access" in text:
            return "Missing: path does not exist"
        return f"Failed: exit status {outcome.returncode}"
    lines = [ln for ln in outcome.stdout.splitlines() if ln.strip()]
    try:
        words = shlex.split(command.split("|")[0])
    except ValueError:
        words = command.split()
    program = os.path.basename(words[0]) if words else ""
    flags = "".join(w[1:] for w in words[1:] if w.startswith("-") and not w.startswith("--"))
    operands = [w for w in words[1:] if not w.startswith("-")]
    if program == "ls" and "|" not in command:
        if "l" in flags:
            body = [ln for ln in lines if not ln.startswith("total ")]
            if len(operands) <= 1 and len(body) == 1 and body[0].startswith("-"):
                size = _ls_long_size(body[0])
                return f"File exists, {size}" if size else "File exists"
            if len(operands) <= 1 and lines and lines[0].startswith("total "):
                names = [_ls_long_name(ln) for ln in body if len(ln.split()) >= 9]
                return _directory_line(names)
        elif len(operands) == 1 and len(lines) == 1 and lines[0] == operands[0]:
            return "File exists"
        elif len(operands) <= 1:
            # not on a terminal, ls prints one name a line: a name may hold spaces
            return _directory_line(lines)
    if program == "du" and lines:
        sizes = [ln.split()[0] for ln in lines if ln.split()]
        return (
            sizes[-1]
            if len(sizes) == 1
            else ", ".join(
                f"{ln.split(maxsplit=1)[1]}: {ln.split()[0]}" for ln in lines if len(ln.split()) > 1
            )
        )
    if program == "df" and len(lines) >= 2:
        header = lines[0].split()
        row = lines[-1].split()
        column = next((i for i, h in enumerate(header) if h.lower().startswith("avail")), 3)
        if column < len(row):
            return f"{row[column]} available"
    if program in ("find",) or (program == "grep" and "l" in flags):
        if not lines:
            return "No matches found"
        return f"Found {len(lines)} match{'es' if len(lines) != 1 else ''}"
    if not lines:
        return "Command succeeded (no output)"
    first = lines[0].strip()
    if len(lines) > 1:
        return f"{clip(first, _SUMMARY_CHARS)} (+{len(lines) - 1} more lines)"
    return clip(first, _SUMMARY_CHARS)


def _directory_line(names: list[str]) -> str:
    if not names:
        return "Directory exists but is empty"
    ordered = sorted(
        names,
        key=lambda n: (0 if n.startswith("config") else 1 if n.endswith(".safetensors") else 2, n),
    )
    shown = ", ".join(ordered[:2])
    more = ", etc." if len(names) > 2 else ""
    noun = "file" if len(names) == 1 else "files"
    return f"Directory exists with {len(names)} {noun} ({shown}{more})"
