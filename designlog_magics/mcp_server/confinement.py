"""What a tool call may give: one line where the log keeps a line, and paths inside the design.

Why: a notebook cell is the user's own code, an agent's tool call is not. Its text must not forge
a line of the log, and every path a step resolves (``{names}`` and ``~`` expanded, symbolic links
resolved) must lie inside the experiment directory or a directory bound at ``start``. Braces are
never evaluated as Python: only bound path names expand. A refusal is a :class:`ToolError`
raised before anything is written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..exceptions import DesignLogError
from ..expansion import bind_paths
from ..steps import StepContext

MAX_LINE = 10_000  # characters of a one-line argument
MAX_DOCUMENT = 1_000_000  # characters of a multi-line one (the plan's markdown)
MAX_ITEMS = 1_000  # items of a list argument

_BRACE_RE = re.compile(r"\{([^{}\n]*)\}")
_NOT_ONE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NOT_DOCUMENT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


class ToolError(DesignLogError):
    """A tool call refused before anything was written: bad arguments, a path outside the
    design, text that would break the log's lines."""


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
                    f"{match.group()} in {quoted(written)} is not a bound path name "
                    f"(bound: {names})"
                )
        path = os.path.expanduser(bind_paths(written, self.paths))
        if not path:
            raise ToolError("an empty path")
        real = os.path.realpath(os.path.abspath(path))
        if not any(_inside(real, root) for root in self.roots):
            raise ToolError(
                f"{quoted(written)} is outside the experiment directory and the paths bound "
                f"at start ({', '.join('{' + name + '}' for name in self.paths) or 'none'})"
            )
        return path


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def quoted(text: str) -> str:
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
