"""Expanding magic lines and cell commands: path names first, then ``$var`` and ``{expr}``.

IPython's own expansion gives up on the whole line when one brace fails (so ``awk '{print $1}'``
turns off ``{models_dir}`` beside it). Here every ``{...}`` and ``$name`` is expanded on its own:

* ``{name}`` where ``name`` is a bound path name (``models_dir``) is that path. The log keeps it
  as the placeholder, so a log is portable; the shown command has it expanded.
* ``{expr}`` or ``{expr:spec}`` is evaluated in the user's namespace; if that fails it is left as
  written (shell braces, awk programs, ``find -exec {} \\;``).
* ``$name`` is the value of a Python variable; unknown names (``$HOME``, ``$1``) are left for the
  shell. ``$$`` is a literal ``$``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN_RE = re.compile(r"\$\$|\$([A-Za-z_][A-Za-z0-9_]*)|\{([^{}\n]*)\}")


@dataclass(frozen=True)
class Expanded:
    """A text as written by the user, as it goes to the log, and as it is run."""

    written: str
    logged: str  # user variables expanded, path names kept as {placeholders}
    run: str  # everything expanded


def _evaluate(expression: str, namespace: Mapping[str, Any]) -> tuple[bool, str]:
    """(True, text) when ``expression`` (optionally ``expr:spec`` or ``expr!r``) evaluates."""
    text = expression.strip()
    if not text:
        return False, ""
    candidates: list[tuple[str, str, str | None]] = [(text, "", None)]
    conversion_split = re.match(r"^(.*?)!([rsa])(?::(.*))?$", text, re.S)
    if conversion_split:
        candidates.append(
            (conversion_split.group(1), conversion_split.group(3) or "", conversion_split.group(2))
        )
    if ":" in text:
        head, _, spec = text.rpartition(":")
        candidates.append((head, spec, None))
    for source, spec, conversion in candidates:
        try:
            value = eval(source, {"__builtins__": __builtins__}, dict(namespace))  # noqa: S307
        except Exception:
            continue
        try:
            if conversion == "r":
                value = repr(value)
            elif conversion == "a":
                value = ascii(value)
            elif conversion == "s":
                value = str(value)
            return True, format(value, spec)
        except Exception:
            continue
    return False, ""


def expand(
    text: str,
    namespace: Mapping[str, Any] | None = None,
    paths: Mapping[str, str] | None = None,
) -> Expanded:
    """Expand ``text``; see the module docstring for the rules.

    Without a ``namespace`` only path names are bound: ``$var`` and ``{expr}`` stay as written
    and nothing is evaluated (text from a log, an agent or a command line is not code).
    """
    if namespace is None:
        bound = bind_paths(text, paths or {})
        return Expanded(text, text, bound)
    paths = paths or {}
    logged: list[str] = []
    run: list[str] = []
    position = 0
    for match in _TOKEN_RE.finditer(text):
        literal = text[position : match.start()]
        logged.append(literal)
        run.append(literal)
        position = match.end()
        whole = match.group()
        if whole == "$$":
            logged.append("$")
            run.append("$")
            continue
        dollar_name, brace = match.groups()
        if brace is not None and brace.strip() in paths:
            name = brace.strip()
            logged.append("{" + name + "}")
            run.append(paths[name])
            continue
        if dollar_name is not None:
            if dollar_name in namespace:
                value = str(namespace[dollar_name])
                logged.append(value)
                run.append(value)
            else:
                logged.append(whole)
                run.append(whole)
            continue
        ok, value = _evaluate(brace or "", namespace)
        logged.append(value if ok else whole)
        run.append(value if ok else whole)
    logged.append(text[position:])
    run.append(text[position:])
    return Expanded(text, "".join(logged), "".join(run))


def bind_paths(text: str, paths: Mapping[str, str]) -> str:
    """``{models_dir}/x`` -> ``/scratch/models/x``: bound path names only, nothing evaluated."""
    if not paths or "{" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        return paths[name] if name in paths else match.group()

    return _PLACEHOLDER_RE.sub(replace, text)


_PLACEHOLDER_RE = re.compile(r"\{([^{}\n]*)\}")
_FIELD_RE = re.compile(
    r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}|\{[^{}\n]{0,60}\}?|\}"
)
# a number's format spec, its width and precision bounded (no 1 GB of padding)
_SPEC_RE = re.compile(r"(?:.?[<>=^])?[-+ ]?#?0?[0-9]{0,2}[,_]?(?:\.[0-9]{1,2})?[bcdeEfFgGnoxX%]?")


def format_names(template: str, names: Mapping[str, Any]) -> str:
    """A ``--result`` template over plain names only (``{total_min:.0f} minutes``): what a
    calculation that is not the user's own code may format. Nothing is evaluated."""
    out: list[str] = []
    position = 0
    for match in _FIELD_RE.finditer(template):
        out.append(template[position : match.start()])
        position = match.end()
        whole, name, spec = match.group(), match.group(1), match.group(2) or ""
        if whole in ("{{", "}}"):
            out.append(whole[0])
            continue
        if name is None or name not in names:
            raise ValueError(f"cannot format {whole} in the result template (names only)")
        if not _SPEC_RE.fullmatch(spec):
            raise ValueError(f"cannot format {whole}: not a number's format (e.g. :.1f, :,.0f)")
        try:
            out.append(format(names[name], spec))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"cannot format {whole}: {exc}") from None
    out.append(template[position:])
    return "".join(out)


def format_template(template: str, namespace: Mapping[str, Any]) -> str:
    """Format a ``--result`` template with the variables a cell has just made.

    Unlike ``str.format``, a placeholder that fails is named in the error instead of a bare
    ``KeyError``.
    """
    out: list[str] = []
    position = 0
    for match in re.finditer(r"\{\{|\}\}|\{([^{}]*)\}", template):
        out.append(template[position : match.start()])
        position = match.end()
        if match.group() in ("{{", "}}"):
            out.append(match.group()[0])
            continue
        ok, value = _evaluate(match.group(1), namespace)
        if not ok:
            raise ValueError(f"cannot format {match.group()} in the result template")
        out.append(value)
    out.append(template[position:])
    return "".join(out)


def collapse_paths(path: str, paths: Mapping[str, str]) -> str:
    """Write ``path`` with a path name in front when it lies under a bound directory.

    ``experiment_dir`` is used only when no other name fits, so a log written with
    ``scratch_dir`` bound reads ``{scratch_dir}/cap_.../experiment_summary.md`` as in the spec.
    """
    if path.startswith("{"):
        return path
    best: tuple[int, int, str] | None = None
    for name, directory in paths.items():
        root = directory.rstrip("/") or "/"
        if path == root or path.startswith(root + "/"):
            rank = (0 if name == "experiment_dir" else 1, len(root), name)
            if best is None or rank > best:
                best = rank
    if best is None:
        return path
    root = paths[best[2]].rstrip("/") or "/"
    return "{" + best[2] + "}" + path[len(root) :]
