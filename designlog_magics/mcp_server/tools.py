"""The tools: one per row of the verb table, plus the readers ``replay`` and ``audit``.

Why: a row added to the table later is a tool with no change here. A tool's input schema is made
from its step's signature (the keyword parameters with their resolved annotations, less ``ctx``
and the row's ``notebook_only`` keywords: a notebook's own code never comes from an agent),
described by the row's summary and its grammar's help, and validated strictly (no unknown keys).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from ..masking import SecretMasker
from ..session import DesignSession
from ..steps import Verb, verbs
from ..store import LOG_FILENAME
from ..textformat import visible_text
from .confinement import ToolError

if TYPE_CHECKING:
    from pydantic import BaseModel

SERVER_NAME = "designlog"
EXPERIMENT_DIR = "experiment_dir"
REPLAY_SECONDS = 300.0  # the whole replay, unless the call says otherwise
REPLAY_MAX_SECONDS = 600.0


class Sessions(Protocol):
    """What a tool runs against: the server's designs (:class:`.designs.Designs`)."""

    masker: SecretMasker

    def session(self, experiment_dir: str) -> DesignSession: ...

    def run_verb(self, row: Verb, arguments: dict[str, Any]) -> Reply: ...

    def reader_reply(self, text: str, facts: Any, session: DesignSession) -> Reply: ...


def say(message: str) -> None:
    """One line on standard error (standard output is the protocol's)."""
    sys.stderr.write(f"{SERVER_NAME} mcp: {visible_text(message)}\n")
    sys.stderr.flush()


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
    run: Callable[[Sessions, dict[str, Any]], Reply]

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
            say(f"no tool for the verb {row.name!r}: {type(exc).__name__}: {exc}")
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


def _run_replay(designs: Sessions, arguments: dict[str, Any]) -> Reply:
    from ..replay import replay_log

    session = designs.session(arguments[EXPERIMENT_DIR])
    timeout = arguments["timeout"]
    if not 0 < timeout <= REPLAY_MAX_SECONDS:
        raise ToolError(f"timeout must be more than 0 and at most {REPLAY_MAX_SECONDS:.0f} s")
    report = replay_log(session.log.path, timeout=timeout, masker=designs.masker)
    text = report.render()
    return designs.reader_reply(text, report.as_dict(), session)


def _run_audit(designs: Sessions, arguments: dict[str, Any]) -> Reply:
    from ..audit import audit_path

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
