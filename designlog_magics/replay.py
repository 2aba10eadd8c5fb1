"""Replay: re-run what a log says was checked, read-only, and say whether it still stands.

The auditor's question at scaffold time, days after planning: do the model, the dataset, the
prior runs and the free space still stand as planned? Each entry is answered with one of

* ``reproduced``: running its ``Command:`` again gives its ``Result:`` (see :data:`MEANING`);
* ``changed``: it gives something else (the logged Result is shown beside the new one);
* ``failed``: the command could not be run (a timeout, a missing program);
* ``not replayable``: nothing to run, or nothing this module will run, and why.

A log is untrusted input. Only what :mod:`.readonly` accepts as a read is run: the package's own
read verbs in this process, and ``ls``/``du``/``df``/``stat``/``wc``/``head``/``find``/``grep``
without a shell. Replay never writes to the log, and runs nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .entry import Entry
from .exceptions import DesignLogError
from .expansion import expand
from .probes.commands import CommandOutcome
from .readonly import ReadCommand
from .session import last_bindings
from .store import LOG_FILENAME, read_log

REPRODUCED, CHANGED, FAILED, NOT_REPLAYABLE = "reproduced", "changed", "failed", "not replayable"
FREE_SPACE_TOLERANCE = 0.95  # df -h without a need: changed when free space fell below 95%

MEANING = {
    "verify": "the same kind of path, file count, total size and records",
    "search": "the same set of runs",
    "speed": "the same speed (to the digits logged)",
    "disk --need": "the same verdict against the need: still enough, or still not enough",
    "df -h": f"at least {FREE_SPACE_TOLERANCE:.0%} of the free space logged (no need to judge by)",
    "calculation": "every arithmetic step recomputes to the value shown",
    "summary": "the file exists and its plan gives the same Result",
    "other reads": "the same summary of the output (ls, du, stat, wc, head, grep)",
}


class _Item(Protocol):
    def __call__(
        self, status: str, reason: str = "", now: str = "", commands: Sequence[str] = ()
    ) -> Replayed: ...


class ReplayError(DesignLogError):
    """The log cannot be replayed at all (no such file)."""


@dataclass(frozen=True)
class Replayed:
    """What replaying one entry gave."""

    index: int
    action: str
    brief: str
    time_text: str
    status: str
    reason: str = ""
    logged: str = ""
    now: str = ""
    commands: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "time": self.time_text,
            "action": self.action,
            "brief": self.brief,
            "status": self.status,
            "reason": self.reason,
            "logged": self.logged,
            "now": self.now,
            "commands": list(self.commands),
        }


@dataclass
class ReplayReport:
    """Every entry's replay, and the verdict: 0 when every replayable entry reproduced."""

    source: str
    paths: dict[str, str]
    items: list[Replayed] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return 1 if any(i.status in (CHANGED, FAILED) for i in self.items) else 0

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "paths": self.paths,
            "exit_status": self.exit_status,
            "counts": {s: self.count(s) for s in (REPRODUCED, CHANGED, FAILED, NOT_REPLAYABLE)},
            "entries": [i.as_dict() for i in self.items],
        }

    def render(self) -> str:
        verdict = "STANDS" if self.exit_status == 0 else "CHANGED"
        counts = ", ".join(
            f"{self.count(s)} {s}" for s in (REPRODUCED, CHANGED, FAILED, NOT_REPLAYABLE)
        )
        lines = [f"Replay of {self.source}", f"{verdict}: {counts}", ""]
        for item in self.items:
            lines.append(f"  {item.status:<15} {item.time_text} {item.action}: {item.brief}")
            if item.reason:
                lines.append(f"{'':18}{item.reason}")
            if item.status == CHANGED:
                lines.append(f"{'':18}logged: {_one_line(item.logged)}")
                lines.append(f"{'':18}now:    {_one_line(item.now)}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        from .display import escape

        return '<pre class="dlm-replay">' + escape(self.render()) + "</pre>"


def _one_line(text: str) -> str:
    return text.replace("\n", " | ")


def replay_log(
    location: str | Path,
    *,
    paths: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> ReplayReport:
    """Replay the log at ``location`` (a log file or an experiment directory).

    Path names come from the log's latest START_DESIGN, with ``experiment_dir`` the log's own
    directory; ``paths`` overrides them (to replay on another cluster).
    """
    path = Path(location).expanduser()
    log_path = path / LOG_FILENAME if path.is_dir() else path
    if not log_path.is_file():
        raise ReplayError(f"no design log at {log_path}")
    entries = read_log(log_path).entries
    bindings = {**(last_bindings(entries) or {}), "experiment_dir": str(log_path.parent.resolve())}
    bindings.update(paths or {})
    report = ReplayReport(str(log_path), bindings)
    for index, entry in enumerate(entries):
        report.items.append(replay_entry(entry, index, bindings, timeout=timeout))
    return report


def replay_entry(
    entry: Entry, index: int, paths: Mapping[str, str], *, timeout: float = 120.0
) -> Replayed:
    """Replay one entry (never raises for what the entry holds)."""

    def item(
        status: str, reason: str = "", now: str = "", commands: Sequence[str] = ()
    ) -> Replayed:
        return Replayed(
            index,
            entry.action,
            entry.brief,
            entry.time_text,
            status,
            reason,
            entry.get("Result") or "",
            now,
            tuple(commands),
        )

    command = entry.get("Command")
    if entry.get("Origin") is not None:
        return item(NOT_REPLAYABLE, f"Origin: {entry.get('Origin')}: its Result was not computed")
    if entry.get("Calculation") is not None:
        from .audit import recheck_calculation

        problems = recheck_calculation(entry)
        if problems:
            return item(CHANGED, "; ".join(problems), "recomputed differently")
        return item(REPRODUCED, "every step recomputes")
    if command is None:
        return item(NOT_REPLAYABLE, "no Command: to run")
    if command.startswith("Created "):
        return _replay_summary(entry, command, paths, item)
    try:
        return _replay_commands(entry, command, paths, timeout, item)
    except Exception as exc:  # a hostile log must not stop the replay of the rest
        return item(FAILED, f"{type(exc).__name__}: {exc}")


def _replay_summary(entry: Entry, command: str, paths: Mapping[str, str], item: _Item) -> Replayed:
    from .summary import GENERATED_MARKER, summary_result

    target = Path(expand(command.removeprefix("Created ").strip(), {}, paths).run)
    if not target.is_file():
        return item(CHANGED, f"{target} no longer exists", "file missing")
    plan = target.read_text(encoding="utf-8", errors="replace").partition(GENERATED_MARKER)[0]
    now = summary_result(plan)
    logged = entry.get("Result") or ""
    if logged.startswith("Failed"):
        return item(CHANGED, "the summary exists now; the log says writing it failed", now)
    return item(REPRODUCED if now == logged else CHANGED, "the file is checked, not run", now)


def _replay_commands(
    entry: Entry, command: str, paths: Mapping[str, str], timeout: float, item: _Item
) -> Replayed:
    from .readonly import judge_command, split_command_lines

    lines = split_command_lines(command)
    cwd_written = entry.get("Working Directory")
    cwd = expand(cwd_written, {}, paths).run if cwd_written else None
    judged = [judge_command(line, paths, cwd=cwd) for line in lines]
    refused = [
        f"{line}: {verdict.reason}"
        for line, verdict in zip(lines, judged, strict=True)
        if not isinstance(verdict, ReadCommand)
    ]
    runnable = [v for v in judged if isinstance(v, ReadCommand)]
    if not runnable:
        return item(NOT_REPLAYABLE, "; ".join(refused), commands=lines)
    logged_lines = (entry.get("Result") or "").split("\n")
    if entry.action == "SEARCH_PRIOR_RUNS" and runnable[0].program != "designlog":
        from .probes.runs import describe_runs

        outputs = [_run_shell(c, cwd, timeout) for c in runnable]
        failed = [o.error for o in outputs if o.timed_out or o.returncode is None]
        if failed:
            return item(FAILED, "; ".join(e or "failed" for e in failed), commands=lines)
        found = [ln for o in outputs for ln in o.stdout.splitlines() if ln.strip()]
        return _compare(item, entry.get("Result") or "", describe_runs(found), refused, lines)
    pairs = (
        list(zip(runnable, logged_lines, strict=True))
        if len(logged_lines) == len(runnable) and not refused
        else [(c, "\n".join(logged_lines)) for c in runnable[:1]]
    )
    statuses: list[tuple[str, str, str]] = []
    for read, logged in pairs:
        if read.program == "designlog":
            now = _run_verb(read, paths)
            statuses.append(_judge_verb(read.verb or "", logged, now))
        else:
            outcome = _run_shell(read, cwd, timeout)
            if outcome.timed_out or outcome.returncode is None:
                statuses.append((FAILED, outcome.error or "failed", ""))
                continue
            statuses.append(_judge_shell(read, logged, outcome))
    worst = next(
        (s for s in statuses if s[0] == FAILED),
        next((s for s in statuses if s[0] == CHANGED), statuses[0]),
    )
    reason = "; ".join(filter(None, [worst[1], *refused]))
    now = "\n".join(s[2] for s in statuses)
    return item(worst[0], reason, now, lines)


def _compare(item: _Item, logged: str, now: str, refused: list[str], lines: list[str]) -> Replayed:
    status = REPRODUCED if now == logged else CHANGED
    return item(status, "; ".join(refused), now, lines)


def _run_shell(read: ReadCommand, cwd: str | None, timeout: float) -> CommandOutcome:
    from .readonly import run_pipeline

    return run_pipeline(read, timeout=timeout, cwd=cwd)


def _run_verb(read: ReadCommand, paths: Mapping[str, str]) -> str:
    """A ``designlog`` read verb, run in this process through the step its magic calls."""
    from . import steps
    from .cli import build_parser

    try:
        args = build_parser().parse_args(list(read.stages[0][1:]))
    except DesignLogError as exc:
        return f"Failed: {exc}"
    except SystemExit:  # --help or --version in a forged log: argparse would leave
        return "Failed: not a check (it only prints help)"
    step = getattr(args, "step", None)
    if step is None:
        return "Failed: not a read verb"
    try:
        outcome = step(args, steps.StepContext(paths=dict(paths)))
    except DesignLogError as exc:
        return f"Failed: {exc}"
    return outcome.result


_SPEED_RE = re.compile(r"([0-9][0-9,]*\.?[0-9]*) it/s")


def _judge_verb(verb: str, logged: str, now: str) -> tuple[str, str, str]:
    if verb == "speed":
        before, after = _SPEED_RE.search(logged), _SPEED_RE.search(now)
        if before is None and after is None:  # an evaluation: its whole summary
            return (REPRODUCED, "", now) if now == logged else (CHANGED, "", now)
        if before and after and before.group(1) == after.group(1):
            return REPRODUCED, "", now
        return CHANGED, "the speed is not the same", now
    if verb == "disk":
        return _judge_need(logged, now)
    return (REPRODUCED, "", now) if now == logged else (CHANGED, "", now)


def _judge_need(logged: str, now: str) -> tuple[str, str, str]:
    def enough(text: str) -> bool | None:
        if "enough for the" in text:
            return True
        if text.startswith("Warning: only"):
            return False
        return None

    before, after = enough(logged), enough(now)
    if before is None or after is None:
        return (REPRODUCED, "", now) if before == after else (CHANGED, "cannot judge", now)
    if before == after:
        return REPRODUCED, "", now
    if before and not after:
        return CHANGED, "the free space fell below the need", now
    return CHANGED, "there is enough space now; the log says there was not", now


def _judge_shell(read: ReadCommand, logged: str, outcome: CommandOutcome) -> tuple[str, str, str]:
    from .probes.commands import summarize

    now = summarize(read.text, outcome)
    if read.program == "df":
        before, after = _available(logged), _available(now)
        if before is not None and after is not None:
            if after >= before * FREE_SPACE_TOLERANCE:
                return REPRODUCED, "", now
            return CHANGED, "the free space fell", now
    return (REPRODUCED, "", now) if now == logged else (CHANGED, "", now)


def _available(text: str) -> int | None:
    from .probes.sizes import parse_size

    match = re.match(r"(?:Warning: only )?([0-9.]+[KMGTP]?) available", text)
    if not match:
        return None
    try:
        return parse_size(match.group(1))
    except ValueError:
        return None
