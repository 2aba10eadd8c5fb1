"""Entries and command output as static rich output: HTML, markdown and plain text.

Everything a notebook shows goes through here, and every piece of text is escaped here: command
output and file names are data, not HTML. The output is static (no widgets, no scripts), so it
stays readable in a saved or exported notebook without a kernel.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from .entry import Entry
from .spec import action_family
from .textformat import render

FAMILY_COLOURS = {
    "verify": "#1565c0",
    "search": "#6a1b9a",
    "calculate": "#00838f",
    "decide": "#ef6c00",
    "create": "#2e7d32",
    "session": "#546e7a",
    "other": "#616161",
}
MAX_OUTPUT_LINES = 40

CSS = (
    "<style>"
    ".dlm-card{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;"
    "border:1px solid #ccc;border-left:4px solid var(--dlm-colour);border-radius:3px;"
    "padding:4px 8px;margin:4px 0;background:var(--jp-layout-color0,#fff)}"
    ".dlm-card.dlm-failed{border-color:#c62828;background:#fff5f5}"
    ".dlm-card.dlm-warned{border-color:#f9a825;background:#fffbea}"
    ".dlm-head{display:flex;gap:6px;align-items:baseline;flex-wrap:wrap}"
    ".dlm-time{color:#777;font-family:monospace;font-size:12px}"
    ".dlm-badge{color:#fff;background:var(--dlm-colour);border-radius:3px;padding:0 5px;"
    "font-family:monospace;font-size:11px;font-weight:bold}"
    ".dlm-brief{font-weight:600}"
    ".dlm-card .dlm-fields{margin:2px 0 0 0;padding:0;display:grid;"
    "grid-template-columns:max-content 1fr;gap:0 8px}"
    ".dlm-card .dlm-fields dt{color:#555;font-weight:600;margin:0;padding:0;float:none;"
    "width:auto;text-align:left}"
    ".dlm-card .dlm-fields dd{margin:0;padding:0;float:none;width:auto;white-space:pre-wrap;"
    "font-family:monospace;font-size:12px;word-break:break-word}"
    ".dlm-error dt,.dlm-error dd{color:#c62828}"
    ".dlm-output{max-height:24em;overflow:auto;background:#f7f7f7;padding:4px 6px;margin:2px 0;"
    "font-size:12px;white-space:pre-wrap}"
    ".dlm-stderr{background:#fff0f0}"
    ".dlm-note{color:#555;font-style:italic;font-size:12px;margin:2px 0}"
    "</style>"
)


def escape(text: str) -> str:
    """HTML-escape text (quotes included), the one way text enters markup."""
    return html.escape(text, quote=True)


def entry_card_html(entry: Entry, *, logged: bool = True) -> str:
    """One entry as a compact card: time, coloured badge, brief, fields."""
    classes = ["dlm-card", f"dlm-{action_family(entry.action)}"]
    if entry.failed:
        classes.append("dlm-failed")
    elif entry.warned:
        classes.append("dlm-warned")
    colour = FAMILY_COLOURS.get(action_family(entry.action), FAMILY_COLOURS["other"])
    rows = []
    for key, value in entry.fields:
        row_class = ' class="dlm-error"' if key in ("Error", "Warning") else ""
        rows.append(
            f'<div{row_class} style="display:contents"><dt>{escape(key)}</dt>'
            f"<dd>{escape(value)}</dd></div>"
        )
    status = "" if logged else '<span class="dlm-note">(not logged)</span>'
    return (
        f'<div class="{" ".join(classes)}" style="--dlm-colour:{colour}" '
        f'data-action="{escape(entry.action)}">'
        f'<div class="dlm-head"><span class="dlm-time">{escape(entry.time_text)}</span>'
        f'<span class="dlm-badge">{escape(entry.action)}</span>'
        f'<span class="dlm-brief">{escape(entry.brief)}</span>{status}</div>'
        f'<dl class="dlm-fields">{"".join(rows)}</dl></div>'
    )


def entry_markdown(entry: Entry) -> str:
    """The entry as markdown: its log text in a fenced block (exact, readable anywhere)."""
    text = render(entry).rstrip("\n")
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def truncate_lines(text: str, max_lines: int = MAX_OUTPUT_LINES) -> tuple[str, int]:
    """At most ``max_lines`` lines (head and tail), and how many were hidden."""
    lines = text.splitlines()
    if len(lines) <= max_lines:
        return text, 0
    head = max_lines * 2 // 3
    tail = max_lines - head
    hidden = len(lines) - head - tail
    return "\n".join(lines[:head] + lines[-tail:]), hidden


def output_html(text: str, *, stderr: bool = False, max_lines: int = MAX_OUTPUT_LINES) -> str:
    """Command output, escaped and truncated with the count of hidden lines."""
    if not text:
        return ""
    shown, hidden = truncate_lines(text.replace("\r\n", "\n"), max_lines)
    if hidden:
        lines = shown.split("\n")
        head = max_lines * 2 // 3
        shown = "\n".join(lines[:head] + [f"… {hidden:,} more lines hidden …"] + lines[head:])
    extra = " dlm-stderr" if stderr else ""
    return f'<pre class="dlm-output{extra}">{escape(shown)}</pre>'


@dataclass
class StepView:
    """What a magic shows: the commands it ran and their output, notes, and the entry."""

    entry: Entry | None = None
    logged: bool = True
    outputs: list[tuple[str, str, str]] = field(default_factory=list)  # (command, out, err)
    notes: list[str] = field(default_factory=list)
    max_lines: int = MAX_OUTPUT_LINES

    def _repr_html_(self) -> str:
        parts = [CSS]
        for command, stdout, stderr in self.outputs:
            parts.append(f'<div class="dlm-note">$ {escape(command)}</div>')
            parts.append(output_html(stdout, max_lines=self.max_lines))
            parts.append(output_html(stderr, stderr=True, max_lines=self.max_lines))
        for note in self.notes:
            parts.append(f'<div class="dlm-note">{escape(note)}</div>')
        if self.entry is not None:
            parts.append(entry_card_html(self.entry, logged=self.logged))
        return '<div class="dlm-step">' + "".join(parts) + "</div>"

    def _repr_markdown_(self) -> str:
        parts = []
        for command, stdout, stderr in self.outputs:
            body = truncate_lines((stdout + stderr).rstrip("\n"), self.max_lines)[0]
            parts.append(f"`$ {command}`\n\n```text\n{body}\n```")
        parts.extend(f"*{note}*" for note in self.notes)
        if self.entry is not None:
            parts.append(entry_markdown(self.entry))
        return "\n\n".join(parts)

    def __repr__(self) -> str:
        parts = []
        for command, stdout, stderr in self.outputs:
            parts.append(f"$ {command}")
            body = truncate_lines((stdout + stderr).rstrip("\n"), self.max_lines)
            parts.append(body[0] + (f"\n… {body[1]:,} more lines hidden …" if body[1] else ""))
        parts.extend(self.notes)
        if self.entry is not None:
            suffix = "" if self.logged else "(not logged)\n"
            parts.append(suffix + render(self.entry).rstrip("\n"))
        return "\n".join(p for p in parts if p)


@dataclass
class LogView:
    """A whole log (or part of it), statically rendered: ``%designlog show``."""

    entries: Sequence[Entry]
    title: str = ""

    def _repr_html_(self) -> str:
        title = f'<div class="dlm-note">{escape(self.title)}</div>' if self.title else ""
        cards = "".join(entry_card_html(e) for e in self.entries)
        return f'<div class="dlm-log">{CSS}{title}{cards}</div>'

    def _repr_markdown_(self) -> str:
        text = "".join(render(e) for e in self.entries).rstrip("\n")
        fence = "````" if "```" in text else "```"
        title = f"**{self.title}**\n\n" if self.title else ""
        return f"{title}{fence}text\n{text}\n{fence}"

    def __repr__(self) -> str:
        text = "".join(render(e) for e in self.entries)
        return (self.title + "\n\n" if self.title else "") + text


SHOWN_FIELDS = ("Run", "Outcome", "Tokens", "Error", "Warning", "Note")


def result_text(entries: Sequence[Entry], notes: Sequence[str] = ()) -> str:
    """What a verb says in plain text (the command line, an agent's reply): each entry's
    Result, then its Run, Outcome, Tokens, Error, Warning and Note lines; with no entry, the
    step's notes."""
    if not entries:
        return "".join(f"{note}\n" for note in notes)
    lines: list[str] = []
    for entry in entries:
        lines.append(entry.get("Result") or "")
        lines += [f"{key}: {value}" for key, value in entry.fields if key in SHOWN_FIELDS]
    return "\n".join(lines) + "\n"
