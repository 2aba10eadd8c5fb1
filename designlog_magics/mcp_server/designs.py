"""The designs one server writes: a session (the log and its path names) per experiment directory.

Why: ``start`` opens or resumes a design, and any other tool resumes a directory whose log on disk
has a ``START_DESIGN``, as the magics do. A call runs its step in a confined context and appends
what the step logs with the session's locked append; every failure is one error line
(``isError``), the log left as it was, and nothing reaches the client as a traceback.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any

from ..display import result_text
from ..entry import Entry
from ..exceptions import DesignLogError
from ..masking import SecretMasker, default_masker
from ..probes.slurm.jobids import names_one_job
from ..replay import plan_roots
from ..session import DesignSession, bindings_from_words, last_bindings
from ..steps import StepOutcome, Verb
from ..store import DesignLog, find_log_file
from ..textformat import render, visible_text
from .confinement import MAX_ITEMS, ConfinedContext, ToolError, check_text, quoted
from .tools import EXPERIMENT_DIR, Reply, ToolSpec, say, tool_specs

MAX_ERROR = 500  # characters of a tool error's line


class Designs:
    """The sessions of this server, one per experiment directory, and the tool calls on them."""

    def __init__(self, masker: SecretMasker | None = None) -> None:
        self.masker = masker or default_masker()
        self.sessions: dict[str, DesignSession] = {}
        self.specs = tool_specs()

    # -- a call -------------------------------------------------------------------------
    def call(self, name: str, arguments: Mapping[str, Any] | None) -> Reply:
        """Run one tool call; every failure is one error line, and nothing is appended."""
        from pydantic import ValidationError

        try:
            spec = self.specs.get(name)
            if spec is None:
                raise ToolError(f"no tool {name!r}; tools: {', '.join(sorted(self.specs))}")
            return spec.run(self, self.validated(spec, arguments or {}))
        except ValidationError as exc:
            return self.failure(name, "bad arguments: " + _validation_text(exc))
        except DesignLogError as exc:
            return self.failure(name, _first_line(str(exc)) or type(exc).__name__)
        except OSError as exc:
            if exc.filename is not None and exc.strerror:
                return self.failure(name, f"{exc.filename}: {exc.strerror}")
            return self.failure(name, _first_line(str(exc)) or type(exc).__name__)
        except Exception as exc:
            if os.environ.get("DESIGNLOG_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            message = f"unexpected {type(exc).__name__}: {_first_line(str(exc))}".rstrip(": ")
            say(self.masker.mask(f"{name}: {message}"))
            return self.failure(name, message)

    def validated(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments by parameter name, typed, and their text checked."""
        model = spec.model.model_validate(dict(arguments))
        values: dict[str, Any] = {}
        for number, parameter in enumerate(spec.parameters):
            value = getattr(model, f"p{number}")
            if isinstance(value, str):
                value = check_text(parameter.name, value, parameter.kind)
            elif isinstance(value, list | tuple):
                if len(value) > MAX_ITEMS:
                    raise ToolError(f"{parameter.name}: more than {MAX_ITEMS:,} items")
                value = [
                    check_text(f"{parameter.name}[{i}]", item, parameter.kind)
                    if isinstance(item, str)
                    else item
                    for i, item in enumerate(value)
                ]
            values[parameter.name] = value
        return values

    def failure(self, name: str, message: str) -> Reply:
        line = visible_text(" ".join(self.masker.mask(message).split()))
        if len(line) > MAX_ERROR:
            line = line[: MAX_ERROR - 3] + "..."
        return Reply(f"{name}: {line}", None, error=True)

    # -- sessions -----------------------------------------------------------------------
    def directory(self, text: str) -> str:
        """An experiment directory argument: absolute (``~`` expanded), normalised."""
        path = os.path.expanduser(text)
        if not os.path.isabs(path):
            raise ToolError(f"{EXPERIMENT_DIR} must be an absolute path, not {quoted(text)}")
        path = os.path.abspath(path)
        if os.path.realpath(path) == "/":
            raise ToolError(f"{EXPERIMENT_DIR} cannot be the filesystem root")
        return path

    def session(self, experiment_dir: str) -> DesignSession:
        """The session of a directory: this server's, or resumed from its log's START_DESIGN."""
        directory = self.directory(experiment_dir)
        key = os.path.realpath(directory)
        if key in self.sessions:
            return self.sessions[key]
        if not find_log_file(Path(directory)).is_file():
            raise ToolError(
                f"no design log in {directory}: call start with this {EXPERIMENT_DIR} first"
            )
        log = DesignLog(directory, masker=self.masker)
        bindings = last_bindings(log.entries)
        if bindings is None:
            raise ToolError(f"{log.path} has no START_DESIGN entry: call start first")
        session = DesignSession(log, {k: v for k, v in bindings.items() if k != EXPERIMENT_DIR})
        self.sessions[key] = session
        return session

    def context(self, session: DesignSession | None) -> ConfinedContext:
        """What a step may know: the session's path names and log; no user variables."""
        if session is None:
            return ConfinedContext()
        paths = session.all_paths()
        log = session.log
        # the roots as replay takes them: a binding (from the log or the agent) that is /, the
        # home directory or above it is no root, so no tool reads ~/.ssh or /etc through it
        roots, _ = plan_roots(paths, trusted={})
        return ConfinedContext(
            paths=paths,
            entries=lambda: log.entries,
            experiment_dir=session.experiment_dir,
            roots=tuple(roots),
        )

    # -- the steps ----------------------------------------------------------------------
    def run_verb(self, row: Verb, arguments: dict[str, Any]) -> Reply:
        """Call the verb's step; append what it logs (START_DESIGN only from start)."""
        if row.name == "start":
            return self.start(row, arguments)
        spec = self.specs[row.name]
        keywords = {p.keyword: arguments[p.name] for p in spec.parameters if p.keyword}
        session = None
        for parameter in spec.parameters:
            if parameter.name == EXPERIMENT_DIR:
                session = self.session(arguments[EXPERIMENT_DIR])
                if parameter.keyword:  # the step names its log's directory itself
                    keywords[parameter.keyword] = str(session.experiment_dir)
        ctx = self.context(session)
        self.confine(spec, keywords, ctx)
        outcome = row.call(ctx, keywords)
        entries = list(outcome.entries) if row.logs else []
        written: list[Entry] = []
        if entries:
            if session is None:  # a logging row always has its experiment_dir
                raise ToolError(f"{row.name} needs an {EXPERIMENT_DIR}")
            written = session.log.append_many(entries)
        return self.step_reply(outcome, written, session)

    def start(self, row: Verb, arguments: dict[str, Any]) -> Reply:
        """Open (or resume) a design: the same START_DESIGN as ``%designlog start``."""
        directory = self.directory(arguments[EXPERIMENT_DIR])
        words = arguments.get("paths")
        bound = bindings_from_words(list(words)) if words is not None else {}
        _, refused = plan_roots({**bound, EXPERIMENT_DIR: directory}, trusted={})
        if refused:
            raise ToolError(f"a design may not read there: {'; '.join(refused)}")
        log = DesignLog(directory, masker=self.masker)
        ctx = ConfinedContext(
            paths={EXPERIMENT_DIR: str(log.experiment_dir)},
            entries=lambda: log.entries,
            experiment_dir=log.experiment_dir,
        )
        outcome = row.call(ctx, {**arguments, "directory": directory})
        session = DesignSession(log, dict(outcome.value))
        written = [log.append(outcome.entry)] if outcome.entry else []
        self.sessions[os.path.realpath(directory)] = session
        return self.step_reply(outcome, written, session)

    def confine(self, spec: ToolSpec, keywords: dict[str, Any], ctx: ConfinedContext) -> None:
        """Check every argument that names what the step reads before the step runs (the step
        resolves it through ``ctx.run_path`` again); a SLURM job id stands for its output."""
        for parameter in spec.parameters:
            keyword = parameter.keyword
            value = keywords.get(keyword) if keyword else None
            if keyword is None or not parameter.path or value is None:
                continue
            if parameter.job and isinstance(value, str) and names_one_job(value):
                from ..probes import slurm

                value = keywords[keyword] = os.path.abspath(slurm.resolve_output(value))
            for written in [value] if isinstance(value, str) else list(value):
                ctx.run_path(written)

    # -- replies ------------------------------------------------------------------------
    def step_reply(
        self, outcome: StepOutcome, written: Sequence[Entry], session: DesignSession | None
    ) -> Reply:
        """The entry appended (as structured content) and its Result (as text)."""
        if written:
            text = result_text(written).rstrip("\n")
        elif isinstance(outcome.value, list) and all(isinstance(e, Entry) for e in outcome.value):
            shown = [self.masker.mask_entry(e) for e in outcome.value]
            text = "".join(render(e) for e in shown) or "no entries\n"
        else:
            text = "\n".join(outcome.notes)
        data = {
            "entry": written[0].as_dict() if written else None,
            "entries": [entry.as_dict() for entry in written],
            "result": (written[0].get("Result") or "") if written else "",
            "failed": any(entry.failed for entry in written),
            "facts": plain(outcome.data, self.masker),
            "notes": [self.masker.mask(note) for note in outcome.notes],
            "log": str(session.log.path) if session is not None else None,
        }
        return Reply(visible_text(self.masker.mask(text)), data)

    def reader_reply(self, text: str, facts: Any, session: DesignSession) -> Reply:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        data = {
            "entry": None,
            "entries": [],
            "result": self.masker.mask(first),
            "failed": False,
            "facts": plain(facts, self.masker),
            "notes": [],
            "log": str(session.log.path),
        }
        return Reply(visible_text(self.masker.mask(text)), data)


def plain(value: Any, masker: SecretMasker, depth: int = 0) -> Any:
    """Facts as JSON values: dataclasses as objects, paths and times as text, secrets masked,
    a number that is not finite as null."""
    if depth > 40:
        return None
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, Entry):
        return masker.mask_entry(value).as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v, masker, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item, masker, depth + 1) for item in value]
    if isinstance(value, PurePath | datetime | date):
        return masker.mask(str(value))
    return masker.mask(str(value))


def _validation_text(exc: Any) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error.get("loc", ())) or "arguments"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(dict.fromkeys(parts))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
