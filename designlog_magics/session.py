"""A design session: the log being written and the path names bound for it.

Path names (``models_dir``, ``scratch_dir``, ...) let a notebook write ``{models_dir}/Llama``; the
log keeps the placeholder (portable) and records the bindings once in a ``START_DESIGN`` entry
(reproducible). ``experiment_dir`` is always bound to the experiment directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .entry import Entry, new_entry
from .expansion import Expanded, bind_paths, collapse_paths, expand
from .spec import START_ACTION
from .store import DesignLog


def parse_bindings(text: str) -> dict[str, str]:
    """``models_dir=/m`` lines (as in a START_DESIGN ``Paths:`` field) to a mapping."""
    bindings = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip().isidentifier():
            bindings[name.strip()] = value.strip()
    return bindings


def bindings_from_words(words: list[str]) -> dict[str, str]:
    """``NAME=DIR`` words (``--paths``) to a mapping of absolute directories."""
    from .exceptions import StepError

    paths: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not sep or not name.isidentifier() or not value:
            raise StepError(f"--paths takes NAME=DIR, not {word!r}")
        paths[name] = os.path.abspath(os.path.expanduser(value))
    return paths


def format_bindings(paths: Mapping[str, str]) -> str:
    return "\n".join(f"{name}={value}" for name, value in paths.items())


@dataclass
class DesignSession:
    """The log and the path names of one design."""

    log: DesignLog
    paths: dict[str, str] = field(default_factory=dict)

    @property
    def experiment_dir(self) -> Path:
        return self.log.experiment_dir

    def all_paths(self) -> dict[str, str]:
        return {**self.paths, "experiment_dir": str(self.experiment_dir)}

    def expand(self, text: str, namespace: Mapping[str, Any] | None = None) -> Expanded:
        return expand(text, namespace, self.all_paths())

    def run_path(self, written: str) -> str:
        """A path argument as the machine sees it (placeholders and ``~`` expanded)."""
        return os.path.expanduser(bind_paths(written, self.all_paths()))

    def log_path(self, written: str) -> str:
        """A path argument as the log keeps it (under a bound directory: a placeholder)."""
        return collapse_paths(written, self.all_paths())


def last_bindings(entries: list[Entry]) -> dict[str, str] | None:
    """The path names recorded by the latest START_DESIGN entry, if any."""
    for entry in reversed(entries):
        if entry.action == START_ACTION:
            return parse_bindings(entry.get("Paths") or "")
    return None


def start_entry(experiment_dir: Path, paths: Mapping[str, str], resumed: int) -> Entry:
    brief = (
        "Experiment design started"
        if not resumed
        else (f"Experiment design resumed ({resumed} entries already logged)")
    )
    return new_entry(
        START_ACTION,
        brief,
        directory=str(experiment_dir),
        paths=format_bindings(paths) if paths else "(none)",
    )
