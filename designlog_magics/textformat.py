"""The log's text format: ``render`` an entry, ``parse`` a log back into entries.

The format is the specification's::

    [2025-10-22 14:23:15] VERIFY_MODEL: Checking Llama-3.2-1B-Instruct
    Command: ls {models_dir}/Llama-3.2-1B-Instruct
    Result: Directory exists with 15 files (config.json, model.safetensors, etc.)
    Explanation: Verifying base model exists before creating experiment plan

followed by one blank line. Two rules keep every value exact and every entry whole:

* A value's later lines are written as continuation lines indented by two spaces, so no
  value can begin a line of its own: a value holding ``\\n[2025-01-01 00:00:00] COMPLETE: done``
  stays inside its field. An empty value line is written as the two spaces alone, so the only
  blank line our writer ever produces is the one that ends an entry.
* Characters that would break lines or terminals (``\\r``, other control characters, ANSI
  escapes, Unicode line separators) are written as ``\\r``, ``\\xHH`` or ``\\uHHHH``; a backslash
  is doubled only where it would otherwise read as one of these escapes, so ordinary paths and
  regular expressions stay as typed.

``parse(render(entry)) == entry`` for every entry. ``parse`` also reads logs written by hand or by
other tools in the same style and reports what it cannot read as diagnostics with line numbers;
it never raises on bad input.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .entry import ACTION_NAME_RE, FIELD_NAME_RE, Entry

INDENT = "  "
ENTRY_SEPARATOR = "\n"  # the blank line after each entry

_NEEDS_ESCAPE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"
_ESCAPE_RE = re.compile(rf"\\(?=[\\rxu{_NEEDS_ESCAPE}])|[{_NEEDS_ESCAPE}]")
_UNESCAPE_RE = re.compile(r"\\(?:(\\)|(r)|x([0-9a-f]{2})|u([0-9a-f]{4}))")
HEADER_RE = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] ([A-Za-z0-9_]+)(:( ?)(.*))?")
_LOOSE_HEADER_RE = re.compile(r"\[[^\]]*\d\d:\d\d[^\]]*\]\s*\S")


def _escape_match(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    if char == "\r":
        return "\\r"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unescape_match(match: re.Match[str]) -> str:
    backslash, carriage, byte, wide = match.groups()
    if backslash:
        return "\\"
    if carriage:
        return "\r"
    return chr(int(byte or wide, 16))


def escape_text(text: str) -> str:
    """Escape what may not appear raw on a log line (see the module docstring)."""
    if "\\" not in text and not _ESCAPE_RE.search(text):
        return text
    return _ESCAPE_RE.sub(_escape_match, text)


def unescape_text(text: str) -> str:
    """Inverse of :func:`escape_text`; unknown backslash sequences stay as written."""
    if "\\" not in text:
        return text
    return _UNESCAPE_RE.sub(_unescape_match, text)


def _render_value(first_prefix: str, value: str, out: list[str]) -> None:
    lines = escape_text(value).split("\n")
    head = lines[0]
    out.append(f"{first_prefix} {head}" if head else first_prefix)
    for line in lines[1:]:
        out.append(INDENT + line)


def render(entry: Entry) -> str:
    """The entry as log text, ending with the blank line that separates entries."""
    out: list[str] = []
    header = f"[{entry.time_text}] {entry.action}"
    if entry.brief:
        _render_value(header + ":", entry.brief, out)
    else:
        out.append(header)
    for key, value in entry.fields:
        _render_value(key + ":", value, out)
    return "\n".join(out) + "\n" + ENTRY_SEPARATOR


def render_all(entries: Iterable[Entry]) -> str:
    """Several entries as one log text."""
    return "".join(render(entry) for entry in entries)


@dataclass(frozen=True)
class Diagnostic:
    """Something ``parse`` could not read as written, with its 1-based line number."""

    line: int
    message: str
    severity: str = "error"  # "error" for lost or doubtful content, "warning" otherwise

    def __str__(self) -> str:
        return f"line {self.line}: {self.severity}: {self.message}"


@dataclass
class ParseResult:
    """Entries read from a log text, the line each starts on, and what could not be read."""

    entries: list[Entry] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    entry_lines: list[int] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


class _Builder:
    """Collects one entry's lines while parsing."""

    __slots__ = ("timestamp", "action", "line", "slots", "current", "pending_blank")

    def __init__(self, timestamp: datetime, action: str, line: int, brief: str | None) -> None:
        self.timestamp = timestamp
        self.action = action
        self.line = line
        # slots[0] is the brief; then (key, [lines]) per field
        self.slots: list[tuple[str | None, list[str]]] = [(None, [brief or ""])]
        self.current = self.slots[0][1]
        self.pending_blank = 0

    def add_field(self, key: str, first: str) -> None:
        self.current = [first]
        self.slots.append((key, self.current))
        self.pending_blank = 0

    def add_continuation(self, text: str) -> None:
        if self.pending_blank:
            self.current.extend([""] * self.pending_blank)
            self.pending_blank = 0
        self.current.append(text)

    def build(self) -> Entry:
        brief = unescape_text("\n".join(self.slots[0][1]))
        pairs = tuple(
            (key, unescape_text("\n".join(lines))) for key, lines in self.slots[1:] if key
        )
        return Entry(self.timestamp, self.action, brief, pairs)


def _stamp(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` without strptime's cost; ``ValueError`` if not a real time."""
    if len(text) != 19:
        raise ValueError(f"not a timestamp: {text!r}")
    return datetime.fromisoformat(text)


_FIELD_SRC = r"[A-Za-z][A-Za-z0-9 _/().\-]{0,47}(?<! ):(?: [^\n]*)?(?:\n  [^\n]*)*"
# A complete, well-formed entry as our writer produces it, followed by a header or the end.
_FAST_ENTRY_RE = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] ([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)"
    r"(?::(?: ([^\n]*))?)?((?:\n  [^\n]*)*)"
    r"((?:\n" + _FIELD_SRC + r")*)"
    r"\n(?:\n|\Z)(?=\n*(?:\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] |\Z))",
    re.M,
)
_FAST_FIELD_RE = re.compile(
    r"\n([A-Za-z][A-Za-z0-9 _/().\-]{0,47}):(?: ([^\n]*))?((?:\n  [^\n]*)*)"
)


def _strip_indent(line: str) -> str:
    if line.startswith(INDENT):
        return line[2:]
    return line[1:]  # one tab, or a single space from a hand-written log


def parse(text: str, *, first_line: int = 1) -> ParseResult:
    """Read a log text into entries and diagnostics; never raises on malformed input.

    ``first_line`` numbers the lines when ``text`` is a later part of a file. Well-formed
    entries are read by one regular expression (the fast path); whatever it does not match
    exactly is read line by line, with diagnostics.
    """
    result = ParseResult()
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    # Reading creates many small objects and no cycles: the cyclic collector would only
    # rescan them again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _parse_fast(text, first_line, result)
    finally:
        if collecting:
            gc.enable()
    return result


def _parse_fast(text: str, first_line: int, result: ParseResult) -> None:
    entries, entry_lines = result.entries, result.entry_lines
    position = 0
    line = first_line
    unescape = unescape_text
    fields_of = _FAST_FIELD_RE.findall
    from_iso = datetime.fromisoformat
    count = text.count
    new = object.__new__
    for match in _FAST_ENTRY_RE.finditer(text):
        start, end = match.span()
        stamp_text, action, brief, brief_more, fields_text = match.groups()
        try:
            stamp = from_iso(stamp_text)
        except ValueError:
            continue  # not a real date: the line reader reports it
        if start > position:
            _parse_lines(text[position:start], line, result)
            line += count("\n", position, start)
        brief = brief or ""
        if brief_more:
            brief += brief_more.replace("\n  ", "\n")
        if "\\" in brief:
            brief = unescape(brief)
        pairs = []
        for key, value, more in fields_of(fields_text):
            if more:
                value += more.replace("\n  ", "\n")
            if "\\" in value:
                value = unescape(value)
            pairs.append((key, value))
        # the regular expression has checked the action and field names: no re-validation
        entry = new(Entry)
        entry.__dict__.update(timestamp=stamp, action=action, brief=brief, fields=tuple(pairs))
        entries.append(entry)
        entry_lines.append(line)
        line += count("\n", start, end)
        position = end
    if position < len(text):
        _parse_lines(text[position:], line, result)


def _parse_lines(text: str, first_line: int, result: ParseResult) -> None:
    """The line-by-line reader: hand-written styles, diagnostics, truncation."""
    lines = text.split("\n")
    ends_with_newline = lines[-1] == ""
    if ends_with_newline:
        lines.pop()
    builder: _Builder | None = None
    skipping = False  # inside a block whose header could not be read
    diagnostics = result.diagnostics
    header_match = HEADER_RE.fullmatch
    field_match = FIELD_NAME_RE.fullmatch
    lineno = first_line - 1

    def finish() -> None:
        if builder is not None:
            try:
                result.entries.append(builder.build())
                result.entry_lines.append(builder.line)
            except ValueError as exc:
                diagnostics.append(Diagnostic(builder.line, f"entry not readable: {exc}"))

    for line in lines:
        lineno += 1
        if not line:
            if builder is not None:
                builder.pending_blank += 1
            continue
        first = line[0]
        if first == " " or first == "\t":
            if builder is not None:
                builder.add_continuation(_strip_indent(line))
            elif not skipping:
                diagnostics.append(
                    Diagnostic(lineno, "continuation line outside any entry (ignored)")
                )
            continue
        if first == "[":
            match = header_match(line)
            if match:
                finish()
                builder = None
                stamp_text, action, has_colon, space, brief = match.groups()
                try:
                    stamp = _stamp(stamp_text)
                except ValueError:
                    diagnostics.append(
                        Diagnostic(lineno, f"invalid timestamp {stamp_text!r}; entry skipped")
                    )
                    skipping = True
                    continue
                if not ACTION_NAME_RE.fullmatch(action):
                    diagnostics.append(
                        Diagnostic(lineno, f"invalid action type {action!r}; entry skipped")
                    )
                    skipping = True
                    continue
                skipping = False
                builder = _Builder(stamp, action, lineno, brief if has_colon else "")
                continue
            if _LOOSE_HEADER_RE.match(line):
                finish()
                builder = None
                skipping = True
                diagnostics.append(
                    Diagnostic(
                        lineno,
                        "header not in the form [YYYY-MM-DD HH:MM:SS] ACTION_TYPE: brief; "
                        "entry skipped",
                    )
                )
                continue
        colon = line.find(":")
        if colon > 0 and field_match(line, 0, colon) and line[colon - 1] != " ":
            if builder is not None:
                rest = line[colon + 1 :]
                builder.add_field(line[:colon], rest[1:] if rest[:1] == " " else rest)
            elif not skipping:
                diagnostics.append(Diagnostic(lineno, "field outside any entry (ignored)"))
            continue
        if builder is not None:
            diagnostics.append(
                Diagnostic(
                    lineno,
                    "line is neither 'Key: value' nor indented; kept as part of the previous value",
                    "warning",
                )
            )
            builder.add_continuation(line)
        elif not skipping:
            diagnostics.append(Diagnostic(lineno, "text outside any entry (ignored)"))
    if builder is not None and not ends_with_newline:
        result.truncated = True
        diagnostics.append(
            Diagnostic(
                builder.line,
                "last entry is incomplete: the log ends mid-line (was the writer interrupted?)",
                "warning",
            )
        )
    finish()
