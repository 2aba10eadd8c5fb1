"""A cell's own shell commands, run one by one with bash: what ``%%log_verify`` and
``%%log_search`` log as written. Job status checks are run and shown, never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..exceptions import StepError
from .base import WORKING_DIRECTORY, StepContext


@dataclass
class CellRun:
    """The commands of a cell as run: their output, notes, and the entry's fields (None: none)."""

    logged: list[str] = field(default_factory=list)
    found_lines: list[str] = field(default_factory=list)
    entry_fields: list[tuple[str, str]] | None = None
    outputs: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_cell_commands(cell: str, ctx: StepContext, timeout: float | None) -> CellRun:
    """Run each command of a cell; the entry gets one ``Command:`` and one ``Result:`` line per
    logged command, in order, so a reader (and replay) can pair them, and the ``Working
    Directory:`` they ran in (relative paths in a user's command mean nothing without it)."""
    from ..probes.commands import is_job_status_check, run_command, split_commands, summarize

    commands = split_commands(cell)
    if not commands:
        raise StepError("the cell has no command to run")
    run = CellRun()
    summaries: list[str] = []
    errors: list[str] = []
    for command in commands:
        expanded = ctx.expand(command)
        with ctx.progress(f"running {expanded.run[:60]}") as progress:
            result = run_command(
                expanded.run, timeout=timeout or ctx.command_timeout, on_output=progress.update
            )
        run.outputs.append((expanded.run, result.stdout, result.stderr))
        if is_job_status_check(expanded.run):
            run.notes.append(
                f"not logged: {command.split()[0]} is a job status check, "
                "which the design log leaves out"
            )
            continue
        run.logged.append(expanded.logged)
        summaries.append(summarize(expanded.run, result))
        run.found_lines.extend(line.strip() for line in result.stdout.splitlines() if line.strip())
        if not result.ok:
            errors.append(result.error or "failed")
    if not run.logged:
        return run
    fields = [("Command", "\n".join(run.logged)), ("Result", "\n".join(summaries))]
    if errors:
        fields.append(("Error", "; ".join(errors)))
    fields.append((WORKING_DIRECTORY, ctx.log_path(os.getcwd())))
    run.entry_fields = fields
    return run


def last_operand(command: str) -> str | None:
    """The first operand of a command (``ls -l PATH`` -> ``PATH``'s name), for a brief."""
    words = [w for w in command.split() if not w.startswith("-") and w not in ("|",)]
    if len(words) < 2:
        return None
    return os.path.basename(words[1].rstrip("/")) or None
