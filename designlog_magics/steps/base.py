"""What every step shares: the context it may know of the session, and the outcome it returns.

A step takes typed keyword arguments and a :class:`StepContext`, asks the probes for facts and
words them as an entry. It returns a :class:`StepOutcome`: the entries to append, the value for
``-o VAR``, the facts for ``--json`` and for an agent's structured result, and plain notes and
command outputs. It never appends, displays, draws or touches IPython: the edges (magics, the
command line, the MCP server) do that, and only when they show something.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..entry import Entry, EntryError, new_entry
from ..exceptions import StepError
from ..expansion import Expanded, bind_paths, collapse_paths, expand
from ..spec import START_ACTION

HAND_WRITTEN = "written by hand"
WORKING_DIRECTORY = "Working Directory"


class Progress(Protocol):
    def update(self, detail: str) -> None: ...


class _Quiet:
    def update(self, detail: str) -> None:
        pass


@contextlib.contextmanager
def quiet_progress(label: str) -> Iterator[Progress]:
    """The progress of a step nobody watches (the command line, an agent)."""
    yield _Quiet()


@dataclass
class StepContext:
    """What a step may know of the session: path names, the user's variables, the log so far."""

    paths: Mapping[str, str] = field(default_factory=dict)  # experiment_dir included
    namespace: MutableMapping[str, Any] | None = None  # the user's variables (a notebook)
    entries: Callable[[], Sequence[Entry]] = lambda: ()
    experiment_dir: Path | None = None
    command_timeout: float = 120.0
    progress: Callable[[str], contextlib.AbstractContextManager[Progress]] = quiet_progress

    def expand(self, text: str) -> Expanded:
        return expand(text, self.namespace, self.paths)

    def run_path(self, written: str) -> str:
        """A path argument as the machine sees it (placeholders and ``~`` expanded)."""
        return os.path.expanduser(bind_paths(written, self.paths))

    def log_path(self, run_path: str) -> str:
        """A path as the log keeps it: absolute, and under a bound directory a placeholder."""
        return collapse_paths(os.path.abspath(run_path), self.paths)

    def require_dir(self) -> Path:
        if self.experiment_dir is None:
            raise StepError("no design log yet: start one with an experiment directory")
        return self.experiment_dir


@dataclass(frozen=True)
class Plot:
    """Facts an edge may draw when it shows the outcome (``kind`` names the drawing)."""

    kind: str
    data: Any


@dataclass
class StepOutcome:
    """A step's result: entries to append (none: nothing to log), values and plain facts."""

    entries: list[Entry] = field(default_factory=list)
    value: Any = None  # what ``-o VAR`` receives
    data: Any = None  # what ``--json`` prints and an agent receives
    notes: list[str] = field(default_factory=list)
    outputs: list[tuple[str, str, str]] = field(default_factory=list)  # (command, out, err)
    plot: Plot | None = None

    @property
    def entry(self) -> Entry | None:
        """The entry to append (the first, for steps that write several)."""
        return self.entries[0] if self.entries else None

    @property
    def result(self) -> str:
        return (self.entry.get("Result") if self.entry else None) or ""


def outcome(entry: Entry | None, **facts: Any) -> StepOutcome:
    """A :class:`StepOutcome` of at most one entry."""
    return StepOutcome([entry] if entry is not None else [], **facts)


def make_entry(action: str, brief: str, fields: Any = None, **keywords: Any) -> Entry:
    """:func:`new_entry`, its refusals as a step's one-line error. START_DESIGN is the start
    step's alone (it binds the path names a later resume reads): no other step writes one."""
    if action.upper() == START_ACTION:
        raise StepError("START_DESIGN is written by start, which binds the path names")
    try:
        return new_entry(action, brief, fields, **keywords)
    except EntryError as exc:
        raise StepError(str(exc)) from None


def facts_of(value: Any) -> Any:
    """A dataclass as a JSON-ready dict (anything else as it is)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value
