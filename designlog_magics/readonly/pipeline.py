"""Running a judged command: its stages without a shell, through the package's one runner.

Why: what :func:`.judge.judge_command` let through must run as it was judged: the argvs
directly (no shell to re-read them), programs found on the absolute entries of ``PATH`` only,
an environment without the variables that would change what an option means, and a
``designlog`` verb as a subprocess of this Python.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import replace

from ..probes.commands import CommandOutcome, run_command
from .judge import ReadCommand, read_verbs
from .programs import PIPE_PROGRAMS, READ_PROGRAMS

_MAX_OUTPUT = 16 * 1024 * 1024
# Left out of a replayed command's environment: with POSIXLY_CORRECT, getopt stops at the first
# operand (so ``head f -n /etc/shadow`` would read /etc/shadow, which was judged a value);
# GREP_OPTIONS adds options the judge never saw; DESIGNLOG_DIR is the command line's default LOG.
_DROPPED_VARIABLES = frozenset({"POSIXLY_CORRECT", "GREP_OPTIONS", "DESIGNLOG_DIR"})


def _resolve(name: str) -> str | None:
    # Only absolute PATH entries: "." or an empty entry would run a file from the cwd.
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return shutil.which(name, path=os.pathsep.join(e for e in entries if os.path.isabs(e)))


def verb_argv(command: ReadCommand) -> list[str]:
    """The argv that runs a judged ``designlog VERB ...``: this Python and the package's command
    line with ``--result-only``, which prints the verb's Result alone, every line of it. ``-P``
    keeps the working directory (the experiment's, which came with the log) off ``sys.path``, so
    a planted ``designlog_magics`` there is never imported."""
    if command.program != "designlog" or command.verb not in read_verbs():
        raise ValueError("verb_argv takes a judged designlog read verb")
    return [sys.executable, "-P", "-m", "designlog_magics", "--result-only", *command.stages[0][1:]]


def run_pipeline(
    command: ReadCommand,
    *,
    timeout: float = 120.0,
    cwd: str | None = None,
    max_output: int = _MAX_OUTPUT,
) -> CommandOutcome:
    """Run a judged command's stages without a shell, stdout of one into the next, through the
    package's one runner (:func:`designlog_magics.probes.commands.run_command`).

    All stages share one new process group, killed on timeout, on output beyond ``max_output``
    bytes, or on ``KeyboardInterrupt`` (re-raised). The exit status is bash's with ``pipefail``:
    the last non-zero one, a signal ``N`` as ``128+N``. A ``designlog`` verb runs as
    :func:`verb_argv`.
    """
    if not isinstance(command, ReadCommand):
        raise ValueError("run_pipeline takes a ReadCommand from judge_command")
    text = command.text
    stages: list[list[str]]
    executables: list[str] = []
    if command.program == "designlog":
        if len(command.stages) != 1:
            raise ValueError("nothing may be piped from designlog")
        stages, executables = [verb_argv(command)], [sys.executable]
    else:
        stages = [list(argv) for argv in command.stages]
        for index, argv in enumerate(stages):
            allowed = PIPE_PROGRAMS if index else tuple(READ_PROGRAMS)
            if argv[0] not in allowed:
                raise ValueError(f"{argv[0]!r} is not a read program")
            found = _resolve(argv[0])
            if found is None:
                return CommandOutcome(text, 127, "", f"{argv[0]}: command not found\n", 0.0)
            executables.append(found)
    outcome = run_command(
        stages,
        executables=executables,
        timeout=timeout,
        cwd=cwd,
        max_output=max_output,
        env=_environment(),
    )
    return replace(outcome, command=text)  # a verb is shown as it was judged, not as run


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
