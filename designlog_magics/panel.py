"""The live panel: the design log beside the notebook, following the log file.

``open_panel(log, placement="split-right")`` builds an ipywidgets panel and shows it:

* a header with the log's path, the number of entries (failed and warned ones counted), the
  entries still pending (kept in memory because the file could not be written), the parts
  of the file that could not be read and, while looks at the file fail, why (once, with
  since when and how many looks); then a checklist of the design steps
  (:data:`~designlog_magics.audit.DESIGN_STEPS`), ticked from the log itself;
* filters: an action type (dropdown; "Failures and warnings" picks those out) and a text box
  (case-insensitive, over time, action, brief and fields);
* one compact card per entry (:func:`~designlog_magics.display.entry_card_html`, where all
  text is escaped), oldest first, the newest at the bottom and kept in view.

Where the panel goes
    At ``placement`` (one of :data:`~designlog_magics.placement.PANEL_PLACEMENTS`): a JupyterLab
    side panel (the ``sidecar`` package) where one can exist, else inline, saying why once in
    its own header (:func:`~designlog_magics.placement.side_panel_support` has the rules).

Following the file
    The panel follows ``design-experiment.log`` itself (a :class:`~.store.LogFollower` of its
    own, which reads only the bytes added since the last read), so entries written by another
    notebook, a script or the command line show up as well as the magics' own. In a kernel,
    :meth:`DesignLogPanel.refresh` is scheduled every :data:`FOLLOW_INTERVAL` seconds with
    ``call_later`` on the kernel's own asyncio event loop (the one ipykernel runs its message
    handlers on): no thread, no busy loop, and nothing runs while a cell executes, so the
    panel never competes with the user's code. The magics also call :meth:`refresh` right
    after each append. Outside a kernel nothing is scheduled: call :meth:`refresh` yourself.

Cost of an append
    Cards live in blocks. The entries present when the panel opens (or when a filter changes)
    become one HTML widget per block of :data:`BLOCK_SIZE` cards; each entry appended later
    gets its own small HTML widget in the last, live block of at most :data:`LIVE_BLOCK_SIZE`
    cards. An append therefore creates one widget, updates one list of at most
    :data:`LIVE_BLOCK_SIZE` children, and rewrites the header in place: the 5,000th entry costs
    what the 5th did. The list of blocks changes once per :data:`LIVE_BLOCK_SIZE` appends.
    Changing a filter re-renders.

Nothing here is imported by ``import designlog_magics``; ipywidgets and sidecar are imported
only when a panel is built.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .display import CSS, entry_card_html, escape
from .entry import Entry
from .placement import (
    DEFAULT_PLACEMENT,
    INLINE,
    SIDE_ANCHORS,
    current_shell,
    find_placement,
    in_kernel,
    placement_error,
    side_panel_support,
)
from .spec import DESIGN_STEPS, steps_done
from .store import DesignLog, LogFollower, find_log_file

FOLLOW_INTERVAL = 0.5  # seconds between two looks at the file while the kernel is idle
BLOCK_SIZE = 100  # cards per HTML widget, for entries shown in bulk
LIVE_BLOCK_SIZE = 20  # cards (one widget each) per live block, for entries appended one by one

ALL_TYPES = ""
PROBLEMS = "!problems"  # the dropdown's "Failures and warnings"

_PANEL_CSS = (
    "<style>"
    ".dlm-panel{box-sizing:border-box;width:100%;padding:4px 6px;"
    "font-family:var(--jp-ui-font-family,sans-serif)}"
    ".dlm-panel .widget-html,.dlm-panel .widget-html-content{margin:0;height:auto;"
    "line-height:normal;white-space:normal}"
    ".dlm-panel .widget-html-content{display:block;width:100%}"
    # Every rule below is scoped to the panel: the page is shared with the notebook's own
    # outputs (StepView, LogView), which use the same dlm- card classes.
    ".dlm-panel .dlm-panel-head{font-size:12px;color:var(--jp-ui-font-color1,#333);"
    "margin:0 0 4px 0}"
    ".dlm-panel .dlm-panel-title{font-size:14px;font-weight:700;margin-bottom:2px}"
    ".dlm-panel .dlm-panel-path{font-family:monospace;font-size:11px;word-break:break-all;"
    "color:#555}"
    ".dlm-panel .dlm-panel-counts{margin-top:2px}"
    ".dlm-panel .dlm-panel-counts span{margin-right:10px}"
    ".dlm-panel .dlm-count-failed{color:#c62828;font-weight:600}"
    ".dlm-panel .dlm-count-warned{color:#a86b00;font-weight:600}"
    ".dlm-panel .dlm-count-pending{color:#fff;background:#c62828;border-radius:3px;"
    "padding:0 4px}"
    ".dlm-panel .dlm-panel-notice{font-size:12px;font-style:italic;color:#555;margin:2px 0}"
    ".dlm-panel .dlm-panel-steps{display:flex;flex-wrap:wrap;gap:2px 10px;font-size:12px;"
    "margin:2px 0 4px 0}"
    ".dlm-panel .dlm-panel-step{white-space:nowrap;color:#888}"
    ".dlm-panel .dlm-panel-step.dlm-panel-step-done{color:#2e7d32;font-weight:600}"
    ".dlm-panel .dlm-panel-step.dlm-panel-step-optional{font-style:italic}"
    ".dlm-panel>.dlm-panel-body{border-top:1px solid #ddd;overflow-y:auto;overflow-x:hidden}"
    ".dlm-panel-inline>.dlm-panel-body{max-height:480px}"
    ".dlm-panel-side>.dlm-panel-body{max-height:calc(100vh - 240px)}"
    # In a side panel, the list takes whatever height the header leaves, whatever the width.
    "@supports selector(:has(a)){"
    ".jp-OutputArea-output:has(>.dlm-panel-side){display:flex;flex-direction:column;"
    "overflow:hidden}"
    ".dlm-panel-side{flex:1 1 auto;min-height:0}"
    ".dlm-panel-side>.dlm-panel-body{flex:1 1 0;min-height:80px;max-height:none}"
    "}"
    ".dlm-panel .dlm-panel-header.widget-html{flex-wrap:wrap}"
    ".dlm-panel .dlm-panel-empty{color:#777;font-style:italic;font-size:12px;padding:4px 0}"
    ".dlm-panel .dlm-card{margin:3px 0}"
    # A panel whose kernel restarted or stopped: JupyterLab keeps it, frozen, and marks every
    # view of it disconnected. Say so once, at the top, and grey out the rest.
    ".dlm-panel .jupyter-widgets-disconnected::before{display:none}"
    ".dlm-panel.jupyter-widgets-disconnected .dlm-panel-body,"
    ".dlm-panel.jupyter-widgets-disconnected .dlm-panel-checklist{opacity:.55}"
    ".dlm-panel.jupyter-widgets-disconnected .dlm-panel-header::after{display:block;"
    "flex:1 0 100%;"
    "content:'Not live: the kernel that drew this panel was restarted or stopped. "
    "Close it; %designlog start (or %designlog panel) opens a live one.';"
    "color:#c62828;font-weight:600;font-size:12px;margin:2px 0}"
    # JupyterLab's output-area rules (dl: block; dt, dd: float 20% / 80%) outrank the card's
    # own grid; these outrank them back.
    ".dlm-panel .dlm-card .dlm-fields{display:grid;width:auto;overflow:visible}"
    ".dlm-panel .dlm-card .dlm-fields dt,.dlm-panel .dlm-card .dlm-fields dd{float:none;"
    "width:auto;display:block;padding:0}"
    "</style>"
)


def _kernel_loop(shell: Any) -> asyncio.AbstractEventLoop | None:
    """The event loop ipykernel runs its handlers on, or None outside a kernel."""
    if not in_kernel(shell):
        return None
    try:
        return asyncio.get_running_loop()  # a cell runs inside the kernel's loop
    except RuntimeError:
        pass
    io_loop = getattr(shell.kernel, "io_loop", None)
    loop = getattr(io_loop, "asyncio_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


def _close_with_parts(widget: Any) -> None:
    """Close a widget and the layout and style models it owns."""
    for part in ("layout", "style"):
        owned = getattr(widget, part, None)
        if owned is not None and hasattr(owned, "close"):
            owned.close()
    widget.close()


class _PanelView:
    """What ``display`` shows: the widget, with a one-line text form (not a huge repr)."""

    def __init__(self, panel: DesignLogPanel) -> None:
        self.panel = panel

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        return {
            "text/plain": self.panel.summary(),
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self.panel.widget.model_id,
            },
        }

    def __repr__(self) -> str:
        return self.panel.summary()


# -- the panel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadFailure:
    """Looks at the log that keep failing the same way (``since``: time of the first)."""

    message: str
    since: float
    looks: int


def _haystack(entry: Entry) -> str:
    parts = [entry.time_text, entry.action, entry.brief]
    parts.extend(f"{key}: {value}" for key, value in entry.fields)
    return "\n".join(parts).lower()


class DesignLogPanel:
    """A live view of one log file. Build it with :func:`open_panel`.

    ``refresh()`` reads what was appended and shows it; ``entries_shown()`` is what the panel
    holds now (after filters); ``close()`` stops following and removes the widgets.
    """

    def __init__(
        self,
        log: DesignLog | str | os.PathLike[str],
        *,
        title: str | None = None,
        block_size: int = BLOCK_SIZE,
        live_block_size: int = LIVE_BLOCK_SIZE,
        inline: bool = True,
    ) -> None:
        import ipywidgets as widgets

        self._w = widgets
        if isinstance(log, DesignLog):
            self.log: DesignLog | None = log
            self.path = log.path
        else:
            self.log = None
            path = Path(log).expanduser()
            self.path = find_log_file(path)
        self.title = title or f"Design log: {self.path.parent.name}"
        self.block_size = max(1, int(block_size))
        self.live_block_size = max(1, min(int(live_block_size), self.block_size))
        self.placement = "inline"  # where it is shown: "inline" or a sidecar anchor
        self.requested_placement = "inline"
        self.fallback_reason: str | None = None
        self.interval = FOLLOW_INTERVAL
        self.closed = False
        self.errors: list[str] = []  # what went wrong while following: one line per failure
        self.failure: ReadFailure | None = None  # the failure going on now, if any

        self._follower = LogFollower(self.path)
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._sidecar: Any = None
        self._notices: list[str] = []

        # everything read from the file, in order
        self._entries: list[Entry] = []
        self._cards: list[str] = []  # card HTML, per entry
        self._texts: list[str] = []  # lower-case text for the text filter, per entry
        self._actions: set[str] = set()
        self._done = dict.fromkeys((step.key for step in DESIGN_STEPS), False)
        self._failed = 0
        self._warned = 0

        # what the view holds
        self._shown: list[int] = []
        self._blocks: list[Any] = []  # block widgets, in order (HTML or VBox of HTML)
        self._open_block: Any = None  # the VBox taking appended cards, or None
        self._open_cards: list[Any] = []
        self._header_state: tuple[Any, ...] | None = None
        self._checklist_state: tuple[bool, ...] | None = None
        self._updating_options = False

        self._build(inline)
        self.refresh()

    # -- widgets -------------------------------------------------------------------------
    def _build(self, inline: bool) -> None:
        w = self._w
        self._card_layout = w.Layout(width="100%")
        self._card_style = w.widgets.widget_string.HTMLStyle()
        self._block_layout = w.Layout(width="100%")
        self._style = w.HTML(CSS + _PANEL_CSS)
        self._style.layout.display = "none"
        self._header = w.HTML()
        self._header.add_class("dlm-panel-header")
        self._notice = w.HTML()
        self._notice.layout.display = "none"
        self._checklist = w.HTML()
        self._checklist.add_class("dlm-panel-checklist")
        self._type_filter = w.Dropdown(
            options=[("All types", ALL_TYPES), ("Failures and warnings", PROBLEMS)],
            value=ALL_TYPES,
            description="Type",
            layout=w.Layout(width="auto", min_width="180px", flex="0 1 auto"),
            style={"description_width": "34px"},
        )
        self._type_filter.add_class("dlm-filter-type")
        self._text_filter = w.Text(
            value="",
            placeholder="filter text…",
            description="Text",
            continuous_update=True,
            layout=w.Layout(width="auto", flex="1 1 auto", min_width="120px"),
            style={"description_width": "34px"},
        )
        self._text_filter.add_class("dlm-filter-text")
        self._filters = w.HBox(
            [self._type_filter, self._text_filter],
            layout=w.Layout(width="100%", flex_flow="row wrap"),
        )
        self._empty = w.HTML('<div class="dlm-panel-empty">No entries yet.</div>')
        # margin-bottom auto: when the cards do not fill the list, they sit at its top
        self._cards_box = w.VBox(
            layout=w.Layout(width="100%", flex="0 0 auto", margin="0 0 auto 0")
        )
        self._cards_box.add_class("dlm-panel-cards")
        # column-reverse: the scroll position starts at the bottom and stays there as cards
        # are added (unless the reader scrolled up), so the newest entry is in view.
        self._body = w.VBox(
            [self._cards_box],
            layout=w.Layout(width="100%", flex_flow="column-reverse", overflow="auto"),
        )
        self._body.add_class("dlm-panel-body")
        self.widget = w.VBox(
            [
                self._style,
                self._header,
                self._notice,
                self._checklist,
                self._filters,
                self._empty,
                self._body,
            ],
            layout=w.Layout(width="100%"),
        )
        self.widget.add_class("dlm-panel")
        self.widget.add_class("dlm-panel-inline" if inline else "dlm-panel-side")
        self._static = [
            self._style,
            self._header,
            self._notice,
            self._checklist,
            self._type_filter,
            self._text_filter,
            self._filters,
            self._empty,
            self._cards_box,
            self._body,
            self.widget,
            self._card_layout,
            self._card_style,
            self._block_layout,
        ]
        self._type_filter.observe(self._on_filter, names="value")
        self._text_filter.observe(self._on_filter, names="value")

    def _new_card(self, index: int) -> Any:
        # One layout and one style model for all cards: an append opens a single model.
        return self._w.HTML(
            self._cards[index],
            layout=self._card_layout,
            style=self._card_style,
            _dom_classes=("dlm-panel-card",),
        )

    def _sealed_block(self, indices: list[int]) -> Any:
        return self._w.HTML(
            "".join(self._cards[i] for i in indices),
            layout=self._card_layout,
            style=self._card_style,
            _dom_classes=("dlm-panel-block",),
        )

    def _new_block(self) -> Any:
        return self._w.VBox(layout=self._block_layout, _dom_classes=("dlm-panel-block",))

    # -- reading -------------------------------------------------------------------------
    def refresh(self) -> list[Entry]:
        """Read the entries appended to the file since the last look and show them.

        Returns the new entries. Costs in proportion to what is new, not to the log's length.
        """
        with self._lock:
            if self.closed:
                return []
            new = self._follower.poll()
            if self._follower.restarted:
                self._follower.restarted = False
                self._reset()
                self._notify("The log file was replaced or shortened: shown afresh from the file.")
            if new:
                self._add(new)
            self.failure = None  # a look worked: whatever failed before is over
            self._update_header()
            return new

    poll = refresh

    def _add(self, new: list[Entry]) -> None:
        start = len(self._entries)
        before = set(self._actions)
        for entry in new:
            self._entries.append(entry)
            self._cards.append(entry_card_html(entry))
            self._texts.append(_haystack(entry))
            self._actions.add(entry.action)
            if entry.failed:
                self._failed += 1
            elif entry.warned:
                self._warned += 1
        for key, done in steps_done(new).items():
            if done:
                self._done[key] = True
        if self._actions != before:
            self._update_type_options()
        matching = [i for i in range(start, len(self._entries)) if self._matches(i)]
        self._show_more(matching)
        self._update_checklist()

    def _show_more(self, indices: list[int]) -> None:
        """Add cards at the end of the view.

        Cards first fill the live block (one widget each, at most ``live_block_size``); whole
        blocks' worth of the rest become one HTML widget per block (``block_size`` cards, then
        ``live_block_size``); what remains starts a new live block. So a single append adds
        one widget and rewrites one short list of children, and the list of blocks changes
        only when a live block is full.
        """
        if not indices:
            return
        self._shown.extend(indices)
        live = self.live_block_size
        position = 0
        if self._open_block is not None and len(self._open_cards) < live:
            position = min(live - len(self._open_cards), len(indices))
            self._fill_open_block(indices[:position])
        new_blocks = []
        for size in (self.block_size, live):
            while len(indices) - position >= size:
                new_blocks.append(self._sealed_block(indices[position : position + size]))
                position += size
        if position < len(indices):
            self._open_block, self._open_cards = self._new_block(), []
            new_blocks.append(self._open_block)
            self._fill_open_block(indices[position:])
        elif new_blocks:
            self._open_block, self._open_cards = None, []
        if new_blocks:
            self._blocks.extend(new_blocks)
            self._cards_box.children = tuple(self._blocks)
        self._empty.layout.display = "none"

    def _fill_open_block(self, indices: list[int]) -> None:
        self._open_cards.extend(self._new_card(index) for index in indices)
        self._open_block.children = tuple(self._open_cards)  # at most live_block_size

    def _clear_view(self) -> None:
        old = self._blocks
        self._blocks, self._shown = [], []
        self._open_block, self._open_cards = None, []
        # first out of the view, then closed: the front end never holds a closed child
        self._cards_box.children = ()
        for block in old:
            for card in getattr(block, "children", ()):
                card.close()  # its layout and style are shared: they stay
            block.close()

    def _rerender(self) -> None:
        self._clear_view()
        self._show_more([i for i in range(len(self._entries)) if self._matches(i)])
        if not self._shown:
            self._empty.value = (
                '<div class="dlm-panel-empty">'
                + ("No entries match the filters." if self._entries else "No entries yet.")
                + "</div>"
            )
            self._empty.layout.display = None

    def _reset(self) -> None:
        self._entries, self._cards, self._texts = [], [], []
        self._actions = set()
        self._done = dict.fromkeys(self._done, False)
        self._failed = self._warned = 0
        self._clear_view()
        self._update_type_options()
        self._update_checklist()
        self._rerender()

    # -- filters -------------------------------------------------------------------------
    def _matches(self, index: int) -> bool:
        wanted = self._type_filter.value
        if wanted == PROBLEMS:
            entry = self._entries[index]
            if not (entry.failed or entry.warned):
                return False
        elif wanted and self._entries[index].action != wanted:
            return False
        text = self._text_filter.value.strip().lower()
        return not text or text in self._texts[index]

    def _filtering(self) -> bool:
        return bool(self._type_filter.value or self._text_filter.value.strip())

    def _on_filter(self, _change: Any = None) -> None:
        if self._updating_options:
            return
        with self._lock:
            self._rerender()
            self._update_header()

    def set_filters(self, action: str | None = None, text: str | None = None) -> None:
        """Set the filters from code (``action``: a type, ``""`` for all, or ``"!problems"``)."""
        if action is not None and action not in (ALL_TYPES, PROBLEMS, *self._actions):
            raise ValueError(f"no entry of type {action!r} in the log")
        self._updating_options = True
        try:
            if action is not None:
                self._type_filter.value = action
            if text is not None:
                self._text_filter.value = text
        finally:
            self._updating_options = False
        self._on_filter()

    def _update_type_options(self) -> None:
        current = self._type_filter.value
        options = [("All types", ALL_TYPES), ("Failures and warnings", PROBLEMS)]
        options.extend((action, action) for action in sorted(self._actions))
        self._updating_options = True
        try:
            self._type_filter.options = options
            values = [value for _, value in options]
            self._type_filter.value = current if current in values else ALL_TYPES
        finally:
            self._updating_options = False
        if current != self._type_filter.value:  # the type went away (file replaced)
            self._rerender()

    # -- header --------------------------------------------------------------------------
    def _update_header(self) -> None:
        pending = len(self.log.pending) if self.log is not None else 0
        state = (
            len(self._entries),
            self._failed,
            self._warned,
            pending,
            len(self._follower.diagnostics),
            self._follower.partial_bytes > 0,
            len(self._shown) if self._filtering() else None,
            self.failure,
        )
        if state == self._header_state:
            return
        self._header_state = state
        count, failed, warned, pending, unreadable, partial, shown, failing = state
        spans = [
            f'<span class="dlm-count-entries"><b>{count:,}</b> '
            f"entr{'y' if count == 1 else 'ies'}</span>"
        ]
        if shown is not None:
            spans.append(f'<span class="dlm-count-shown">{shown:,} shown</span>')
        if failed:
            spans.append(f'<span class="dlm-count-failed">{failed:,} failed</span>')
        if warned:
            spans.append(
                f'<span class="dlm-count-warned">{warned:,} warning{"s" if warned != 1 else ""}'
                "</span>"
            )
        if pending:
            spans.append(
                f'<span class="dlm-count-pending" title="kept in memory until the file can be '
                f'written">{pending:,} pending (not written yet)</span>'
            )
        if unreadable:
            spans.append(
                f'<span class="dlm-count-unreadable">{unreadable:,} unreadable '
                f"part{'s' if unreadable != 1 else ''} (see designlog audit)</span>"
            )
        if partial:
            spans.append('<span class="dlm-count-partial">an entry is being written…</span>')
        if failing is not None:
            since = time.strftime("%H:%M:%S", time.localtime(failing.since))
            looks = f"{failing.looks:,} look{'s' if failing.looks != 1 else ''}"
            spans.append(
                f'<span class="dlm-count-failed">cannot read the log: {escape(failing.message)} '
                f"(since {since}, {looks}; trying again)</span>"
            )
        self._header.value = (
            '<div class="dlm-panel-head">'
            f'<div class="dlm-panel-title">{escape(self.title)}</div>'
            f'<div class="dlm-panel-path" title="{escape(str(self.path))}">'
            f"{escape(str(self.path))}</div>"
            f'<div class="dlm-panel-counts">{"".join(spans)}</div></div>'
        )

    def _update_checklist(self) -> None:
        state = tuple(self._done[step.key] for step in DESIGN_STEPS)
        if state == self._checklist_state:
            return
        self._checklist_state = state
        items = []
        for step, done in zip(DESIGN_STEPS, state, strict=True):
            classes = "dlm-panel-step" + (" dlm-panel-step-done" if done else "")
            if not step.required:
                classes += " dlm-panel-step-optional"
            mark = "☑" if done else "☐"
            hint = f"{step.action}{'' if step.required else ' (optional)'}"
            items.append(
                f'<span class="{classes}" data-step="{escape(step.key)}" '
                f'data-done="{"1" if done else "0"}" title="{escape(hint)}">'
                f"{mark} {escape(step.label)}</span>"
            )
        self._checklist.value = f'<div class="dlm-panel-steps">{"".join(items)}</div>'

    def _notify(self, text: str) -> None:
        if text in self._notices:
            return
        self._notices.append(text)
        self._notice.value = "".join(
            f'<div class="dlm-panel-notice">{escape(note)}</div>' for note in self._notices
        )
        self._notice.layout.display = None

    # -- following -----------------------------------------------------------------------
    def follow(self, loop: asyncio.AbstractEventLoop, interval: float = FOLLOW_INTERVAL) -> None:
        """Look at the file every ``interval`` seconds on ``loop`` (while it is idle)."""
        self.interval = interval
        self._loop = loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._schedule()
        else:
            loop.call_soon_threadsafe(self._schedule)

    def _schedule(self) -> None:
        if self.closed or self._loop is None:
            return
        try:
            self._handle = self._loop.call_later(self.interval, self._tick)
        except RuntimeError:  # the loop is closed (kernel shutting down)
            self._handle = None

    def _tick(self) -> None:
        """The follow callback: one look at the file, then the next one is scheduled."""
        self._handle = None
        if self.closed:
            return
        try:
            self.refresh()
        except Exception as exc:  # keep following: a bad moment must not stop the panel
            self._failed_look(f"{type(exc).__name__}: {exc}")
        self._schedule()

    def _failed_look(self, message: str) -> None:
        """Count a failed look: a failure that goes on is one line in :attr:`errors`, and
        one notice in the header (since when, how many looks), until a look works again."""
        failure = self.failure
        if failure is not None and failure.message == message:
            self.failure = replace(failure, looks=failure.looks + 1)
        else:
            self.failure = ReadFailure(message, time.time(), 1)
            self.errors.append(message)
        try:
            self._update_header()
        except Exception:  # the header is best effort here
            pass

    @property
    def following(self) -> bool:
        """True while a look at the file is scheduled."""
        return self._handle is not None and not self.closed

    # -- what tests and the magics use ---------------------------------------------------
    def entries(self) -> list[Entry]:
        """Every entry read from the file, in file order (filters ignored)."""
        return list(self._entries)

    def entries_shown(self) -> list[Entry]:
        """The entries the panel shows now, top to bottom (after the filters)."""
        return [self._entries[i] for i in self._shown]

    def checklist(self) -> dict[str, bool]:
        """The design steps ticked so far (the keys of :data:`DESIGN_STEPS`)."""
        return dict(self._done)

    def summary(self) -> str:
        """One line of text: what this panel is (its text form in a terminal)."""
        where = "inline" if self.placement == "inline" else f"side panel ({self.placement})"
        count = len(self._entries)
        return (
            f"Design log panel, {where}: {self.path} ({count:,} entr{'y' if count == 1 else 'ies'})"
        )

    def close(self) -> None:
        """Stop following and remove the panel (and its side panel) from the front end."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            handle, self._handle = self._handle, None
            if handle is not None and self._loop is not None:
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is self._loop or not self._loop.is_running():
                    handle.cancel()
                else:
                    self._loop.call_soon_threadsafe(handle.cancel)
            self._clear_view()
            for widget in self._static:
                _close_with_parts(widget)
            if self._sidecar is not None:
                _close_with_parts(self._sidecar)
                self._sidecar = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<DesignLogPanel {state}: {self.summary()}>"


def open_panel(
    log: DesignLog | str | os.PathLike[str],
    placement: str = DEFAULT_PLACEMENT,
    *,
    title: str | None = None,
    follow: bool = True,
    interval: float = FOLLOW_INTERVAL,
    loop: asyncio.AbstractEventLoop | None = None,
    display: bool = True,
    block_size: int = BLOCK_SIZE,
    live_block_size: int = LIVE_BLOCK_SIZE,
) -> DesignLogPanel:
    """Build the live panel on ``log`` (a :class:`DesignLog`, a log file or an experiment
    directory), show it at ``placement`` and follow the file.

    ``placement``: one of :data:`placement.PANEL_PLACEMENTS`, in any case; a side
    placement falls back to ``inline`` where no side panel can exist (see the module
    docstring), and the panel says why.
    ``follow``: schedule :meth:`DesignLogPanel.refresh` every ``interval`` seconds on
    ``loop`` (default: the kernel's event loop; outside a kernel nothing is scheduled).
    ``display``: show the panel (False builds it only, for tests and embedding).
    """
    found = find_placement(placement)
    if found is None:
        raise ValueError(placement_error(placement))
    placement = found
    side = False
    reason = None
    if placement != INLINE:
        side, reason = side_panel_support()
    panel = DesignLogPanel(
        log,
        title=title,
        block_size=block_size,
        live_block_size=live_block_size,
        inline=not side,
    )
    panel.requested_placement = placement
    if side:
        panel.placement = SIDE_ANCHORS[placement]
    elif placement != INLINE:
        panel.fallback_reason = reason
        panel._notify(f"Shown here rather than in a side panel ({placement}): {reason}.")
    if display:
        _show(panel)
    if follow:
        target = loop if loop is not None else _kernel_loop(current_shell())
        if target is not None:
            panel.follow(target, interval)
    return panel


def _show(panel: DesignLogPanel) -> None:
    from IPython.display import display

    if panel.placement == "inline":
        display(_PanelView(panel))
        return
    from sidecar import Sidecar

    sidecar = Sidecar(title=panel.title, anchor=panel.placement)
    panel._sidecar = sidecar
    with sidecar:
        display(_PanelView(panel))
