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

Two dialects of the format exist, and ``parse`` reads both without preferring either:

* **seed**: the specification above; every header has a brief, fields are ``Command:``,
  ``Result:`` (free text saying what happened) and ``Explanation:``.
* **upstream**: the later cruijff_kit format (``.claude/skills/shared/logging_spec.md``): headers
  often without a brief (``[2025-10-22 14:30:00] START_DESIGN``), a ``Details:`` line, any
  ``Key: value`` lines (``Per epoch: 120 seconds``, ``Files created: ...``, ``Job ID: ...``),
  lists as indented lines under an empty ``Alternatives considered:``, and a final
  ``Result: success|failure|warning`` (tools also write ``Result: failure: {error}``,
  ``Result: tracked``, ``Result: done``), with an ``Error:`` line on failures and warnings.

A list under an empty key keeps the text exactly: ``Alternatives considered:`` followed by
``  - a`` and ``  - b`` is the value ``"\\n- a\\n- b"``, which renders back to the same lines.
:func:`entry_dialect` and :attr:`ParseResult.dialect` say which dialect a log is written in.
The upstream dialect has no escapes: a backslash it writes followed by another backslash,
``r``, ``xHH`` or ``uHHHH`` is read as one of ours (rare; nothing else it writes changes).

Speed: a stretch of text written the way our writer and the upstream tools write is read by one
regular expression over the whole stretch (``_parse_clean``); anything else by the line reader,
which gives the diagnostics. Both read the same text the same way (a property test checks it).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .entry import ACTION_NAME_RE, FIELD_NAME_RE, Entry

INDENT = "  "
ENTRY_SEPARATOR = "\n"  # the blank line after each entry

_NEEDS_ESCAPE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"
_ESCAPE_RE = re.compile(rf"\\(?=[\\rxu{_NEEDS_ESCAPE}])|[{_NEEDS_ESCAPE}]")
_UNESCAPE_RE = re.compile(r"\\(?:(\\)|(r)|x([0-9a-f]{2})|u([0-9a-f]{4}))")
# A header line; without a brief, trailing blanks are tolerated (hand-written upstream logs).
HEADER_RE = re.compile(
    r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] ([A-Za-z0-9_]+)(?:(:( ?)(.*))|[ \t]*)"
)
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


_VISIBLE_RE = re.compile(f"[{_NEEDS_ESCAPE}]")


def visible_text(text: str) -> str:
    """Text for a terminal or a client: every control character (and a lone surrogate) shown
    as ``\\xHH``/``\\uHHHH``, never obeyed; newlines, tabs and backslashes as they are."""
    return _VISIBLE_RE.sub(
        lambda m: (
            f"\\u{ord(m.group()):04x}" if ord(m.group()) > 0xFF else f"\\x{ord(m.group()):02x}"
        ),
        text,
    )


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


Dialect = Literal["seed", "upstream"]
# The statuses the upstream dialect writes as a whole ``Result:`` line.
UPSTREAM_RESULTS = frozenset({"success", "failure", "warning"})


def entry_dialect(entry: Entry) -> Dialect:
    """``"upstream"`` for an entry in the later cruijff_kit shape, else ``"seed"``.

    The rule: an entry is upstream-shaped when it has a ``Details:`` field, or when its
    ``Result:`` is one of the bare statuses ``success``, ``failure``, ``warning`` (any case).
    Everything else, including entries with neither, is seed-shaped. A missing brief alone
    decides nothing: hand-written seed entries may lack one, and tools writing the upstream
    dialect give one (``SUBMIT_JOB: run_1``).
    """
    for key, value in entry.fields:
        if key == "Details":
            return "upstream"
        if key == "Result" and value.strip().lower() in UPSTREAM_RESULTS:
            return "upstream"
    return "seed"


def dialect_of(entries: Iterable[Entry]) -> Dialect:
    """The dialect of a log: ``"upstream"`` when most of its entries are upstream-shaped
    (:func:`entry_dialect`), else ``"seed"`` (also for an empty log, the dialect we write)."""
    upstream = seed = 0
    for entry in entries:
        if entry_dialect(entry) == "upstream":
            upstream += 1
        else:
            seed += 1
    return "upstream" if upstream > seed else "seed"


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

    @property
    def dialect(self) -> Dialect:
        """``"seed"`` or ``"upstream"``: see :func:`dialect_of`. Both are read alike; this
        tells a reader how to take ``Result:`` (free text, or a status word)."""
        return dialect_of(self.entries)


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


def _strip_indent(line: str) -> str:
    if line.startswith(INDENT):
        return line[2:]
    return line[1:]  # one tab, or a single space from a hand-written log


# -- parse: two readers that agree -----------------------------------------------------------
#
# ``_parse_lines`` is the reference: it reads any text line by line and says what it cannot read.
# ``_parse_clean`` reads a stretch of text that is entirely well formed (the way our writer and the
# upstream tools write) with one regular expression over the whole stretch, and declines anything
# else. A property test checks that both give the same entries and line numbers.

# The text is read in stretches of about this many characters, each starting at a header line,
# so that one odd line sends one stretch to the line reader, not the whole log.
STRETCH_CHARS = 1 << 18

_STAMP_SRC = r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
_ACTION_SRC = r"[A-Z][A-Z0-9]*+(?:_[A-Z0-9]+)*+"
_KEY_SRC = r"[A-Za-z][A-Za-z0-9 _/().\-]{0,47}+(?<! )(?=:)"
_VALUE_SRC = r"[^\n]*+(?:\n  [^\n]*+)*+"
# One logical line after a line break, as (key, raw value): a field ("Key", "value\n  more"), a
# header after its blank line ("\n[2025-10-22 14:30:00] ACTION", "brief"), or anything else
# ("", ...), which makes the clean reader decline the stretch. Matches follow each other without
# gaps, since the last alternative matches at every line break. The repetitions are possessive:
# giving characters back could never let ':' or a line break match.
_CLEAN_LINE_RE = re.compile(
    rf"\n({_KEY_SRC}|\n\[{_STAMP_SRC}\] {_ACTION_SRC}(?=[:\n]|\Z)|):? ?({_VALUE_SRC})"
)
_CLEAN_FIRST_RE = re.compile(rf"(\[{_STAMP_SRC}\] {_ACTION_SRC}(?=[:\n]|\Z)):? ?({_VALUE_SRC})")
_END_OF_STRETCH = ("\n", "")  # a header key that closes the last entry


def parse(text: str, *, first_line: int = 1) -> ParseResult:
    """Read a log text into entries and diagnostics; never raises on malformed input.

    ``first_line`` numbers the lines when ``text`` is a later part of a file. Either dialect is
    read (see the module docstring); ``ParseResult.dialect`` says which one the log is in.
    """
    result = ParseResult()
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    # Reading creates many small objects and no cycles: the cyclic collector would only
    # rescan them again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _parse_stretches(text, first_line, result, STRETCH_CHARS)
    finally:
        if collecting:
            gc.enable()
    return result


def _parse_stretches(text: str, first_line: int, result: ParseResult, size: int) -> None:
    """Read ``text`` stretch by stretch: the clean reader, or the line reader if it declines.

    Stretches start at header lines, where the line reader starts afresh, so reading them one
    by one gives what reading the whole text would.
    """
    start, line = 0, first_line
    while start < len(text):
        stop = _stretch_stop(text, start + size)
        lines = _parse_clean(text, start, stop, line, result)
        if lines is None:
            _parse_lines(text[start:stop], line, result)
            lines = text.count("\n", start, stop)
        line += lines
        start = stop


def _stretch_stop(text: str, at: int) -> int:
    """The first start of a header line after a blank line from ``at`` on, or the end.

    Only a line the line reader takes as a header (readable or not) may start a stretch: any
    other line after a blank line would still belong to the entry before it.
    """
    while at < len(text):
        cut = text.find("\n\n[", at)
        if cut < 0:
            break
        begin = cut + 2
        end = text.find("\n", begin)
        line = text[begin : end if end >= 0 else len(text)]
        if HEADER_RE.fullmatch(line) or _LOOSE_HEADER_RE.match(line):
            return begin
        at = begin
    return len(text)


def _parse_clean(
    text: str, start: int, stop: int, first_line: int, result: ParseResult
) -> int | None:
    """Read ``text[start:stop]`` if it is entirely well formed and return its number of lines;
    return ``None``, having added nothing, if it is not.

    Well formed: it starts with a header and ends with a line break (and at most one blank
    line); every other line is a ``Key: value`` field, a two-space continuation, or a blank line
    followed by a header; timestamps are real dates. The line reader reads such text without a
    diagnostic. Entries are built without re-validation: the regular expression has checked the
    action and field names.
    """
    end = stop - 1  # the regular expressions stop before the final line break
    if end < start or text[end] != "\n":
        return None  # empty, or cut mid-line: the line reader reports it
    trailing_blank = end > start and text[end - 1] == "\n"
    end -= trailing_blank
    first = _CLEAN_FIRST_RE.match(text, start, end)
    if first is None:
        return None
    pairs = _CLEAN_LINE_RE.findall(text, first.end(), end)
    pairs.append(_END_OF_STRETCH)
    escaped = text.find("\\", start, stop) >= 0
    entries: list[Entry] = []
    entry_lines: list[int] = []
    append_entry, append_line = entries.append, entry_lines.append
    new = object.__new__
    from_iso = datetime.fromisoformat
    head, brief = "\n" + first[1], first[2]
    line = first_line
    extra = 0  # continuation lines of the entry being read
    if "\n" in brief or escaped and "\\" in brief:
        extra = brief.count("\n")
        brief = unescape_text(brief.replace("\n  ", "\n"))
    fields: list[tuple[str, str]] = []
    add = fields.append
    try:
        for pair in pairs:
            if pair[0][0] != "\n":  # a field (IndexError for a line that is neither)
                value = pair[1]
                if "\n" in value or escaped and "\\" in value:
                    extra += value.count("\n")
                    pair = (pair[0], unescape_text(value.replace("\n  ", "\n")))
                add(pair)
                continue
            entry = new(Entry)
            entry.__dict__.update(
                timestamp=from_iso(head[2:21]),  # ValueError for a date that does not exist
                action=head[23:],
                brief=brief,
                fields=tuple(fields),
            )
            append_entry(entry)
            append_line(line)
            line += len(fields) + extra + 2
            head, brief = pair
            extra = 0
            if "\n" in brief or escaped and "\\" in brief:
                extra = brief.count("\n")
                brief = unescape_text(brief.replace("\n  ", "\n"))
            fields = []
            add = fields.append
    except (IndexError, ValueError):
        return None
    result.entries.extend(entries)
    result.entry_lines.extend(entry_lines)
    return line - first_line - 1 + trailing_blank


_HEADER_FORMS = (
    "[YYYY-MM-DD HH:MM:SS] ACTION_TYPE: brief (seed dialect) or "
    "[YYYY-MM-DD HH:MM:SS] ACTION_TYPE (upstream dialect)"
)


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
                        Diagnostic(
                            lineno,
                            f"invalid action type {action!r} (both dialects write "
                            f"UPPER_SNAKE_CASE); entry skipped",
                        )
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
                    Diagnostic(lineno, f"header not in the form {_HEADER_FORMS}; entry skipped")
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
            message = (
                "line is neither 'Key: value' nor indented; kept as part of the previous value"
            )
            if line.startswith(("- ", "* ")):
                message += (
                    " (list items under a 'Key:' line, as in the upstream dialect's "
                    "'Alternatives considered:', are indented by two spaces)"
                )
            diagnostics.append(Diagnostic(lineno, message, "warning"))
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
