"""A design log in either dialect: the seed's and the workflow's later (upstream) one.

:func:`to_upstream` and :func:`to_seed` turn entries of one dialect into entries of the other;
:func:`convert_text` does it for a whole log text. No field is ever lost: where one dialect has
no home for a value, it goes in a named key line of the other, and the reverse conversion reads
that line back.

The mapping (seed on the left, upstream on the right):

=====================================  =====================================================
``[t] ACTION: brief``                  ``[t] ACTION`` and ``Details: brief`` as the first line
``[t] ACTION: brief`` with a           ``[t] ACTION: brief`` with that ``Details:`` (the tools'
``Details:`` line of its own           header, kept as it is)
``[t] ACTION`` (no brief)              ``[t] ACTION``, no ``Details:`` line (an empty
                                       ``Details:`` first when the seed's own first line is one)
renamed action types (spec's table)    EXTRACT_TRAINING_SPEED, CALCULATE_TRAINING_TIME,
                                       CHECK_DISK_SPACE, CREATE_YAML, COMPLETE_DESIGN,
                                       CALCULATE_DISK_USAGE
``DECIDE_NAMING``                      ``DESIGN_DECISION`` (one that names the experiment)
``DECIDE_<WHAT>``, any other           ``DESIGN_DECISION`` and ``Seed Action: DECIDE_<WHAT>``
``Result: free text``                  ``Result Text: free text``, where it was
no failure / ``Warning:`` / failure    a last line ``Result: success|warning|failure``
                                       (``Entry.failed``, ``Entry.warned``)
a last ``Result:`` the entry does not  that ``Result:`` line as it is, when it is a status line
imply                                  (a status word, ``failure: {error}``, ``tracked``,
                                       ``done``): ``Result: warning`` with an ``Error:`` line
=====================================  =====================================================

Read the other way, an upstream entry whose last line is the ``Result:`` its seed form implies
(``success`` with no failure, ``failure`` with an ``Error:`` line) has no ``Result:`` line in the
seed dialect: the seed says what failed with ``Error:``, and an entry without one succeeded.

Marker lines, each read back (and removed) by the reverse conversion:

* written in the upstream dialect: ``Result Text:`` (a seed ``Result:``), ``Seed Action:`` (the
  seed's action type when the upstream type does not say it: ``DECIDE_RECIPE``, or a seed entry
  that already used an upstream name such as ``EXTRACT_TRAINING_SPEED``) and ``Seed Line:``
  (``Key: value``, a seed line whose key is one of these markers);
* written in the seed dialect: ``Upstream Action:`` (the upstream type when the seed's name
  would convert to another, such as ``CALCULATE_TIME`` in an upstream log), ``Upstream Form:``
  (how the upstream entry was laid out where the seed form would lay it out otherwise: ``brief
  in the header``, ``brief in Details``, ``no brief``, ``Result lines as written`` for an entry
  whose ``Result:`` lines are not one status line at the end: ``Result: 4 COMPLETED, 0 FAILED``
  then ``Duration:``, or a last ``Result: 4 runs configured``) and ``Upstream Line:`` (an
  upstream line whose key is one of these markers).

The guarantee: ``to_seed(to_upstream(E)) == E`` for every list of entries ``E`` (any action,
brief and fields, marker-looking keys included), and ``to_upstream(to_seed(U)) == U`` for every
list ``U`` without the upstream markers ``Result Text``, ``Seed Action`` and ``Seed Line`` (an
entry holding them is read as one this module converted) -- and for every ``U`` it wrote. Markers
written by :func:`to_seed` are taken as markers only when reading them so gives back exactly the
seed entry that holds them; otherwise they are ordinary lines and travel as ``Seed Line:``.

A log text with parts the parser cannot read (:func:`convert_log_text`): the entries it reads
are converted, and each unreadable part is carried over as it is, at its place, so the new file
loses nothing and says what the source could not say either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .entry import ACTION_NAME_RE, FIELD_NAME_RE, Entry
from .exceptions import DesignLogError
from .spec import SEED_TO_UPSTREAM, UPSTREAM_TO_SEED, names_the_experiment
from .store import find_log_file
from .textformat import UPSTREAM_RESULTS, parse, render

Dialect = Literal["seed", "upstream"]
DIALECTS: tuple[Dialect, ...] = ("seed", "upstream")

# Marker lines written in the upstream dialect (read back by to_seed).
RESULT_TEXT = "Result Text"
SEED_ACTION = "Seed Action"
SEED_LINE = "Seed Line"
# Marker lines written in the seed dialect (read back by to_upstream).
UPSTREAM_ACTION = "Upstream Action"
UPSTREAM_FORM = "Upstream Form"
UPSTREAM_LINE = "Upstream Line"

UPSTREAM_MARKERS = (RESULT_TEXT, SEED_ACTION, SEED_LINE)
SEED_MARKERS = (UPSTREAM_ACTION, UPSTREAM_FORM, UPSTREAM_LINE)
MARKERS: dict[Dialect, tuple[str, ...]] = {"upstream": UPSTREAM_MARKERS, "seed": SEED_MARKERS}

# Where an entry's brief is: in the header, in a first Details: line, or nowhere.
Layout = Literal["header", "details", "none"]
_LAYOUT_FLAGS: dict[Layout, str] = {
    "header": "brief in the header",
    "details": "brief in Details",
    "none": "no brief",
}
_FLAG_LAYOUTS: dict[str, Layout] = {flag: layout for layout, flag in _LAYOUT_FLAGS.items()}
RESULTS_AS_WRITTEN = "Result lines as written"

# The seed's naming decision and the upstream type that holds every decision.
NAMING_ACTION = "DECIDE_NAMING"
DECISION_ACTION = SEED_TO_UPSTREAM[NAMING_ACTION]
_DECISION_PREFIX = "DECIDE_"
# A last Result: line upstream writers end an entry with: a status word (design-experiment's
# logging.md), "failure: {error}" (src/tools/run/_submit_common.py log_submit_failure), and the
# run tools' "tracked" (log_state_change) and "done" (log_all_complete).
_STATUS_LINE_RE = re.compile(
    rf"(?:{'|'.join(sorted(UPSTREAM_RESULTS))})(?::.*)?|tracked|done", re.DOTALL
)


class ConvertError(DesignLogError):
    """A conversion that cannot be done as asked: no log, an output that exists, a bad dialect."""


# -- the two directions ---------------------------------------------------------------------
def to_upstream(entries: Iterable[Entry]) -> list[Entry]:
    """Seed-dialect entries in the upstream dialect (see the module docstring)."""
    return [upstream_entry(entry) for entry in entries]


def to_seed(entries: Iterable[Entry]) -> list[Entry]:
    """Upstream-dialect entries in the seed dialect (see the module docstring)."""
    return [seed_entry(entry) for entry in entries]


def upstream_action(action: str) -> str:
    """The upstream type of a seed action: renamed through the spec's table, any other
    ``DECIDE_<WHAT>`` a DESIGN_DECISION, anything else unchanged."""
    renamed = SEED_TO_UPSTREAM.get(action)
    if renamed:
        return renamed
    return DECISION_ACTION if action.startswith(_DECISION_PREFIX) else action


def seed_action(entry: Entry) -> str:
    """The seed type of an upstream entry: a DESIGN_DECISION that names the experiment is
    DECIDE_NAMING (others stay DESIGN_DECISION); renamed types get their seed name."""
    if entry.action == DECISION_ACTION:
        return NAMING_ACTION if names_the_experiment(entry) else DECISION_ACTION
    return UPSTREAM_TO_SEED.get(entry.action, entry.action)


def status_of(entry: Entry) -> str:
    """The upstream status an entry implies: ``failure``, ``warning`` or ``success``."""
    if entry.failed:
        return "failure"
    return "warning" if entry.warned else "success"


def _is_status_line(value: str) -> bool:
    return _STATUS_LINE_RE.fullmatch(value) is not None


def _layout(brief: str, fields: Sequence[tuple[str, str]]) -> Layout:
    """Where the upstream form of a seed entry puts its brief (the rule both directions use)."""
    if not brief:
        return "details" if fields and fields[0][0] == "Details" else "none"
    return "header" if any(key == "Details" for key, _ in fields) else "details"


def _line(key: str, value: str) -> str:
    """A whole ``Key: value`` line as the value of a marker (``Seed Line``, ``Upstream Line``)."""
    return f"{key}: {value}" if value else f"{key}:"


def _unline(text: str) -> tuple[str, str] | None:
    """Inverse of :func:`_line`; ``None`` for text :func:`_line` would not have written."""
    key, colon, rest = text.partition(":")
    if not colon or not FIELD_NAME_RE.fullmatch(key) or key != key.rstrip():
        return None
    value = rest[1:] if rest.startswith(" ") else rest
    return (key, value) if _line(key, value) == text else None


def upstream_entry(entry: Entry) -> Entry:
    """One seed entry in the upstream dialect; ``seed_entry(upstream_entry(e)) == e``."""
    if any(key in SEED_MARKERS for key, _ in entry.fields):
        converted = _upstream(entry, read_markers=True)
        if converted is not None and seed_entry(converted) == entry:
            return converted
    converted = _upstream(entry, read_markers=False)
    assert converted is not None  # only reading markers can fail
    return converted


def _upstream(entry: Entry, *, read_markers: bool) -> Entry | None:
    """The upstream form of ``entry``; with ``read_markers``, the form its ``Upstream ...``
    lines describe (``None`` when they describe none)."""
    fields = list(entry.fields)
    action = upstream_action(entry.action)
    layout: Layout | None = None
    as_written = False
    if read_markers:
        if fields and fields[-1][0] == UPSTREAM_FORM:
            flags = fields.pop()[1].split(", ")
            as_written = RESULTS_AS_WRITTEN in flags
            layouts = [_FLAG_LAYOUTS[f] for f in flags if f in _FLAG_LAYOUTS]
            if len(set(flags)) != len(flags) or len(layouts) + as_written != len(flags):
                return None  # a flag twice, or one to_seed does not write
            if len(layouts) > 1:
                return None  # two places for one brief
            layout = layouts[0] if layouts else None
        if fields and fields[-1][0] == UPSTREAM_ACTION:
            action = fields.pop()[1]
            if not ACTION_NAME_RE.fullmatch(action):
                return None
        if any(key in (UPSTREAM_ACTION, UPSTREAM_FORM) for key, _ in fields):
            return None
    layout = layout or _layout(entry.brief, fields)
    status: str | None = None
    if not as_written:
        last = fields[-1] if fields else None
        if (
            last is not None
            and last[0] == "Result"
            and _is_status_line(last[1])
            and last[1] != status_of(_with_fields(entry, fields[:-1]))
        ):
            status = fields.pop()[1]
        else:
            status = status_of(_with_fields(entry, fields))
    out: list[tuple[str, str]] = []
    for key, value in fields:
        if key == "Result" and not as_written:
            out.append((RESULT_TEXT, value))
        elif key in UPSTREAM_MARKERS:
            out.append((SEED_LINE, _line(key, value)))
        elif key == UPSTREAM_LINE and read_markers:
            line = _unline(value)
            if line is None:
                return None
            out.append(line)
        elif key in SEED_MARKERS:
            out.append((SEED_LINE, _line(key, value)))
        else:
            out.append((key, value))
    brief = entry.brief
    if layout == "details":
        out.insert(0, ("Details", brief))
        brief = ""
    elif layout == "none" and brief:
        return None
    draft = Entry(entry.timestamp, action, brief, tuple(out))
    if seed_action(draft) != entry.action:
        out.insert(1 if layout == "details" else 0, (SEED_ACTION, entry.action))
    if status is not None:
        out.append(("Result", status))
    return Entry(entry.timestamp, action, brief, tuple(out))


def seed_entry(entry: Entry) -> Entry:
    """One upstream entry in the seed dialect; ``upstream_entry(seed_entry(u)) == u`` for an
    entry without the upstream markers (and for every entry :func:`upstream_entry` wrote)."""
    fields = list(entry.fields)
    results = [i for i, (key, _) in enumerate(fields) if key == "Result"]
    status = fields.pop()[1] if results == [len(fields) - 1] else None
    action = seed_action(entry)
    for index, (key, value) in enumerate(fields):
        if key == SEED_ACTION and ACTION_NAME_RE.fullmatch(value):
            action = value
            del fields[index]
            break
    layout: Layout
    if entry.brief:
        brief, layout = entry.brief, "header"
    elif fields and fields[0][0] == "Details":
        brief, layout = fields.pop(0)[1], "details"
    else:
        brief, layout = "", "none"
    body: list[tuple[str, str]] = []
    for key, value in fields:
        line = _unline(value) if key == SEED_LINE else None
        if key == RESULT_TEXT:
            body.append(("Result", value))
        elif line is not None:
            body.append(line)
        elif key in SEED_MARKERS:
            body.append((UPSTREAM_LINE, _line(key, value)))
        else:
            body.append((key, value))
    flags: list[str] = []
    if status is None:
        flags.append(RESULTS_AS_WRITTEN)
    elif status != status_of(Entry(entry.timestamp, action, brief, tuple(body))):
        # a last line the seed form does not imply: kept as the seed's last Result: line
        body.append(("Result", status))
        if not _is_status_line(status):
            flags.append(RESULTS_AS_WRITTEN)
    if _layout(brief, body) != layout:
        flags.insert(0, _LAYOUT_FLAGS[layout])
    if upstream_action(action) != entry.action:
        body.append((UPSTREAM_ACTION, entry.action))
    if flags:
        body.append((UPSTREAM_FORM, ", ".join(flags)))
    return Entry(entry.timestamp, action, brief, tuple(body))


def _with_fields(entry: Entry, fields: Sequence[tuple[str, str]]) -> Entry:
    return Entry(entry.timestamp, entry.action, entry.brief, tuple(fields))


def convert_entries(entries: Iterable[Entry], to: str) -> list[Entry]:
    """``entries`` in dialect ``to`` ("seed" or "upstream")."""
    return to_upstream(entries) if _dialect(to) == "upstream" else to_seed(entries)


def marker_counts(entries: Iterable[Entry], dialect: str) -> dict[str, int]:
    """How many marker lines of each key entries of ``dialect`` hold (keys in marker order)."""
    keys = MARKERS[_dialect(dialect)]
    counts = dict.fromkeys(keys, 0)
    for entry in entries:
        for key, _ in entry.fields:
            if key in counts:
                counts[key] += 1
    return {key: count for key, count in counts.items() if count}


def _dialect(to: str) -> Dialect:
    if to == "seed":
        return "seed"
    if to == "upstream":
        return "upstream"
    raise ConvertError(f"unknown dialect {to!r}: use seed or upstream")


# -- a whole log text -----------------------------------------------------------------------
@dataclass(frozen=True)
class Conversion:
    """A converted log text and what went into it."""

    text: str
    to: Dialect
    source_dialect: Dialect
    entries: int
    markers: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0  # parts of the source carried over as they are

    @property
    def marker_lines(self) -> int:
        return sum(self.markers.values())


def convert_text(text: str, to: str) -> str:
    """A log text in dialect ``to``: parsed, converted, rendered (unreadable parts kept)."""
    return convert_log_text(text, to).text


def convert_log_text(text: str, to: str) -> Conversion:
    """Convert a log text; each part the parser cannot read is carried over as it is, at its
    place (a part starts at a line the parser reports as lost and ends before the next entry)."""
    dialect = _dialect(to)
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    result = parse(text)
    converted = convert_entries(result.entries, dialect)
    lines = text.split("\n")
    # Every piece of the source in order: ("entry", index) or ("lost", None) by first line.
    starts = sorted(
        [(line, 0, index) for index, line in enumerate(result.entry_lines)]
        + [(d.line, 1, -1) for d in result.diagnostics if d.severity == "error"]
    )
    pieces: list[str] = []
    unreadable = 0
    for position, (line, lost, index) in enumerate(starts):
        if not lost:
            pieces.append(render(converted[index]))
            continue
        if position and starts[position - 1][1]:
            continue  # the same lost part, already carried over
        end = next((n for n, lost_, _ in starts[position:] if not lost_), len(lines) + 1)
        part = "\n".join(lines[line - 1 : end - 1]).strip("\n")
        if part:
            pieces.append(part + "\n\n")
            unreadable += 1
    return Conversion(
        text="".join(pieces),
        to=dialect,
        source_dialect=result.dialect,
        entries=len(converted),
        markers=marker_counts(converted, dialect),
        unreadable=unreadable,
    )


# -- files ------------------------------------------------------------------------------------
def source_log(path: str | os.PathLike[str]) -> Path:
    """The log a LOG argument names: a log file, or an experiment directory holding one in
    either place (``design-experiment.log`` or ``logs/design-experiment.log``)."""
    target = find_log_file(path)
    if not target.is_file():
        raise ConvertError(f"no design log at {target}")
    return target


def default_output(source: Path, to: str) -> Path:
    """Beside the source: ``design-experiment.log`` -> ``design-experiment.upstream.log``
    (a ``.seed``/``.upstream`` already in the name is replaced)."""
    stem = source.stem
    for dialect in DIALECTS:
        if stem.endswith(f".{dialect}"):
            stem = stem[: -len(dialect) - 1]
    return source.with_name(f"{stem}.{_dialect(to)}{source.suffix or '.log'}")


def write_new(path: Path, text: str, *, force: bool = False, source: Path | None = None) -> None:
    """Write ``text`` to ``path``: a new file, or (``force``) one replaced whole at once.
    Never the source, never an existing file without ``force``."""
    if source is not None and (
        path.resolve() == source.resolve() or (path.exists() and path.samefile(source))
    ):
        raise ConvertError(f"refusing to write the conversion over its source {source}")
    from .files import FileExists, write_file

    try:
        write_file(path, text, force=force)
    except FileExists as exc:
        raise ConvertError(str(exc)) from None


def convert_file(
    log: str | os.PathLike[str],
    to: str,
    output: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
) -> tuple[Conversion, Path, Path | None]:
    """Convert the log ``log`` names into ``output`` (default: :func:`default_output`; ``"-"``
    writes nothing and leaves the text to the caller). Returns the conversion, the source and
    the file written (``None`` for ``"-"``). The source is only read."""
    dialect = _dialect(to)
    source = source_log(log)
    text = source.read_bytes().decode("utf-8", errors="replace")
    conversion = convert_log_text(text, dialect)
    if output is not None and str(output) == "-":
        return conversion, source, None
    target = Path(output).expanduser() if output is not None else default_output(source, dialect)
    write_new(target, conversion.text, force=force, source=source)
    return conversion, source, target
