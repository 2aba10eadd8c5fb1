"""``designlog mcp``: every design step as a Model Context Protocol tool, served over stdio.

Why: an agent that follows the specification's prose writes the log by hand, and the format
drifts. Here it calls the very steps the magics and the ``designlog`` verbs call, with typed
arguments, and the server appends the entry a notebook would append for the same arguments
(same wording, same masking, same locked append), so the log is right by construction.

* One tool per row of the verb table (:func:`designlog_magics.steps.verbs`; a row added later is
  a tool with no change here), plus the readers ``replay`` and ``audit``. A tool's input schema
  is made from its step's signature: the keyword parameters with their resolved annotations,
  less ``ctx`` and the row's ``notebook_only`` keywords (a notebook's own code never comes from
  an agent), described by the row's summary and its grammar's help. Arguments are validated
  against it (strict types, no unknown keys) before the step runs.
* A session (the log and its path names) per experiment directory: ``start`` opens or resumes
  one; any other tool resumes a directory whose log on disk has a ``START_DESIGN``.
* Confinement: the log and the summary are written only in the experiment directory ``start``
  opened, and every path argument (the row's ``paths``, checked before the step runs, and
  whatever the step resolves through ``ctx.run_path``: verify's target, search's root, speed's
  source or the output of the SLURM job it names, disk's path, ...) must lie, once ``{names}``
  and ``~`` are expanded and symbolic links resolved, inside the experiment directory or a
  directory bound at ``start``. Braces are never evaluated as Python: only bound path names
  expand. Only ``start`` writes START_DESIGN (the bindings a later resume reads).
* Every refusal (bad arguments, a path outside, text that would forge a line, a calculation
  that is not plain arithmetic, a step's own error) is a tool error (``isError``) of one line,
  and the log is left as it was. Nothing reaches the client as a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import os
import re
import sys
import traceback
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from .display import result_text
from .entry import Entry
from .exceptions import DesignLogError
from .expansion import bind_paths
from .masking import SecretMasker, default_masker
from .probes.slurm.jobids import names_one_job
from .replay import plan_roots
from .session import DesignSession, bindings_from_words, last_bindings
from .steps import StepContext, StepOutcome, Verb, verbs
from .store import LOG_FILENAME, DesignLog, find_log_file
from .textformat import render, visible_text
from .version import __version__

if TYPE_CHECKING:
    from mcp.server import Server
    from pydantic import BaseModel

SERVER_NAME = "designlog"
SDK_MAJOR = 2  # the lowlevel Server with on_list_tools / on_call_tool handlers
INSTALL_HINT = "pip install 'designlog-magics[agents]'"
EXPERIMENT_DIR = "experiment_dir"
MAX_LINE = 10_000  # characters of a one-line argument
MAX_DOCUMENT = 1_000_000  # characters of a multi-line one (the plan's markdown)
MAX_ITEMS = 1_000  # items of a list argument
MAX_ERROR = 500  # characters of a tool error's line
REPLAY_SECONDS = 300.0  # the whole replay, unless the call says otherwise
REPLAY_MAX_SECONDS = 600.0

_BRACE_RE = re.compile(r"\{([^{}\n]*)\}")
_NOT_ONE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NOT_DOCUMENT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

INSTRUCTIONS = (
    "Plan an LLM fine-tuning experiment step by step. Each step appends one entry to "
    "{experiment_dir}/design-experiment.log, worded as the designlog notebook magics word it. "
    "Call start first, with an absolute experiment_dir and paths NAME=DIR for the directories "
    "the steps read (models, repository, scratch space). Every path argument must lie inside "
    "the experiment directory or one of those directories, and may be written {NAME}/...; "
    "the log keeps the placeholder. Then: decide (the name), verify MODEL and DATASET, search "
    "(like the plan), speed of the best prior run, calculate the time (estimate, limit), "
    "calculate the disk, disk (need), decide the recipe, summary (the plan in markdown), "
    "complete. audit checks the log as an auditor would; replay re-runs its read-only commands."
)

_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "timestamp": {"type": "string"},
        "action": {"type": "string"},
        "brief": {"type": "string"},
        "fields": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
        },
    },
    "required": ["timestamp", "action", "brief", "fields"],
}
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "entry": {"anyOf": [_ENTRY_SCHEMA, {"type": "null"}]},
        "entries": {"type": "array", "items": _ENTRY_SCHEMA},
        "result": {"type": "string"},
        "failed": {"type": "boolean"},
        "facts": {},
        "notes": {"type": "array", "items": {"type": "string"}},
        "log": {"type": ["string", "null"]},
    },
    "required": ["entry", "entries", "result", "failed", "facts", "notes", "log"],
}


class ToolError(DesignLogError):
    """A tool call refused before anything was written: bad arguments, a path outside the
    design, text that would break the log's lines."""


class SDKMissing(DesignLogError):
    """The ``mcp`` SDK (the ``agents`` extra) is not installed, or is too old."""


# -- the tools ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    """One argument of a tool: its name, the step's keyword it fills, its type and help."""

    name: str
    keyword: str | None  # None: the tool's own (experiment_dir), not passed to the step
    annotation: Any
    default: Any = inspect.Parameter.empty
    description: str = ""
    kind: str = "line"  # "line": one line | "document": several lines | "template"
    path: bool = False  # it names what the step reads (the row's ``paths``): confined
    job: bool = False  # a SLURM job id may stand for the file (the grammar says JOBID)

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclass(frozen=True)
class ToolSpec:
    """A tool: the arguments it takes and what it runs with them."""

    name: str
    description: str
    parameters: tuple[Parameter, ...]
    read_only: bool
    run: Callable[[Designs, dict[str, Any]], Reply]

    @cached_property
    def model(self) -> type[BaseModel]:
        """The pydantic model of the arguments: strict types, unknown keys refused."""
        return _build_model(self)

    def input_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments (``type: object``, no other keys allowed)."""
        schema = self.model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return schema


@dataclass
class Reply:
    """What a tool call returns: text for a reader, facts for a program, or one error line."""

    text: str
    data: dict[str, Any] | None = None
    error: bool = False


def _build_model(spec: ToolSpec) -> type[BaseModel]:
    from pydantic import ConfigDict, Field, create_model

    fields: dict[str, Any] = {}
    for number, parameter in enumerate(spec.parameters):
        default = ... if parameter.required else parameter.default
        if isinstance(default, tuple):
            default = list(default)
        fields[f"p{number}"] = (
            parameter.annotation,
            Field(default, alias=parameter.name, description=parameter.description or None),
        )
    model: type[BaseModel] = create_model(
        f"{spec.name}_arguments",
        __config__=ConfigDict(extra="forbid", strict=True, populate_by_name=False),
        **fields,
    )
    return model


def tool_specs() -> dict[str, ToolSpec]:
    """Every tool: one per verb of the table, then the readers the table does not have."""
    specs: dict[str, ToolSpec] = {}
    for row in verbs().values():
        try:
            spec = verb_spec(row)
            spec.input_schema()
        except Exception as exc:  # a row whose signature no schema can express: say so, go on
            _stderr(f"no tool for the verb {row.name!r}: {type(exc).__name__}: {exc}")
            continue
        specs[row.name] = spec
    for spec in READERS:
        specs.setdefault(spec.name, spec)
    return specs


def verb_spec(row: Verb) -> ToolSpec:
    """The tool of a verb: its step's parameters (less ``ctx`` and what only a notebook may
    give), typed by its annotations and described by its grammar."""
    hints = typing.get_type_hints(row.run)
    actions = grammar_actions(row)
    own = inspect.signature(row.run).parameters
    parameters: list[Parameter] = []
    # the step's own keyword for its log's directory, if it has one (start's ``directory``)
    log_keyword = row.log_argument or (EXPERIMENT_DIR if EXPERIMENT_DIR in own else None)
    if row.logs or row.needs_log or log_keyword:
        what = "the experiment directory" if log_keyword else "the design whose log it uses"
        parameters.append(_experiment_dir_parameter(log_keyword, what, log_keyword in row.paths))
    for name, parameter in own.items():
        if name in ("ctx", log_keyword) or name in row.notebook_only:
            continue
        if parameter.kind not in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            continue
        action = actions.get(name)
        metavar = action.metavar if action is not None and isinstance(action.metavar, str) else ""
        kind = "line"
        if name == row.cell:
            kind = "document"
        elif metavar == "TEMPLATE":
            kind = "template"
        parameters.append(
            Parameter(
                name,
                name,
                hints.get(name, Any),
                parameter.default,
                describe_action(action),
                kind,
                path=name in row.paths,
                job=name in row.paths and "JOBID" in metavar,
            )
        )
    description = row.summary
    if row.logs:
        description += f" Appends the entry to {{experiment_dir}}/{LOG_FILENAME}."
    return ToolSpec(
        row.name,
        description,
        tuple(parameters),
        read_only=not row.logs,
        run=lambda designs, arguments: designs.run_verb(row, arguments),
    )


def _experiment_dir_parameter(keyword: str | None, what: str, path: bool = False) -> Parameter:
    return Parameter(
        EXPERIMENT_DIR,
        keyword,
        str,
        description=f"EXPERIMENT_DIR: {what}, an absolute path (start opens it; the others "
        "resume it)",
        path=path,
    )


def grammar_actions(row: Verb) -> dict[str, argparse.Action]:
    """The row's grammar, by destination (the step's keywords)."""
    parser = argparse.ArgumentParser(prog=row.name, add_help=False)
    row.grammar(parser)
    return {action.dest: action for action in parser._actions}


def describe_action(action: argparse.Action | None) -> str:
    """``METAVAR: help`` of a grammar's argument (what ``--help`` says of it)."""
    if action is None:
        return ""
    text = action.help if isinstance(action.help, str) and action.help != argparse.SUPPRESS else ""
    if "%(" in text:
        try:
            text = text % {**vars(action), "prog": ""}
        except (KeyError, TypeError, ValueError):
            pass
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    return ": ".join(part for part in (metavar, text) if part)


# -- the readers beside the steps ------------------------------------------------------------
def _run_replay(designs: Designs, arguments: dict[str, Any]) -> Reply:
    from .replay import replay_log

    session = designs.session(arguments[EXPERIMENT_DIR])
    timeout = arguments["timeout"]
    if not 0 < timeout <= REPLAY_MAX_SECONDS:
        raise ToolError(f"timeout must be more than 0 and at most {REPLAY_MAX_SECONDS:.0f} s")
    report = replay_log(session.log.path, timeout=timeout, masker=designs.masker)
    text = report.render()
    return designs.reader_reply(text, report.as_dict(), session)


def _run_audit(designs: Designs, arguments: dict[str, Any]) -> Reply:
    from .audit import audit_path

    session = designs.session(arguments[EXPERIMENT_DIR])
    report = audit_path(session.log.path)
    return designs.reader_reply(report.render(), report.as_dict(), session)


READERS = (
    ToolSpec(
        "replay",
        "Re-run the read-only Commands of the design log and say whether each Result still "
        "stands (only the package's read verbs and ls, du, df, stat, wc, head, find, grep, "
        "without a shell, inside the bound directories). Appends nothing.",
        (
            _experiment_dir_parameter(None, "the design whose log is replayed"),
            Parameter(
                "timeout",
                "timeout",
                float,
                REPLAY_SECONDS,
                f"SECONDS: the whole replay's budget (at most {REPLAY_MAX_SECONDS:.0f})",
            ),
        ),
        read_only=True,
        run=_run_replay,
    ),
    ToolSpec(
        "audit",
        "Check the design log as an auditor would: entries well-formed, every required step "
        "before COMPLETE, failures settled, calculations recomputed, timestamps in order. "
        "Appends nothing.",
        (_experiment_dir_parameter(None, "the design whose log is audited"),),
        read_only=True,
        run=_run_audit,
    ),
)


# -- confinement ----------------------------------------------------------------------------
@dataclass
class ConfinedContext(StepContext):
    """A step's context for an agent: path names expand (nothing else is evaluated), and every
    path a step resolves must lie under one of ``roots``."""

    roots: tuple[str, ...] = ()

    def run_path(self, written: str) -> str:
        """The path as the step will use it, once it is known to lie inside the design."""
        for match in _BRACE_RE.finditer(written):
            if match.group(1).strip() not in self.paths:
                names = ", ".join("{" + name + "}" for name in self.paths) or "none"
                raise ToolError(
                    f"{match.group()} in {_quoted(written)} is not a bound path name "
                    f"(bound: {names})"
                )
        path = os.path.expanduser(bind_paths(written, self.paths))
        if not path:
            raise ToolError("an empty path")
        real = os.path.realpath(os.path.abspath(path))
        if not any(_inside(real, root) for root in self.roots):
            raise ToolError(
                f"{_quoted(written)} is outside the experiment directory and the paths bound "
                f"at start ({', '.join('{' + name + '}' for name in self.paths) or 'none'})"
            )
        return path


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _quoted(text: str) -> str:
    return repr(text[:200] + ("..." if len(text) > 200 else ""))


def check_text(name: str, value: str, kind: str) -> str:
    """Refuse text that would break the log's lines (a newline in a one-line value, control
    characters), or a result template that is more than names and short formats."""
    if kind == "document":
        value = value.replace("\r\n", "\n")
        if len(value) > MAX_DOCUMENT:
            raise ToolError(f"{name}: longer than {MAX_DOCUMENT:,} characters")
        bad = _NOT_DOCUMENT.search(value)
    else:
        if len(value) > MAX_LINE:
            raise ToolError(f"{name}: longer than {MAX_LINE:,} characters")
        bad = _NOT_ONE_LINE.search(value)
    if bad is not None:
        what = "a line break" if bad.group() in "\n\r\u2028\u2029" else "a control character"
        raise ToolError(
            f"{name}: {what} ({bad.group()!r}) is not allowed here; give one line of text"
            if kind != "document"
            else f"{name}: a control character ({bad.group()!r}) is not allowed"
        )
    return value  # a result template's fields are judged by the step (expansion.format_names)


# -- the designs this server writes ---------------------------------------------------------
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
            _stderr(self.masker.mask(f"{name}: {message}"))
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
            raise ToolError(f"{EXPERIMENT_DIR} must be an absolute path, not {_quoted(text)}")
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
                from .probes import slurm

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


def _stderr(message: str) -> None:
    sys.stderr.write(f"{SERVER_NAME} mcp: {visible_text(message)}\n")
    sys.stderr.flush()


# -- the server -----------------------------------------------------------------------------
def require_sdk() -> None:
    """Refuse in one line when the ``agents`` extra is missing or the SDK is too old."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mcp")
    except PackageNotFoundError:
        raise SDKMissing(f"designlog mcp needs the MCP SDK: {INSTALL_HINT}") from None
    major = re.match(r"\d+", found)
    if major is None or int(major.group()) < SDK_MAJOR:
        raise SDKMissing(
            f"designlog mcp needs the MCP SDK {SDK_MAJOR}.0 or later (found {found}): "
            f"{INSTALL_HINT}"
        )
    try:
        import mcp.server  # noqa: F401
        import mcp.server.stdio  # noqa: F401
        import pydantic  # noqa: F401
    except ImportError as exc:
        raise SDKMissing(
            f"designlog mcp needs the MCP SDK ({exc.name or 'mcp'} cannot be imported): "
            f"{INSTALL_HINT}"
        ) from None


def build_server(designs: Designs) -> Server[Any]:
    """The MCP server: ``tools/list`` from the specs, ``tools/call`` one call at a time (a
    step runs in a worker thread, so the connection keeps answering)."""
    import anyio
    import anyio.to_thread
    from mcp import types
    from mcp.server import Server

    tools = [
        types.Tool(
            name=spec.name,
            description=spec.description,
            input_schema=spec.input_schema(),
            output_schema=OUTPUT_SCHEMA,
            annotations=types.ToolAnnotations(
                read_only_hint=spec.read_only,
                destructive_hint=False,
                idempotent_hint=spec.read_only,
                open_world_hint=False,
            ),
        )
        for spec in designs.specs.values()
    ]
    one_at_a_time = anyio.Lock()

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        async with one_at_a_time:
            reply = await anyio.to_thread.run_sync(
                designs.call, params.name, dict(params.arguments or {})
            )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=reply.text)],
            structured_content=reply.data,
            is_error=reply.error,
        )

    server: Server[Any] = Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    return server


async def _serve_stdio(designs: Designs) -> None:
    from mcp.server.stdio import stdio_server

    server = build_server(designs)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def serve(masker: SecretMasker | None = None) -> int:
    """Serve the tools over stdin/stdout until the client closes the connection."""
    require_sdk()
    import anyio

    designs = Designs(masker)
    anyio.run(_serve_stdio, designs)
    return 0


__all__ = [
    "OUTPUT_SCHEMA",
    "ConfinedContext",
    "Designs",
    "Parameter",
    "Reply",
    "SDKMissing",
    "ToolError",
    "ToolSpec",
    "build_server",
    "check_text",
    "require_sdk",
    "serve",
    "tool_specs",
    "verb_spec",
]
