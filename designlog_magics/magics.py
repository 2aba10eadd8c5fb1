"""The notebook's verbs: one magic per step of the design log, over the verb table.

Each magic expands its line (path names first, then ``$var``/``{expr}``; a ``--result`` template
is left for after the cell ran), parses it with its verb's grammar, calls the verb's step,
appends the entry and displays what the step found. The steps, the probes and the log file know
nothing of IPython; the package's errors become one plain ``UsageError`` line here, in one
translator (:func:`translate_errors`), and views and figures are built here, only when shown.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from IPython.display import display
from traitlets import Bool, CaselessStrEnum, Float, Int, List

from .arguments import VerbParser, magic_parser, split_line
from .display import LogView, StepView, escape
from .entry import Entry
from .exceptions import DesignLogError
from .expansion import expand
from .masking import SecretMasker, default_masker
from .placement import (
    DEFAULT_PLACEMENT,
    NO_PANEL,
    PANEL_PLACEMENTS,
    START_CHOICES,
    find_placement,
    placement_error,
)
from .session import DesignSession, bindings_from_words
from .spec import DESIGN_STEPS, steps_done
from .store import DesignLog, LogWriteError

if TYPE_CHECKING:
    from .steps import StepContext, StepOutcome, Verb


class MagicError(DesignLogError):
    """A magic used where it cannot work (no design log yet, a bad panel placement)."""


NO_SESSION = "no design log yet: run %designlog start EXPERIMENT_DIR first"
DESIGNLOG_HELP = (
    "usage: %designlog SUBCOMMAND [ARGUMENTS ...]\n\n"
    "Start, inspect or show the design log of an experiment; run any verb.\n\n"
    "Subcommands:\n"
    "  start EXPERIMENT_DIR [--paths NAME=DIR ...] [--panel PLACEMENT | --no-panel]\n"
    "  status\n"
    "  show [--type T] [--since TIME] [--last N]\n"
    "  panel [--placement PLACEMENT]\n"
    "  record\n"
    "  replay [--paths NAME=DIR ...]\n"
    "  VERB ...   any verb of `designlog --help` (outcome, calibrate, naming, ...)"
)

# A --result template is formatted after the cell ran: it is never expanded before.
_TEMPLATE_RE = re.compile(r"""(?<!\S)(--result)(=|\s+)("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")
_CALC_OPTION_RE = re.compile(
    r"""^\s*(?P<opt>-a|--action|-b|--brief|--result|-e|--explain|--estimate|--limit|--covers)"""
    r"""(?:=|\s+)(?P<val>"(?:[^"\\]|\\.)*"|'[^']*'|\S+)"""
)
_CALC_FLAG_RE = re.compile(r"^\s*(?P<opt>--no-log)(?=\s|$)")


def usage_error(prog: str, exc: BaseException) -> Exception:
    """The plain ``UsageError`` a magic raises for ``exc``."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not message.startswith(prog):
        message = f"{prog}: {message}"
    return UsageError(message)


def translate_errors(prog: str) -> Callable[[Any], Any]:
    """Decorate a magic so the package's own errors reach the user as one ``UsageError``."""

    def decorate(func: Any) -> Any:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except DesignLogError as exc:
                raise usage_error(prog, exc) from None

        return wrapper

    return decorate


@cache
def verb_parser(name: str, prog: str) -> VerbParser:
    """The magic's parser of a verb: its grammar, then ``--no-log`` and ``-o VAR``."""
    from .steps import verb

    row = verb(name)
    parser = magic_parser(prog, row.summary)
    if name == "start":
        parser.add_argument(
            "--panel",
            "--placement",
            dest="placement",
            type=str.lower,
            choices=START_CHOICES,
            help="where the live panel goes",
        )
        parser.add_argument("--no-panel", action="store_true", help="start without the panel")
    row.grammar(parser)
    if row.output:
        parser.add_argument("-o", "--output", metavar="VAR", help="keep the value in VAR")
    if row.logs:
        parser.add_argument(
            "--no-log", action="store_true", help="run and show, but do not append to the log"
        )
    return parser


def _doc(name: str, prog: str, summary: str = "") -> Callable[[Any], Any]:
    """The magic's help, built from its verb's grammar when ``%magic?`` asks for it (IPython
    calls an object's ``getdoc()``), not at ``%load_ext``: loading stays as light as it was."""

    def decorate(func: Any) -> Any:
        func.__doc__ = f"{prog}: the {name} step ({prog}? shows its usage and options)"
        func.getdoc = lambda: (
            (summary.strip() + "\n\n" if summary else "") + verb_parser(name, prog).format_help()
        )
        return func

    return decorate


class _Progress:
    """A progress line in the cell's output, shown only for work longer than a second."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.last = 0.0
        self.handle: Any = None

    def update(self, detail: str) -> None:
        now = time.monotonic()
        if now - self.started < 1.0 or now - self.last < 0.5:
            return
        self.last = now
        text = _Text(f"{self.label}: {detail} ({now - self.started:.0f}s)")
        if self.handle is None:
            self.handle = display(text, display_id=True)
        else:
            self.handle.update(text)

    def close(self, final: str = "") -> None:
        if self.handle is not None:
            self.handle.update(_Text(final))
            self.handle = None


class _Text:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f'<div class="dlm-note">{escape(self.text)}</div>' if self.text else ""


@magics_class
class DesignLogMagics(Magics):
    """``%designlog``, ``%log_verify``, ``%log_search``, ``%log_speed``, ``%%log_calc``,
    ``%log_disk``, ``%log_decide``, ``%%log_summary``, ``%log_complete``, ``%log_entry``."""

    panel_placement = CaselessStrEnum(
        START_CHOICES,
        default_value=DEFAULT_PLACEMENT,
        help="Where %designlog start opens the live panel: "
        + ", ".join(PANEL_PLACEMENTS)
        + ", or none.",
    ).tag(config=True)
    open_panel_on_start = Bool(True, help="Open the panel on %designlog start.").tag(config=True)
    command_timeout = Float(120.0, help="Timeout in seconds for a cell's shell commands.").tag(
        config=True
    )
    max_output_lines = Int(40, help="Command output lines shown inline (the rest hidden).").tag(
        config=True
    )
    secret_patterns: List[str] = List(
        default_value=None,
        allow_none=True,
        help="Regular expressions with a (?P<secret>...) group masked before writing; "
        "None for the built-in patterns.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self.session: DesignSession | None = None
        self.panel: Any = None
        self._last_shown: Entry | None = None

    # -- plumbing ------------------------------------------------------------------------
    @property
    def _ns(self) -> dict[str, Any]:
        assert self.shell is not None
        ns: dict[str, Any] = self.shell.user_ns
        return ns

    def _session(self) -> DesignSession:
        if self.session is None:
            raise MagicError(NO_SESSION)
        return self.session

    def _context(self, log: DesignLog | None = None) -> StepContext:
        """What the steps may know: the session's path names, the user's variables, the log."""
        from .steps import StepContext

        if log is not None:
            paths = {"experiment_dir": str(log.experiment_dir)}
            return StepContext(paths, self._ns, lambda: log.entries, log.experiment_dir)
        session = self._session()
        return StepContext(
            paths=session.all_paths(),
            namespace=self._ns,
            entries=lambda: session.log.entries,
            experiment_dir=session.experiment_dir,
            command_timeout=self.command_timeout,
            progress=self._interruptible,
        )

    def _masker(self) -> SecretMasker:
        if self.secret_patterns is None:
            return default_masker()
        try:
            return SecretMasker.from_patterns(self.secret_patterns)
        except (ValueError, re.error) as exc:
            raise MagicError(f"DesignLogMagics.secret_patterns: {exc}") from None

    def _expand(self, text: str) -> str:
        """``$var``/``{expr}`` expanded, path names kept as placeholders."""
        if self.session is None:
            return expand(text, self._ns).logged
        return self.session.expand(text, self._ns).logged

    def _expand_line(self, line: str) -> str:
        """A magic line expanded, except ``--result`` templates (formatted after the cell)."""
        templates: list[str] = []

        def stash(match: re.Match[str]) -> str:
            templates.append(match.group(3))
            return f"{match.group(1)}{match.group(2)}\x00{len(templates) - 1}\x00"

        expanded = self._expand(_TEMPLATE_RE.sub(stash, line))
        return re.sub("\x00(\\d+)\x00", lambda m: templates[int(m.group(1))], expanded)

    def _run(self, name: str, prog: str, line: str, cell: str | None = None) -> Entry | None:
        """Parse a magic's line with its verb's grammar, call the step, finish."""
        from .steps import verb

        row = verb(name)
        args = verb_parser(name, prog).parse_line(self._expand_line(line))
        arguments = vars(args)
        if cell is not None and row.cell:
            if arguments.get(row.cell):
                raise MagicError(f"give the {row.cell} in the cell or the line, not both")
            arguments[row.cell] = cell
        where = arguments.get(row.log_argument) if row.log_argument else None
        if where and Path(os.path.expanduser(str(where))).resolve() != (
            self._session().experiment_dir.resolve()
        ):  # the entries go to this session's log, so it must be this session's design
            raise MagicError(
                f"{where} is not this session's experiment ({self._session().experiment_dir}); "
                f"use designlog {name} from a terminal, or %designlog start it"
            )
        outcome = row.call(self._context(), arguments)
        return self._finish(row, outcome, arguments.get("no_log", False), args)

    def _finish(
        self, verb: Verb, outcome: StepOutcome, no_log: bool, args: Any = None
    ) -> Entry | None:
        """Store ``-o VAR``, append (unless --no-log), display, refresh the panel."""
        if getattr(args, "output", None):
            self._ns[args.output] = outcome.value
        view = StepView(
            outputs=outcome.outputs, notes=list(outcome.notes), max_lines=self.max_output_lines
        )
        entries = outcome.entries if verb.logs else []
        if not entries:
            display(view)
            return None
        if no_log:  # shown as it would have been written: masked
            shown = self._session().log.masker.mask_entry(entries[0])
            view.entry, view.logged = shown, False
            view.notes.append("--no-log: shown, not appended to the log")
            self._show(view, shown)
            return shown
        try:
            written = self._session().log.append_many(entries)
        except LogWriteError:
            view.entry, view.logged = self._session().log.masker.mask_entry(entries[0]), False
            display(view)
            raise
        view.entry = written[-1]
        view.notes.extend(f"also appended {e.action}: {e.brief}" for e in written[:-1])
        self._refresh_panel()
        self._show(view, written[-1])
        self._draw(outcome)
        return written[-1]

    def _draw(self, outcome: StepOutcome) -> None:
        """The step's figure, drawn now that it is shown (static SVG: it survives export)."""
        if outcome.plot is None:
            return
        from . import figures

        draw = getattr(figures, f"{outcome.plot.kind}_figure", None)
        svg = draw(*outcome.plot.data) if draw is not None else None
        if svg:
            from IPython.display import SVG

            display(SVG(data=svg))

    def _show(self, view: StepView, entry: Entry | None) -> None:
        """Display a magic's view; its returned entry is then not displayed again."""
        display(view)
        self._last_shown = entry

    def _display_entry(self, entry: Entry) -> None:
        # The displayhook's printer for Entry: a magic's own return value was already shown.
        if entry is self._last_shown:
            return
        display(StepView(entry=entry))

    def _post_run_cell(self, *_: Any) -> None:
        self._last_shown = None

    def _refresh_panel(self) -> None:
        if self.panel is not None:
            try:
                self.panel.refresh()
            except Exception as exc:  # the log is written; a broken panel must not hide that
                display(_Text(f"panel not updated: {exc}"))

    @contextmanager
    def _interruptible(self, label: str) -> Iterator[_Progress]:
        progress = _Progress(label)
        try:
            yield progress
        except KeyboardInterrupt:
            progress.close(f"{label}: interrupted; nothing was logged")
            raise
        finally:
            progress.close()

    # -- %designlog ----------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @translate_errors("%designlog")
    def designlog(self, line: str) -> Any:
        from .steps import verbs

        words = line.split(None, 1)
        sub, rest = (words[0], words[1] if len(words) > 1 else "") if words else ("", "")
        if sub == "start":
            return self._start(rest)
        if sub == "show":
            return self._show_log(rest)
        if sub in ("status", "panel", "record", "replay"):
            return getattr(self, f"_{sub}")(rest)
        if sub in verbs():
            return self._run(sub, f"%designlog {sub}", rest)
        raise MagicError(f"unknown subcommand {sub!r}; see %designlog? for the subcommands")

    designlog.__doc__ = DESIGNLOG_HELP

    def _start(self, rest: str) -> Entry | None:
        from .steps import verb

        # A new session binds its own path names: the old session's must not leak in.
        args = verb_parser("start", "%designlog start").parse_line(expand(rest, self._ns).run)
        directory = Path(args.directory).expanduser()
        pending: tuple[Entry, ...] = ()
        if self.session is not None:
            old = self.session.log
            if old.pending and old.experiment_dir.resolve() == directory.resolve():
                pending = old.pending
        log = DesignLog(directory, masker=self._masker())
        outcome = verb("start").call(self._context(log), vars(args))
        self.session = DesignSession(log, dict(outcome.value))
        if pending:
            log.append_many(pending)
            outcome.notes.append(f"wrote {len(pending)} pending entries")
        entry = log.append(outcome.entry) if outcome.entry else None
        self._close_panel()
        placement = "none" if args.no_panel or not self.open_panel_on_start else None
        self._show(StepView(entry=entry, notes=outcome.notes), entry)
        self._open_panel(placement or args.placement or self.panel_placement)
        return entry

    def _status(self, rest: str) -> None:
        session, log = self._session(), self._session().log
        entries = log.entries
        done = steps_done(entries)
        lines = [
            f"Log: {log.path}",
            f"Entries: {len(entries)}",
            f"Pending writes: {len(log.pending)}",
        ]
        if log.diagnostics:
            lines.append(f"Unreadable parts: {len(log.diagnostics)} (see designlog audit)")
        if session.paths:
            lines.append("Paths: " + ", ".join(f"{k}={v}" for k, v in session.paths.items()))
        lines.append("Steps:")
        lines += [f"  [{'x' if done[s.key] else ' '}] {s.label}" for s in DESIGN_STEPS]
        display(StepView(notes=["\n".join(lines)]))

    def _show_log(self, rest: str) -> None:
        from .steps import verb

        args = verb_parser("show", "%designlog show").parse_line(self._expand_line(rest))
        log = self._session().log
        entries = verb("show").call(self._context(), vars(args)).value
        display(LogView(entries, f"{log.path} ({len(entries)} entries shown)"))

    def _panel(self, rest: str) -> None:
        words = split_line(rest)
        placement = words[-1] if words else self.panel_placement
        self._session()
        self._open_panel(placement)

    def _record(self, rest: str) -> None:
        from .record import record_bundle

        display(record_bundle(self._session().log), raw=True)

    def _replay(self, rest: str) -> None:
        from .replay import replay_log

        words = split_line(self._expand_line(rest))
        paths = bindings_from_words(words[1:] if words[:1] == ["--paths"] else words)
        display(replay_log(self._session().log.path, paths=paths, masker=self._masker()))

    def _open_panel(self, placement: str) -> None:
        if placement.lower() == NO_PANEL or self.session is None:
            return
        if find_placement(placement) is None:
            raise MagicError(placement_error(placement))
        self._close_panel()
        try:
            from .panel import open_panel
        except ImportError as exc:
            display(_Text(f"no live panel ({exc}); the log is written all the same"))
            return
        self.panel = open_panel(self.session.log, placement=placement)

    def _close_panel(self) -> None:
        if self.panel is not None:
            try:
                self.panel.close()
            finally:
                self.panel = None

    # -- the step magics -----------------------------------------------------------------
    @no_var_expand
    @line_cell_magic
    @_doc("verify", "%log_verify", "Cell form: %%log_verify KIND [NAME] runs the cell's commands.")
    @translate_errors("%log_verify")
    def log_verify(self, line: str, cell: str | None = None) -> Entry | None:
        return self._run("verify", "%log_verify", line, cell)

    @no_var_expand
    @line_cell_magic
    @_doc("search", "%log_search", "Cell form: %%log_search runs the cell's find/grep commands.")
    @translate_errors("%log_search")
    def log_search(self, line: str, cell: str | None = None) -> Entry | None:
        return self._run("search", "%log_search", line, cell)

    @no_var_expand
    @line_magic
    @_doc("speed", "%log_speed")
    @translate_errors("%log_speed")
    def log_speed(self, line: str) -> Entry | None:
        return self._run("speed", "%log_speed", line)

    @no_var_expand
    @line_cell_magic
    @_doc(
        "calculate",
        "%%log_calc",
        "Cell form: literal assignments are Input:, computed ones Calculation:; a trailing "
        "comment is the unit.\n"
        "Line form: %log_calc [-a ACTION] [-b BRIEF] [--result T] NAME = EXPR",
    )
    @translate_errors("%%log_calc")
    def log_calc(self, line: str, cell: str | None = None) -> Entry | None:
        if cell is not None:
            return self._run("calculate", "%%log_calc", line, cell)
        from .steps import verb

        options, rest = self._calc_line_options(line)
        outcome = verb("calculate").call(self._context(), {**options, "line": rest})
        return self._finish(verb("calculate"), outcome, "no_log" in options)

    def _calc_line_options(self, line: str) -> tuple[dict[str, Any], str]:
        """``%log_calc [options] NAME = EXPR``: options are expanded, the assignment is Python."""
        names = {"a": "action", "b": "brief", "e": "explain"}
        options: dict[str, Any] = {}
        rest = line
        while match := _CALC_FLAG_RE.match(rest) or _CALC_OPTION_RE.match(rest):
            rest = rest[match.end() :]
            option = match.group("opt")
            if option == "--no-log":
                options["no_log"] = True
                continue
            value = (split_line(match.group("val")) or [""])[0]
            key = option.lstrip("-") if option.startswith("--") else names[option[1]]
            options[key] = value if key == "result" else self._expand(value)
        if not rest.strip():
            raise MagicError("give an assignment, e.g. %log_calc total_min = total_s / 60")
        return options, rest

    @no_var_expand
    @line_magic
    @_doc("disk", "%log_disk")
    @translate_errors("%log_disk")
    def log_disk(self, line: str) -> Entry | None:
        return self._run("disk", "%log_disk", line)

    @no_var_expand
    @line_cell_magic
    @_doc("decide", "%log_decide", "Cell form: Decision: / Reasoning: / Explanation: lines.")
    @translate_errors("%log_decide")
    def log_decide(self, line: str, cell: str | None = None) -> Entry | None:
        return self._run("decide", "%log_decide", line, cell)

    @no_var_expand
    @cell_magic
    @_doc("summary", "%%log_summary", "The cell is the plan in markdown.")
    @translate_errors("%%log_summary")
    def log_summary(self, line: str, cell: str) -> Entry | None:
        return self._run("summary", "%%log_summary", line, cell)

    @no_var_expand
    @line_magic
    @_doc("complete", "%log_complete")
    @translate_errors("%log_complete")
    def log_complete(self, line: str) -> Entry | None:
        return self._run("complete", "%log_complete", line)

    @no_var_expand
    @line_magic
    @_doc("add", "%log_entry")
    @translate_errors("%log_entry")
    def log_entry(self, line: str) -> Entry | None:
        return self._run("add", "%log_entry", line)


def register(shell: Any) -> DesignLogMagics:
    """Register the magics on ``shell`` (``%load_ext``)."""
    magics = DesignLogMagics(shell)
    shell.register_magics(magics)
    if magics not in shell.configurables:
        shell.configurables.append(magics)
    formatter = shell.display_formatter.ipython_display_formatter
    formatter.for_type(Entry, magics._display_entry)
    shell.events.register("post_run_cell", magics._post_run_cell)
    shell._designlog_magics = magics
    return magics


def unregister(shell: Any) -> None:
    """Remove what :func:`register` added (``%unload_ext``)."""
    magics = getattr(shell, "_designlog_magics", None)
    if magics is None:
        return
    magics._close_panel()
    for kind, names in magics.magics.items():
        for name in names:
            shell.magics_manager.magics[kind].pop(name, None)
    registry = shell.magics_manager.registry
    if registry.get(type(magics).__name__) is magics:
        del registry[type(magics).__name__]
    if magics in shell.configurables:
        shell.configurables.remove(magics)
    try:
        shell.display_formatter.ipython_display_formatter.pop(Entry)
    except KeyError:
        pass
    try:
        shell.events.unregister("post_run_cell", magics._post_run_cell)
    except ValueError:
        pass
    del shell._designlog_magics
