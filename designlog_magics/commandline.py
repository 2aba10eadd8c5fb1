"""Writing the log's ``Command:`` lines: shell words with ``{path_name}`` placeholders kept.

A ``Command:`` is what was run, or a command that reproduces the ``Result:`` exactly. Figures the
package computes itself are logged as the ``designlog`` verb that computes them; paths are
written with the session's placeholders (``{scratch_dir}/ck-out-x/slurm-1.out``) and the rest of
each word quoted as a POSIX shell needs it, so the line can be run once the names are bound.
"""

from __future__ import annotations

import re
import shlex

PROGRAM = "designlog"
_PLACEHOLDER_RE = re.compile(r"(\{[A-Za-z_][A-Za-z0-9_]*\})")


def quote_path(written: str) -> str:
    """A path as one shell word: placeholders as written, each other part quoted if needed.

    A path a command would read as an option (``-x``) is written ``./-x``.
    """
    if written.startswith("-") or written in ("(", ")", "!", ","):
        written = "./" + written
    if not written:
        return shlex.quote(written)
    pieces = _PLACEHOLDER_RE.split(written)  # odd indexes: placeholders
    return "".join(
        piece
        if index % 2
        else "/".join(shlex.quote(part) if part else "" for part in piece.split("/"))
        for index, piece in enumerate(pieces)
    )


def verb_command(verb: str, *words: str) -> str:
    """``designlog VERB WORD ...``: words are already quoted (paths via :func:`quote_path`)."""
    return " ".join((PROGRAM, verb, *words))


def option(name: str, value: object) -> str:
    """``--name VALUE`` with the value quoted for the shell."""
    return f"{name} {shlex.quote(str(value))}"
