"""The notebook as a record: the log shown in it, embedded in it, and exported with it.

Three ways a notebook carries its design log:

* **Shown** (``%designlog record``): a display output whose mimebundle holds static HTML cards,
  the exact log text (``text/plain``), and :data:`RECORD_MIMETYPE`, a JSON document with the
  log's path, the SHA-256 of the file, its entries and its text (:func:`record_bundle`,
  :class:`LogRecord`). Every magic's own output also carries the entry it wrote as plain text.
* **Embedded** (``designlog attach``): the same JSON document in the notebook's metadata under
  ``metadata["designlog"]`` (:func:`attach_log`).
* **Exported** (``designlog export``): one self-contained HTML or markdown file, the notebook as a
  person reads it followed by the full log, readable offline (:func:`export_notebook`).

Where the log of a notebook is, when it is not given (:func:`find_log`), in this order:

1. the log path of the last record shown in the notebook's outputs;
2. the log path stored in ``metadata["designlog"]`` by an earlier attach;
3. the directory of the last ``%designlog start DIR`` line in the notebook's code cells.

Relative paths are taken from the notebook's folder (where its kernel runs); a candidate whose
file does not exist is passed over for the next.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import re
import shlex
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .display import CSS as CARD_CSS
from .display import LogView, entry_card_html, escape
from .entry import Entry
from .exceptions import DesignLogError
from .store import LOG_FILENAME, DesignLog, find_log_file
from .textformat import ParseResult, parse

RECORD_MIMETYPE = "application/vnd.designlog+json"
RECORD_VERSION = 1
METADATA_KEY = "designlog"
EXPORT_FORMATS = ("html", "markdown")

# What the magics print before an entry they showed but could not (or were told not to) write.
_NOT_LOGGED_MARK = "(not logged)"
_SCRIPT_MIMETYPES = (
    "application/vnd.jupyter.widget-view+json",
    "application/vnd.jupyter.widget-state+json",
    "application/javascript",
)
_NETWORK_SCRIPT_RE = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//[^>]*>.*?</script\s*>",
    re.IGNORECASE | re.DOTALL,
)
_NETWORK_LINK_RE = re.compile(
    r"<link\b[^>]*\bhref\s*=\s*[\"']?\s*(?:https?:)?//[^>]*>", re.IGNORECASE | re.DOTALL
)
_WIDGET_SCRIPT_RE = re.compile(
    r"<script\b[^>]*\btype\s*=\s*[\"']?application/vnd\.jupyter\.widget-[^>]*>.*?</script\s*>",
    re.IGNORECASE | re.DOTALL,
)
_START_LINE_RE = re.compile(r"^\s*%designlog\s+start\b(.*)$")
_MARKDOWN_IMAGE_RE = re.compile(r"(!\[[^\]]*\]\()([^)\s]+)(\))")


class RecordError(DesignLogError, ValueError):
    """A notebook or log that cannot serve as a record (unreadable, not found, invalid)."""


# -- a log, read once ----------------------------------------------------------------------
@dataclass(frozen=True)
class LogSnapshot:
    """A log as it was read: where from, its exact text, the SHA-256 of its bytes, its entries."""

    path: Path
    text: str
    sha256: str
    entries: tuple[Entry, ...] = field(default=())

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> LogSnapshot:
        """Read a log file, or the log of an experiment directory (raises ``OSError``)."""
        target = Path(path).expanduser()
        target = find_log_file(target)
        data = target.read_bytes()
        text = data.decode("utf-8", errors="replace")
        result = parse(text)
        snapshot = cls(
            Path(os.path.abspath(target)),
            text,
            hashlib.sha256(data).hexdigest(),
            tuple(result.entries),
        )
        snapshot.__dict__["parsed"] = result  # parsed once; the cached property keeps it
        return snapshot

    @classmethod
    def from_log(cls, log: DesignLog) -> LogSnapshot:
        """The file of ``log`` as it is now; an empty snapshot if nothing was written yet."""
        try:
            return cls.from_file(log.path)
        except FileNotFoundError:
            return cls(Path(os.path.abspath(log.path)), "", hashlib.sha256(b"").hexdigest(), ())

    @classmethod
    def from_document(cls, document: object) -> LogSnapshot:
        """The snapshot a record document (:meth:`as_document`) describes."""
        if not isinstance(document, Mapping):
            raise RecordError("a design-log record must be a JSON object")
        try:
            text = document.get("text", "")
            if not isinstance(text, str):
                raise TypeError("text is not a string")
            raw_entries = document.get("entries")
            if raw_entries is None:
                entries = tuple(parse(text).entries)
            else:
                entries = tuple(Entry.from_dict(item) for item in raw_entries)
            return cls(
                Path(str(document.get("log_path", ""))),
                text,
                str(document.get("sha256", "")),
                entries,
            )
        except (TypeError, KeyError, ValueError, AssertionError, AttributeError) as exc:
            raise RecordError(f"unreadable design-log record: {exc}") from None

    def as_document(self) -> dict[str, Any]:
        """The JSON document of a record: version, log path, sha256, entries, text."""
        return {
            "version": RECORD_VERSION,
            "log_path": str(self.path),
            "sha256": self.sha256,
            "entries": [entry.as_dict() for entry in self.entries],
            "text": self.text,
        }

    @cached_property
    def parsed(self) -> ParseResult:
        """The text parsed afresh (line numbers and diagnostics for the audit)."""
        return parse(self.text)


def _snapshot(log: DesignLog | LogSnapshot | str | os.PathLike[str]) -> LogSnapshot:
    if isinstance(log, LogSnapshot):
        return log
    if isinstance(log, DesignLog):
        return LogSnapshot.from_log(log)
    return LogSnapshot.from_file(log)


def _fenced(text: str, info: str = "text") -> str:
    """``text`` in a fenced code block whose fence no backtick run inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def _summary_line(snapshot: LogSnapshot) -> str:
    count = len(snapshot.entries)
    return (
        f"{snapshot.path} ({count} entr{'y' if count == 1 else 'ies'}, SHA-256 {snapshot.sha256})"
    )


def record_html(snapshot: LogSnapshot) -> str:
    """Static HTML of a whole log: the cards, then the exact text (no scripts)."""
    view = LogView(list(snapshot.entries), f"Design log record: {_summary_line(snapshot)}")
    problems = snapshot.parsed.diagnostics
    note = ""
    if problems:
        items = "".join(f"<li>{escape(str(d))}</li>" for d in problems)
        note = (
            f'<div class="dlm-note">Parts of the log that could not be read:<ul>{items}</ul></div>'
        )
    return (
        f'<div class="dlm-record" data-sha256="{escape(snapshot.sha256)}">'
        f"{view._repr_html_()}{note}"
        f"<details><summary>Log text</summary>"
        f'<pre class="dlm-output dlm-logtext">{escape(snapshot.text)}</pre></details></div>'
    )


def record_markdown(snapshot: LogSnapshot) -> str:
    """The log as markdown: a line naming it, then its exact text fenced."""
    return f"**Design log record:** {_summary_line(snapshot)}\n\n{_fenced(snapshot.text)}"


def record_bundle(log: DesignLog | LogSnapshot | str | os.PathLike[str]) -> dict[str, Any]:
    """A display mimebundle of the whole log, for ``display(bundle, raw=True)``.

    ``text/html`` (static cards), ``text/markdown``, ``text/plain`` (the exact log text) and
    :data:`RECORD_MIMETYPE` (the JSON document).
    """
    snapshot = _snapshot(log)
    return {
        "text/html": record_html(snapshot),
        "text/markdown": record_markdown(snapshot),
        "text/plain": snapshot.text,
        RECORD_MIMETYPE: snapshot.as_document(),
    }


class LogRecord:
    """The log as it is when this object is made, shown as a record by Jupyter."""

    def __init__(self, log: DesignLog | LogSnapshot | str | os.PathLike[str]) -> None:
        self.snapshot = _snapshot(log)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return record_bundle(self.snapshot)

    def __repr__(self) -> str:
        return self.snapshot.text


# -- reading a notebook ------------------------------------------------------------------------
def read_notebook(path: str | os.PathLike[str]) -> Any:
    """Read a notebook as nbformat 4 (a ``NotebookNode``); ``RecordError`` when it is missing or
    not a notebook."""
    import nbformat  # imported when needed: it takes most of a second

    target = Path(path)
    try:
        with open(target, encoding="utf-8") as handle:
            return nbformat.read(handle, as_version=4)
    except FileNotFoundError:
        raise RecordError(f"no notebook at {target}") from None
    except IsADirectoryError:
        raise RecordError(f"{target} is a directory, not a notebook") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"cannot read {target}: {exc}") from None
    except Exception as exc:  # nbformat raises several types for a file that is not a notebook
        raise RecordError(f"{target} is not a readable notebook: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def cell_label(nb: Any, number: int) -> str:
    """``cell 14 (In [13])``: a cell by its place in the notebook and, once run, its prompt."""
    cells = nb.get("cells", [])
    count = cells[number - 1].get("execution_count") if 0 < number <= len(cells) else None
    return f"cell {number}" + (f" (In [{count}])" if count is not None else "")


def _outputs(nb: Any) -> Iterator[tuple[int, Any]]:
    """(1-based cell number, output) for every display output of the notebook."""
    for number, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") in ("display_data", "execute_result"):
                yield number, output


def log_from_metadata(nb: Any) -> LogSnapshot | None:
    """The log embedded by :func:`attach_log`, if any (``RecordError`` if it is unreadable)."""
    document = nb.get("metadata", {}).get(METADATA_KEY)
    if document is None:
        return None
    return LogSnapshot.from_document(document)


def records_in_outputs(nb: Any) -> list[tuple[int, LogSnapshot]]:
    """Every record shown in the outputs, as (cell number, snapshot), in notebook order."""
    found = []
    for number, output in _outputs(nb):
        document = output.get("data", {}).get(RECORD_MIMETYPE)
        if document is not None:
            found.append((number, LogSnapshot.from_document(document)))
    return found


@dataclass(frozen=True)
class ShownEntry:
    """An entry found in a notebook's outputs: the cell (1-based) and ``record`` or ``output``;
    ``where`` says so for messages (``cell 5 (In [4]), in an output``)."""

    entry: Entry
    cell: int
    source: str
    where: str = ""


def _plain_text(output: Any) -> str:
    text = output.get("data", {}).get("text/plain", "")
    return "".join(text) if isinstance(text, list) else str(text)


def notebook_copy(nb: Any) -> tuple[LogSnapshot, str] | None:
    """The notebook's own copy of its log, and where it is: the one embedded in its metadata,
    else the last record in its outputs (``None`` when it has neither)."""
    embedded = log_from_metadata(nb)
    if embedded is not None:
        return embedded, "the notebook's designlog metadata"
    records = records_in_outputs(nb)
    if records:
        cell, snapshot = records[-1]
        return snapshot, f"the record shown in {cell_label(nb, cell)}"
    return None


def entries_in_outputs(nb: Any) -> list[ShownEntry]:
    """Every entry the outputs show: from records' JSON, and parsed from the plain text of other
    outputs (each magic's output holds its entry as log text). Entries marked
    ``(not logged)`` were shown without being written, and are left out."""
    shown: list[ShownEntry] = []
    for number, output in _outputs(nb):
        data = output.get("data", {})
        document = data.get(RECORD_MIMETYPE)
        label = cell_label(nb, number)
        if document is not None:
            snapshot = LogSnapshot.from_document(document)
            where = f"{label}, in a design-log record"
            shown.extend(ShownEntry(e, number, "record", where) for e in snapshot.entries)
            continue
        text = _plain_text(output)
        if "] " not in text:
            continue
        result = parse(text)
        lines = text.replace("\r\n", "\n").split("\n")
        for entry, line in zip(result.entries, result.entry_lines, strict=True):
            if line >= 2 and lines[line - 2].strip() == _NOT_LOGGED_MARK:
                continue
            shown.append(ShownEntry(entry, number, "output", f"{label}, in an output"))
    return shown


def start_directories(nb: Any) -> list[str]:
    """The ``DIR`` of every ``%designlog start DIR`` line in the code cells, in order."""
    found = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for line in str(cell.get("source", "")).splitlines():
            match = _START_LINE_RE.match(line)
            if not match:
                continue
            try:
                words = shlex.split(match.group(1), comments=True)
            except ValueError:
                continue
            directory = _start_directory(words)
            if directory:
                found.append(directory)
    return found


def _start_directory(words: list[str]) -> str | None:
    index = 0
    while index < len(words):
        word = words[index]
        if word in ("--panel", "--placement"):
            index += 2
            continue
        if word == "--paths":
            index += 1
            while index < len(words) and "=" in words[index] and not words[index].startswith("-"):
                index += 1
            continue
        if word.startswith("-"):
            index += 1
            continue
        return word
    return None


@dataclass(frozen=True)
class LogLocation:
    """Where a notebook's log was found, and how (for messages)."""

    path: Path
    how: str


def _log_file(candidate: str | os.PathLike[str], base: Path) -> Path:
    """A log file from a file or experiment-directory path (relative ones taken from ``base``).

    A path that does not exist is a log file when its name ends in ``.log``, else a directory.
    """
    path = Path(os.path.expanduser(str(candidate)))
    if not path.is_absolute():
        path = base / path
    if path.is_dir() or (not path.exists() and path.suffix != ".log"):
        path = find_log_file(path) if path.is_dir() else path / LOG_FILENAME
    return Path(os.path.abspath(path))


def log_candidates(nb: Any, notebook_path: str | os.PathLike[str]) -> list[LogLocation]:
    """Where the notebook says its log is, in the order of the module docstring."""
    base = Path(notebook_path).resolve().parent
    candidates = []
    try:
        records = records_in_outputs(nb)
    except RecordError:
        records = []
    for number, snapshot in reversed(records):
        if str(snapshot.path) not in ("", "."):
            candidates.append(
                LogLocation(
                    _log_file(snapshot.path, base), f"the record shown in {cell_label(nb, number)}"
                )
            )
    document = nb.get("metadata", {}).get(METADATA_KEY)
    if isinstance(document, Mapping) and document.get("log_path"):
        candidates.append(
            LogLocation(
                _log_file(str(document["log_path"]), base), "the notebook's designlog metadata"
            )
        )
    for directory in reversed(start_directories(nb)):
        if "$" in directory or "{" in directory:
            continue  # a variable the kernel expanded; not knowable from the text
        candidates.append(LogLocation(_log_file(directory, base), "a %designlog start line"))
    return candidates


def find_log(
    nb: Any,
    notebook_path: str | os.PathLike[str],
    log_path: str | os.PathLike[str] | None = None,
) -> LogLocation:
    """The log file of a notebook: ``log_path`` if given, else the first existing candidate."""
    if log_path is not None:
        path = _log_file(log_path, Path.cwd())
        if not path.is_file():
            raise RecordError(f"no design log at {path}")
        return LogLocation(path, "given")
    candidates = log_candidates(nb, notebook_path)
    for candidate in candidates:
        if candidate.path.is_file():
            return candidate
    if not candidates:
        raise RecordError(
            f"{notebook_path} names no design log (no record output, no designlog metadata, "
            f"no %designlog start line); give the log with --log"
        )
    tried = "; ".join(f"{c.path} (from {c.how})" for c in candidates)
    raise RecordError(f"the design log of {notebook_path} was not found: tried {tried}")


# -- attach --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttachResult:
    """What :func:`attach_log` wrote into the notebook."""

    notebook: Path
    log: LogSnapshot
    how: str

    def __str__(self) -> str:
        return f"attached {_summary_line(self.log)} to {self.notebook} (log found from {self.how})"


def attach_log(
    notebook_path: str | os.PathLike[str], log_path: str | os.PathLike[str] | None = None
) -> AttachResult:
    """Write the log (text, entries, SHA-256 of the file) into ``metadata["designlog"]``.

    The notebook is validated before it is written, and replaced in one rename, so it is never
    left half-written or invalid. Without ``log_path`` the log is found by :func:`find_log`.
    """
    path = Path(notebook_path)
    nb = read_notebook(path)
    location = find_log(nb, path, log_path)
    snapshot = LogSnapshot.from_file(location.path)
    nb.metadata[METADATA_KEY] = snapshot.as_document()
    import nbformat

    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise RecordError(f"{path} would not be a valid notebook: {_one_line(exc)}") from None
    text = nbformat.writes(nb, version=4)
    _replace_file(path, text)
    return AttachResult(path, snapshot, location.how)


def _replace_file(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if not text.endswith("\n"):
                handle.write("\n")
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- export --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_notebook` wrote."""

    path: Path
    to: str
    log: LogSnapshot
    removed_references: int

    def __str__(self) -> str:
        return f"wrote {self.path} ({self.to}; log {_summary_line(self.log)})"


_EXPORT_CSS = (
    "body{margin:0;background:#fff;color:#1a1a1a;font-family:system-ui,-apple-system,"
    "'Segoe UI',Roboto,sans-serif;line-height:1.45}"
    "main{max-width:1100px;margin:0 auto;padding:16px 24px}"
    ".dlm-export-head{color:#555;font-size:13px;border-bottom:1px solid #ddd;margin-bottom:12px}"
    ".cell{margin:10px 0}"
    ".input,.output_area{display:flex;gap:8px}"
    ".prompt{flex:0 0 6em;text-align:right;font-family:monospace;font-size:12px;color:#307fc1;"
    "padding-top:4px}"
    ".output_prompt{color:#bf5b3d}"
    ".inner_cell,.output_subarea,.text_cell_render{flex:1;min-width:0}"
    ".text_cell .prompt{display:none}"
    ".input_area{background:#f7f7f7;border:1px solid #e0e0e0;border-radius:3px;padding:4px 8px}"
    "pre{margin:0;white-space:pre-wrap;word-break:break-word;font-family:monospace;"
    "font-size:13px}"
    ".output_stderr,.output_error{background:#fff0f0}"
    ".output_subarea img{max-width:100%}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px}"
    ".dlm-log-section{margin-top:24px;border-top:2px solid #2e7d32;padding-top:8px}"
    ".dlm-log-section pre.dlm-logtext{background:#f7f7f7;border:1px solid #ddd;padding:8px;"
    "overflow:auto}"
)


def network_references(text: str) -> list[str]:
    """``<script src>`` and ``<link href>`` tags that would load something over the network."""
    return [m.group() for m in _NETWORK_SCRIPT_RE.finditer(text)] + [
        m.group() for m in _NETWORK_LINK_RE.finditer(text)
    ]


def _strip_network(text: str) -> tuple[str, int]:
    text, scripts = _NETWORK_SCRIPT_RE.subn("", text)
    text, links = _NETWORK_LINK_RE.subn("", text)
    text, widgets = _WIDGET_SCRIPT_RE.subn("", text)
    return text, scripts + links + widgets


def _static_copy(nb: Any, to: str, base: Path) -> Any:
    """A copy of the notebook without widget state or scripts; for markdown, images inline
    (HTML embeds them itself)."""
    import nbformat

    nb = nbformat.from_dict(nb)  # a deep copy
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and to == "markdown":
            cell.source = _inline_images(cell.source, cell.get("attachments") or {}, base)
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is None:
                continue
            for mimetype in _SCRIPT_MIMETYPES:
                data.pop(mimetype, None)
            if to == "markdown" and "text/markdown" not in data and "text/html" not in data:
                image = _markdown_image(data)
                if image:
                    data["text/markdown"] = image
    return nb


def _markdown_image(data: Mapping[str, Any]) -> str | None:
    for mimetype in ("image/png", "image/jpeg", "image/gif", "image/svg+xml"):
        if mimetype in data:
            payload = data[mimetype]
            payload = "".join(payload) if isinstance(payload, list) else str(payload)
            if mimetype == "image/svg+xml":
                payload = base64.b64encode(payload.encode("utf-8")).decode("ascii")
            payload = "".join(payload.split())
            alt = _plain_text({"data": data}).splitlines()[:1] or ["image"]
            alt_text = re.sub(r"[\[\]]", "", alt[0]) or "image"
            return f"![{alt_text}](data:{mimetype};base64,{payload})"
    return None


def _inline_images(source: str, attachments: Mapping[str, Any], base: Path) -> str:
    """Markdown images from the cell's attachments or local files, as data URIs."""

    def replace(match: re.Match[str]) -> str:
        head, target, tail = match.groups()
        if target.startswith("attachment:"):
            bundle = attachments.get(target[len("attachment:") :]) or {}
            for mimetype, payload in bundle.items():
                if mimetype.startswith("image/"):
                    payload = "".join(payload) if isinstance(payload, list) else str(payload)
                    return f"{head}data:{mimetype};base64,{''.join(payload.split())}{tail}"
            return match.group()
        if ":" in target or target.startswith("/"):
            return match.group()  # a URL or an absolute path: left as written
        mimetype = mimetypes.guess_type(target)[0] or ""
        path = base / target
        if not mimetype.startswith("image/") or not path.is_file():
            return match.group()
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"{head}data:{mimetype};base64,{payload}{tail}"

    return _MARKDOWN_IMAGE_RE.sub(replace, source)


def _html_page(title: str, body: str, snapshot: LogSnapshot, how: str) -> str:
    from pygments.formatters import HtmlFormatter

    highlight = HtmlFormatter(style="default").get_style_defs(".highlight")
    log_section = (
        '<section class="dlm-log-section" id="design-log"><h2>Design log</h2>'
        f'<p class="dlm-note">{escape(_summary_line(snapshot))}</p>'
        f"{CARD_CSS}{''.join(entry_card_html(entry) for entry in snapshot.entries)}"
        "<h3>Log text</h3>"
        f'<pre class="dlm-logtext">{escape(snapshot.text)}</pre></section>'
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{_EXPORT_CSS}\n{highlight}</style>\n</head>\n<body>\n<main>\n"
        f'<div class="dlm-export-head">{escape(title)}: the notebook, then its design log '
        f"({escape(how)})</div>\n{body}\n{log_section}\n</main>\n</body>\n</html>\n"
    )


def export_notebook(
    notebook_path: str | os.PathLike[str],
    to: str = "html",
    output: str | os.PathLike[str] | None = None,
    *,
    log_path: str | os.PathLike[str] | None = None,
) -> ExportResult:
    """One self-contained record: the notebook as a person reads it, then the full log.

    ``to`` is ``"html"`` (a page with its CSS inlined and images embedded; no scripts from the
    network, no widget state) or ``"markdown"`` (images as data URIs; the log in a fenced
    block). ``output`` defaults to the notebook's path with ``.html`` or ``.md``. The log is the
    file :func:`find_log` finds; when there is none, the copy embedded in the notebook's
    metadata.
    """
    if to not in EXPORT_FORMATS:
        raise RecordError(f"cannot export to {to!r}: use one of {', '.join(EXPORT_FORMATS)}")
    path = Path(notebook_path)
    nb = read_notebook(path)
    try:
        location = find_log(nb, path, log_path)
        snapshot = LogSnapshot.from_file(location.path)
        how = f"{location.path}, found from {location.how}"
    except RecordError:
        copy = None if log_path is not None else notebook_copy(nb)
        if copy is None:
            raise
        snapshot, where = copy
        how = f"the copy in {where}; the log file was not found"
    target = (
        Path(output) if output is not None else path.with_suffix(".html" if to == "html" else ".md")
    )
    if target.resolve() == path.resolve():
        raise RecordError(f"the export would overwrite the notebook {path}")
    static = _static_copy(nb, to, path.resolve().parent)
    resources = {"metadata": {"path": str(path.resolve().parent), "name": path.stem}}
    if to == "html":
        from nbconvert import HTMLExporter

        html_exporter = HTMLExporter(
            template_name="basic", embed_images=True, exclude_anchor_links=True
        )
        body, _ = html_exporter.from_notebook_node(static, resources=resources)
        text = _html_page(path.stem, body, snapshot, how)
    else:
        from nbconvert import MarkdownExporter
        from traitlets.config import Config

        config = Config()
        config.ExtractOutputPreprocessor.enabled = False
        config.ExtractAttachmentsPreprocessor.enabled = False
        config.NbConvertBase.display_data_priority = [
            "text/markdown",
            "text/html",
            "image/svg+xml",
            "text/latex",
            "image/png",
            "image/jpeg",
            "text/plain",
        ]
        exporter = MarkdownExporter(config=config)
        body, _ = exporter.from_notebook_node(static, resources=resources)
        text = (
            f"{body.rstrip()}\n\n## Design log\n\n"
            f"{_summary_line(snapshot)}; {how}.\n\n{_fenced(snapshot.text)}\n"
        )
    text, removed = _strip_network(text)
    remaining = network_references(text)
    if remaining:  # pragma: no cover - the patterns above remove what this finds
        raise RecordError(f"the export still loads from the network: {remaining[0]}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return ExportResult(target, to, snapshot, removed)
