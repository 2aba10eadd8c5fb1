"""Replay: re-run what a log says was checked, read-only, and say whether it still stands.

The auditor's question at scaffold time, days after planning: do the model, the dataset, the
prior runs and the free space still stand as planned? Each entry is answered with one of

* ``reproduced``: running its ``Command:`` again gives its ``Result:`` (see :data:`MEANING`);
* ``changed``: it gives something else (the logged Result is shown beside the new one);
* ``failed``: the command could not be run (a timeout, a missing program);
* ``not replayable``: nothing to run, or nothing this module will run, and why.

A log is untrusted input (it may come from someone else). Only what :mod:`.readonly` accepts as
a read is run, without a shell: ``ls``/``du``/``df``/``stat``/``wc``/``head``/``find``/``grep``
and the package's own read verbs (``python -P -m designlog_magics VERB ...``), each in a
subprocess through the package's one runner, killed at its timeout. A command may read only
inside the plan's roots: the experiment directory and the paths bound in START_DESIGN or given
with ``paths`` (a root from the log that holds the home directory is left out); anything else is
``not replayable: reads outside the plan's paths`` and never runs. Each command has its own
timeout and the replay one budget; once it is spent, every remaining entry is not run. What the
report shows or returns (text, JSON, HTML) is masked like the log (:mod:`.masking`), and its
text shows control characters as escapes (:func:`.textformat.escape_text`). Replay never writes
to the log.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from .entry import Entry
from .exceptions import DesignLogError
from .masking import SecretMasker, default_masker
from .probes.commands import CommandOutcome, summarize
from .readonly import (
    ReadCommand,
    Refusal,
    confine,
    judge_command,
    run_pipeline,
    split_command_lines,
    substitute_paths,
)
from .session import last_bindings
from .store import find_log_file, read_log
from .textformat import escape_text

REPRODUCED, CHANGED, FAILED, NOT_REPLAYABLE = "reproduced", "changed", "failed", "not replayable"
FREE_SPACE_TOLERANCE = 0.95  # df -h without a need: changed when free space fell below 95%
DEFAULT_TIMEOUT = 300.0  # seconds for the whole replay
DEFAULT_COMMAND_TIMEOUT = 60.0  # seconds for each command
_MAX_SUMMARY_BYTES = 4 * 1024 * 1024
_STATUSES = (REPRODUCED, CHANGED, FAILED, NOT_REPLAYABLE)

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

    def masked(self, masker: SecretMasker) -> Replayed:
        """This replay with every text masked as the log's values are."""
        return replace(
            self,
            brief=masker.mask(self.brief),
            reason=masker.mask(self.reason),
            logged=masker.mask(self.logged),
            now=masker.mask(self.now),
            commands=tuple(masker.mask(command) for command in self.commands),
        )


@dataclass
class ReplayReport:
    """Every entry's replay, and the verdict: 0 when every replayable entry reproduced and the
    time budget sufficed."""

    source: str
    paths: dict[str, str]
    items: list[Replayed] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)  # where commands may read
    left_out: list[str] = field(default_factory=list)  # NAME=DIR not taken as a root, and why
    timeout: float = DEFAULT_TIMEOUT
    budget_spent: bool = False

    @property
    def exit_status(self) -> int:
        changed = any(i.status in (CHANGED, FAILED) for i in self.items)
        return 1 if changed or self.budget_spent else 0

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "paths": self.paths,
            "roots": self.roots,
            "left_out": self.left_out,
            "timeout": self.timeout,
            "budget_spent": self.budget_spent,
            "exit_status": self.exit_status,
            "counts": {s: self.count(s) for s in _STATUSES},
            "entries": [i.as_dict() for i in self.items],
        }

    def render(self) -> str:
        """The report as text; every value from the log or the files is shown escaped."""
        verdict = "STANDS" if self.exit_status == 0 else "CHANGED"
        if self.budget_spent and not any(i.status in (CHANGED, FAILED) for i in self.items):
            verdict = "INCOMPLETE"
        counts = ", ".join(f"{self.count(s)} {s}" for s in _STATUSES)
        lines = [f"Replay of {_shown(self.source)}"]
        lines.append(f"Reads only under: {_shown(', '.join(self.roots) or '(nothing)')}")
        lines += [f"Not a root: {_shown(text)}" for text in self.left_out]
        lines += [f"{verdict}: {counts}", ""]
        for item in self.items:
            heading = f"{item.time_text} {item.action}: {item.brief}"
            lines.append(f"  {item.status:<15} {_shown(heading)}")
            if item.reason:
                lines.append(f"{'':18}{_shown(item.reason)}")
            if item.status == CHANGED:
                lines.append(f"{'':18}logged: {_shown(item.logged)}")
                lines.append(f"{'':18}now:    {_shown(item.now)}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        from .display import escape

        return '<pre class="dlm-replay">' + escape(self.render()) + "</pre>"


def _shown(text: str) -> str:
    """One line of the report: control characters as escapes, lines joined with `` | ``."""
    return escape_text(text).replace("\n", " | ").replace("\t", " ")


def replay_log(
    location: str | Path,
    *,
    paths: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
    masker: SecretMasker | None = None,
) -> ReplayReport:
    """Replay the log at ``location`` (a log file or an experiment directory).

    Path names come from the log's latest START_DESIGN, with ``experiment_dir`` the log's own
    directory; ``paths`` overrides them (to replay on another cluster) and is trusted as a root.
    ``timeout`` bounds the whole replay (seconds), ``command_timeout`` each command; ``masker``
    (default: the built-in patterns) masks what the report holds.
    """
    masker = masker or default_masker()
    path = Path(location).expanduser()
    log_path = find_log_file(path)
    if not log_path.is_file():
        raise ReplayError(f"no design log at {log_path}")
    entries = read_log(log_path).entries
    given = dict(paths or {})
    bindings = {**(last_bindings(entries) or {}), "experiment_dir": str(log_path.parent.resolve())}
    bindings.update(given)
    roots, left_out = plan_roots(bindings, trusted=given)
    replayer = _Replayer(bindings, roots, timeout, command_timeout, masker)
    report = ReplayReport(
        masker.mask(str(log_path)),
        {name: masker.mask(value) for name, value in bindings.items()},
        roots=[masker.mask(root) for root in roots],
        left_out=[masker.mask(text) for text in left_out],
        timeout=timeout,
    )
    for index, entry in enumerate(entries):
        report.items.append(replayer.replay(entry, index).masked(masker))
    report.budget_spent = replayer.spent
    return report


def plan_roots(
    bindings: Mapping[str, str], *, trusted: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """Where a replayed command may read: each bound path, resolved (a relative one from the
    experiment directory), and what was left out. A path from the log (not in ``trusted``, the
    ones the user gave) that is ``/``, the home directory or above it is left out: a received
    log must not make the user's home (its tokens and keys) part of its plan."""
    base = bindings.get("experiment_dir") or os.getcwd()
    home = os.path.realpath(os.path.expanduser("~"))
    roots: list[str] = []
    left_out: list[str] = []
    for name, value in bindings.items():
        try:
            real = os.path.realpath(os.path.join(base, value))
        except (ValueError, OSError):
            left_out.append(f"{name}={value} (cannot be resolved)")
            continue
        holds_home = home == real or home.startswith(real.rstrip("/") + "/")
        if holds_home and name not in trusted:
            left_out.append(f"{name}={value} (it holds the home directory)")
        elif real not in roots:
            roots.append(real)
    return roots, left_out


class _Replayer:
    """Replays entries against one plan's bindings and roots, within one time budget."""

    def __init__(
        self,
        bindings: Mapping[str, str],
        roots: Sequence[str],
        timeout: float,
        command_timeout: float,
        masker: SecretMasker,
    ) -> None:
        self.masker = masker  # results are compared masked: the log holds them masked
        self.paths = dict(bindings)
        self.roots = list(roots)
        self.experiment_dir = self.paths.get("experiment_dir") or os.getcwd()
        self.timeout = timeout
        self.command_timeout = command_timeout
        self.deadline = time.monotonic() + timeout
        self.spent = False

    @property
    def budget_reason(self) -> str:
        return f"the replay's time budget ({self.timeout:g} s) was spent"

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.spent = True
        return left

    def replay(self, entry: Entry, index: int) -> Replayed:
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
        if self.remaining() <= 0:
            return item(NOT_REPLAYABLE, self.budget_reason)
        if entry.get("Origin") is not None:
            return item(
                NOT_REPLAYABLE, f"Origin: {entry.get('Origin')}: its Result was not computed"
            )
        if entry.get("Calculation") is not None:
            from .audit import recheck_calculation

            problems = recheck_calculation(entry)
            if problems:
                return item(CHANGED, "; ".join(problems), "recomputed differently")
            return item(REPRODUCED, "every step recomputes")
        if command is None:
            return item(NOT_REPLAYABLE, "no Command: to run")
        try:
            if command.startswith("Created "):
                return self._summary(entry, command, item)
            return self._commands(entry, command, item)
        except Exception as exc:  # a hostile log must not stop the replay of the rest
            return item(FAILED, f"{type(exc).__name__}: {exc}")

    def _where(self, written: str) -> str | Refusal:
        """A path the log wrote (placeholders substituted, relative to the experiment
        directory), or why it is refused."""
        path = substitute_paths(written, self.paths)
        if isinstance(path, Refusal):
            return path
        return os.path.join(self.experiment_dir, path)

    def _summary(self, entry: Entry, command: str, item: _Item) -> Replayed:
        """Each ``Created PATH`` line is checked as a file: the markdown summary gives the same
        Result line from its plan, the scaffolders' YAML from its runs and times."""
        lines = split_command_lines(command)
        logged_lines = self.masker.mask(entry.get("Result") or "").split("\n")
        if logged_lines[0].startswith("Failed"):
            first = self._created(lines[0].removeprefix("Created ").strip())
            if isinstance(first, str) and first.startswith(("file missing", "not replayable")):
                return item(REPRODUCED, "the log says writing it failed; it is not there", first)
            return item(CHANGED, "the summary exists now; the log says writing it failed")
        now: list[str] = []
        for line in lines:
            if not line.startswith("Created "):
                return item(NOT_REPLAYABLE, f"`{line}` is not a created file", commands=lines)
            found = self._created(line.removeprefix("Created ").strip())
            if isinstance(found, Refusal):
                return item(NOT_REPLAYABLE, found.reason, commands=lines)
            if found.startswith("file missing"):
                return item(CHANGED, found, "file missing", lines)
            now.append(self.masker.mask(found))
        logged = "\n".join(logged_lines)
        status = REPRODUCED if "\n".join(now) == logged else CHANGED
        return item(status, "the files are checked, not run", "\n".join(now), lines)

    def _created(self, written: str) -> str | Refusal:
        """What a created file's Result line is now (``file missing ...`` when it is gone)."""
        from .summary import GENERATED_MARKER, plan_result, summary_result

        target = self._where(written)
        if isinstance(target, Refusal):
            return target
        refusal = confine([target], self.roots, cwd=self.experiment_dir)
        if refusal is not None:
            return refusal
        text = _read_regular_file(target)
        if text is None:
            return f"file missing: {target} no longer exists"
        if target.endswith((".yaml", ".yml")):
            import yaml

            try:
                plan = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                return f"not YAML any more: {str(exc).splitlines()[0]}"
            return plan_result(plan) if isinstance(plan, dict) else "not a plan any more"
        return summary_result(text.partition(GENERATED_MARKER)[0])

    def _commands(self, entry: Entry, command: str, item: _Item) -> Replayed:
        lines = split_command_lines(command)
        cwd = self.experiment_dir
        cwd_written = entry.get("Working Directory")
        if cwd_written:
            where = self._where(cwd_written)
            refusal = (
                where
                if isinstance(where, Refusal)
                else confine([where], self.roots, cwd=self.experiment_dir)
            )
            if refusal is not None:
                return item(NOT_REPLAYABLE, f"Working Directory: {refusal.reason}", commands=lines)
            cwd = str(where)
        judged = [judge_command(line, self.paths, cwd=cwd, roots=self.roots) for line in lines]
        refused = [
            f"`{line}`: {verdict.reason}"
            for line, verdict in zip(lines, judged, strict=True)
            if not isinstance(verdict, ReadCommand)
        ]
        runnable = [v for v in judged if isinstance(v, ReadCommand)]
        if not runnable:
            return item(NOT_REPLAYABLE, "; ".join(refused), commands=lines)
        logged_lines = (entry.get("Result") or "").split("\n")
        if entry.action == "SEARCH_PRIOR_RUNS" and runnable[0].program != "designlog":
            from .probes.runs import describe_runs

            found: list[str] = []
            for read in runnable:
                outcome = self._run(read, cwd)
                if isinstance(outcome, str):
                    return item(
                        FAILED if outcome != self.budget_reason else NOT_REPLAYABLE,
                        outcome,
                        commands=lines,
                    )
                if outcome.timed_out or outcome.returncode is None:
                    return item(FAILED, outcome.error or "failed", commands=lines)
                found += [ln for ln in outcome.stdout.splitlines() if ln.strip()]
            logged = self.masker.mask(entry.get("Result") or "")
            now = self.masker.mask(describe_runs(found))
            return item(REPRODUCED if now == logged else CHANGED, "; ".join(refused), now, lines)
        pairs = (
            list(zip(runnable, logged_lines, strict=True))
            if len(logged_lines) == len(runnable) and not refused
            else [(c, "\n".join(logged_lines)) for c in runnable[:1]]
        )
        statuses: list[tuple[str, str, str]] = []
        for read, logged in pairs:
            outcome = self._run(read, cwd)
            if isinstance(outcome, str):
                status = NOT_REPLAYABLE if outcome == self.budget_reason else FAILED
                statuses.append((status, outcome, ""))
            elif outcome.timed_out or outcome.returncode is None:
                statuses.append((FAILED, outcome.error or "failed", ""))
            elif read.program == "designlog":
                now = self.masker.mask(_verb_result(outcome))
                statuses.append(_judge_verb(read.verb or "", self.masker.mask(logged), now))
            else:
                now = self.masker.mask(summarize(read.text, outcome))
                statuses.append(_judge_shell(read, self.masker.mask(logged), now))
        worst = next(
            (s for rank in (FAILED, CHANGED, NOT_REPLAYABLE) for s in statuses if s[0] == rank),
            statuses[0],
        )
        reason = "; ".join(filter(None, [worst[1], *refused]))
        now = "\n".join(s[2] for s in statuses)
        return item(worst[0], reason, now, lines)

    def _run(self, read: ReadCommand, cwd: str) -> CommandOutcome | str:
        """Run one judged command within its timeout and what is left of the budget; a string
        says why it did not finish (the budget)."""
        left = self.remaining()
        if left <= 0:
            return self.budget_reason
        limit = min(self.command_timeout, left)
        outcome = run_pipeline(read, timeout=limit, cwd=cwd)
        if outcome.timed_out and limit < self.command_timeout:
            self.spent = True
            return f"timed out after {outcome.seconds:.0f}s: {self.budget_reason}"
        return outcome


def _read_regular_file(path: str) -> str | None:
    """The text of a regular file (its first few megabytes), or ``None``: a FIFO or device in
    its place must not block or flood the replay."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            return None
        with os.fdopen(handle, "rb", closefd=False) as reader:
            data = reader.read(_MAX_SUMMARY_BYTES)
    finally:
        os.close(handle)
    return data.decode("utf-8", errors="replace")


def _verb_result(outcome: CommandOutcome) -> str:
    """The Result a ``designlog --result-only VERB`` run printed (all of it), or its one error
    line as the step would have said it."""
    if outcome.stdout.strip():
        return outcome.stdout.rstrip("\n")
    prefix = "designlog: error: "
    message = next((ln for ln in outcome.stderr.splitlines() if ln.startswith(prefix)), None)
    if message is not None:
        return f"Failed: {message.removeprefix(prefix)}"
    return f"Failed: {outcome.error or 'no result'}"


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
    if before is None or after is None:  # neither a verdict: the texts themselves
        return (REPRODUCED, "", now) if now == logged else (CHANGED, "cannot judge", now)
    if before == after:
        return REPRODUCED, "", now
    if before and not after:
        return CHANGED, "the free space fell below the need", now
    return CHANGED, "there is enough space now; the log says there was not", now


def _judge_shell(read: ReadCommand, logged: str, now: str) -> tuple[str, str, str]:
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
