"""The notebook's verbs: one magic per step of the design log.

Each magic expands and parses its line, calls its step (:mod:`.steps`), appends the entry and
displays what the step says to show. The steps, the probes and the log file know nothing of
IPython; the package's own errors become one plain ``UsageError`` line (:mod:`.exceptions`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

from .arguments import (
    MagicArgumentParser,
    add_common,
    complete_arguments,
    decide_arguments,
    disk_arguments,
    entry_arguments,
    search_arguments,
    speed_arguments,
    split_line,
    usage_doc,
    verify_arguments,
)
from .display import StepView, escape
from .entry import ACTION_NAME_RE, Entry
from .exceptions import translate_errors
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
from .session import DesignSession, bindings_from_words, last_bindings, start_entry
from .spec import DESIGN_STEPS, steps_done
from .store import DesignLog, LogWriteError

if TYPE_CHECKING:
    from . import steps
else:

    class _Steps:
        """The step layer, imported at the first magic that runs, not at ``%load_ext``."""

        def __getattr__(self, name: str) -> Any:
            from . import steps

            return getattr(steps, name)

    steps = _Steps()

NO_SESSION = "no design log yet: run %designlog start EXPERIMENT_DIR first"


def _doc(parser: MagicArgumentParser, summary: str) -> Callable[[Any], Any]:
    def decorate(func: Any) -> Any:
        func.__doc__ = usage_doc(parser, summary)
        return func

    return decorate


def _parser(
    prog: str, build: Callable[[Any], None] | None = None, **kw: Any
) -> MagicArgumentParser:
    parser = MagicArgumentParser(prog, kw.pop("description", ""))
    if build is not None:
        build(parser, **kw)
    return parser


# -- parsers: the interface users and the docs rely on ------------------------------------

DESIGNLOG = MagicArgumentParser(
    "%designlog",
    "Subcommands:\n"
    "  start EXPERIMENT_DIR [--paths NAME=DIR ...] [--panel PLACEMENT]\n"
    "  status\n"
    "  show [--type T] [--last N]\n"
    "  panel [--placement PLACEMENT]\n"
    "  record\n"
    "  replay [--paths NAME=DIR ...]",
)
DESIGNLOG.add_argument(
    "subcommand", choices=["start", "status", "show", "panel", "record", "replay"]
)
DESIGNLOG.add_argument("directory", nargs="?", help="EXPERIMENT_DIR (start)")
DESIGNLOG.add_argument(
    "--paths",
    nargs="*",
    default=None,
    metavar="NAME=DIR",
    help="path names usable as {NAME} in magic lines and cell commands (start); "
    "the directories to replay on (replay)",
)
DESIGNLOG.add_argument(
    "--panel",
    "--placement",
    dest="placement",
    type=str.lower,  # any case, as the panel and %config take it
    choices=START_CHOICES,
    help="where the live panel goes (default: %%config "
    "DesignLogMagics.panel_placement; 'none' for no panel)",
)
DESIGNLOG.add_argument("--no-panel", action="store_true", help="start without the panel")
DESIGNLOG.add_argument(
    "--type",
    dest="types",
    action="append",
    metavar="ACTION",
    help="show: only entries of this action type (repeatable)",
)
DESIGNLOG.add_argument("--last", type=int, metavar="N", help="show: only the last N entries")

VERIFY = _parser("%log_verify", verify_arguments)
add_common(VERIFY)
SEARCH = _parser("%log_search", search_arguments)
SEARCH.add_argument("-o", "--output", metavar="VAR", help="store the found paths (or jobs)")
add_common(SEARCH)
SPEED = _parser("%log_speed", speed_arguments)
SPEED.add_argument("-o", "--output", metavar="VAR", help="store the speed (it/s) in VAR")
add_common(SPEED)
CALC = MagicArgumentParser("%%log_calc")
CALC.add_argument(
    "words",
    nargs="*",
    metavar="[ACTION] [BRIEF]",
    help="action type (default CALCULATE_TIME) and brief description",
)
CALC.add_argument("-a", "--action", help="action type (line form)")
CALC.add_argument("-b", "--brief", help="brief description (line form)")
CALC.add_argument(
    "--result",
    metavar="TEMPLATE",
    help='formatted with the cell\'s variables after it ran, e.g. "{total_min:.0f} minutes"',
)
add_common(CALC)
DISK = _parser("%log_disk", disk_arguments)
add_common(DISK)
DECIDE = _parser("%log_decide", decide_arguments)
add_common(DECIDE)
SUMMARY = MagicArgumentParser("%%log_summary")
SUMMARY.add_argument("--force", action="store_true", help="overwrite an existing summary")
SUMMARY.add_argument("--result", metavar="TEXT", help="override the Result: line")
add_common(SUMMARY)
COMPLETE = _parser("%log_complete", complete_arguments)
add_common(COMPLETE)
ENTRY = _parser("%log_entry", entry_arguments)
add_common(ENTRY)

_CALC_OPTION_RE = re.compile(
    r"""^\s*(?P<opt>-a|--action|-b|--brief|--result|-e|--explain)(?:=|\s+)"""
    r"""(?P<val>"(?:[^"\\]|\\.)*"|'[^']*'|\S+)"""
)
_CALC_FLAG_RE = re.compile(r"^\s*(?P<opt>--no-log)(?=\s|$)")
# A --result template is formatted after the cell ran: it is never expanded before.
_TEMPLATE_RE = re.compile(r"""(?<!\S)(--result)(=|\s+)("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")


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
            raise UsageError(NO_SESSION)
        return self.session

    def _context(self) -> steps.StepContext:
        """What the steps may know: the session's path names, the user's variables, the log."""
        session = self._session()
        return steps.StepContext(
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
            raise UsageError(f"DesignLogMagics.secret_patterns: {exc}") from None

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

    def _finish(
        self, outcome: steps.StepOutcome, no_log: bool = False, output: str | None = None
    ) -> Entry | None:
        """Store ``-o VAR``, append (unless --no-log), display, refresh the panel."""
        if output:
            self._ns[output] = outcome.value
        view, entry = outcome.view, outcome.entry
        view.max_lines = self.max_output_lines
        if entry is None:
            display(view)
            return None
        if no_log:
            view.entry, view.logged = entry, False
            view.notes.append("--no-log: shown, not appended to the log")
            self._show(view, entry)
            return entry
        try:
            entry = self._session().log.append(entry)
        except LogWriteError as exc:
            view.entry, view.logged = entry, False
            display(view)
            raise UsageError(str(exc)) from None
        view.entry = entry
        self._refresh_panel()
        self._show(view, entry)
        if outcome.figure:
            from IPython.display import SVG

            display(SVG(data=outcome.figure))
        return entry

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
    @_doc(DESIGNLOG, "Start, inspect or show the design log of an experiment.")
    @translate_errors("%designlog")
    def designlog(self, line: str) -> Any:
        if line.split(None, 1)[:1] == ["start"]:
            # A new session binds its own path names: the old session's must not leak in.
            from .expansion import expand

            line = expand(line, self._ns).run
        else:
            line = self._expand_line(line)
        args = DESIGNLOG.parse_line(line)
        if args.subcommand == "start":
            return self._start(args)
        session = self._session()
        if args.subcommand == "status":
            return self._status(session)
        if args.subcommand == "show":
            from .display import LogView

            entries = session.log.entries
            if args.types:
                wanted = {t.upper() for t in args.types}
                entries = [e for e in entries if e.action in wanted]
            if args.last is not None:
                if args.last < 0:
                    raise UsageError("%designlog show: --last must be 0 or more")
                entries = entries[-args.last :] if args.last else []
            display(LogView(entries, f"{session.log.path} ({len(entries)} entries shown)"))
            return None
        if args.subcommand == "panel":
            self._open_panel(args.placement or self.panel_placement)
            return None
        if args.subcommand == "replay":
            return self._replay(session, args)
        if args.subcommand == "record":
            from .record import record_bundle

            display(record_bundle(session.log), raw=True)
            return None
        raise UsageError(f"%designlog: unknown subcommand {args.subcommand}")

    def _start(self, args: Any) -> Entry | None:
        if not args.directory:
            raise UsageError("%designlog start: give the experiment directory")
        directory = Path(os.path.expanduser(args.directory))
        paths = bindings_from_words(args.paths or [])
        if "experiment_dir" in paths:
            raise UsageError("%designlog start: experiment_dir is bound to EXPERIMENT_DIR")
        pending: tuple[Entry, ...] = ()
        if self.session is not None:
            old = self.session.log
            if old.pending and old.experiment_dir.resolve() == directory.resolve():
                pending = old.pending
        try:
            log = DesignLog(directory, masker=self._masker())
        except LogWriteError as exc:
            raise UsageError(str(exc)) from None
        existing = log.entries
        previous = last_bindings(existing)
        if args.paths is None and previous is not None:
            paths = {k: v for k, v in previous.items() if k != "experiment_dir"}
        self.session = DesignSession(log, paths)
        view = StepView()
        entry = None
        try:
            if pending:
                log.append_many(pending)
                view.notes.append(f"wrote {len(pending)} pending entries")
            if not existing or previous is None or previous != paths:
                entry = log.append(start_entry(log.experiment_dir, paths, len(existing)))
        except LogWriteError as exc:
            raise UsageError(str(exc)) from None
        state = f"resumed with {len(existing)} entries" if existing else "new log"
        view.notes.append(f"Design log: {log.path} ({state})")
        if paths:
            view.notes.append("Path names: " + ", ".join(f"{{{k}}}={v}" for k, v in paths.items()))
        view.entry = entry
        if self.panel is not None:
            self._close_panel()
        placement = (
            "none"
            if args.no_panel
            else (args.placement or (self.panel_placement if self.open_panel_on_start else "none"))
        )
        self._show(view, entry)
        self._open_panel(placement)
        return entry

    def _replay(self, session: DesignSession, args: Any) -> None:
        from .replay import replay_log

        report = replay_log(session.log.path, paths=bindings_from_words(args.paths or []))
        display(report)

    def _status(self, session: DesignSession) -> None:
        log = session.log
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
        for step in DESIGN_STEPS:
            lines.append(f"  [{'x' if done[step.key] else ' '}] {step.label}")
        display(StepView(notes=["\n".join(lines)]))

    def _open_panel(self, placement: str) -> None:
        if placement.lower() == NO_PANEL or self.session is None:
            return
        if find_placement(placement) is None:
            raise UsageError(placement_error(placement))
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

    # -- %log_verify ---------------------------------------------------------------------
    @no_var_expand
    @line_cell_magic
    @_doc(
        VERIFY,
        "VERIFY_<KIND>: check that a model, dataset or other resource exists.\n\n"
        "Line form: %log_verify MODEL {models_dir}/Llama-3.2-1B-Instruct checks the path "
        "itself.\nCell form: %%log_verify DATASET [NAME] runs the cell's shell commands "
        "(ls, du, ...) with bash.",
    )
    @translate_errors("%log_verify")
    def log_verify(self, line: str, cell: str | None = None) -> Entry | None:
        args = VERIFY.parse_line(self._expand_line(line))
        outcome = steps.verify(args, self._context(), cell)
        return self._finish(outcome, args.no_log)

    # -- %log_search ---------------------------------------------------------------------
    @no_var_expand
    @line_cell_magic
    @_doc(
        SEARCH,
        "SEARCH_PRIOR_RUNS: find prior runs' SLURM outputs.\n\n"
        "Line form: %log_search {scratch_dir} finds what\n"
        "  find ROOT -name 'slurm-*.out' -path '*/ck-out-*' -size +100k\n"
        "finds. With --sacct: searches SLURM accounting. Cell form: %%log_search runs the "
        "cell's own find/grep commands.",
    )
    @translate_errors("%log_search")
    def log_search(self, line: str, cell: str | None = None) -> Entry | None:
        args = SEARCH.parse_line(self._expand_line(line))
        outcome = steps.search(args, self._context(), cell)
        return self._finish(outcome, args.no_log, args.output)

    # -- %log_speed ----------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @_doc(
        SPEED,
        "EXTRACT_SPEED: the steady training speed after warmup from a prior run's "
        "SLURM output (streamed; works on outputs of hundreds of MB).",
    )
    @translate_errors("%log_speed")
    def log_speed(self, line: str) -> Entry | None:
        args = SPEED.parse_line(self._expand_line(line))
        outcome = steps.speed(args, self._context())
        return self._finish(outcome, args.no_log, args.output)

    # -- %%log_calc ----------------------------------------------------------------------
    @no_var_expand
    @line_cell_magic
    @_doc(
        CALC,
        "CALCULATE_TIME (or another action): run a Python calculation and log its "
        "inputs, steps and result.\n\n"
        "Cell form: literal assignments are Input:, computed ones Calculation:; a trailing "
        "comment is the unit.\n"
        "Line form: %log_calc [-a ACTION] [-b BRIEF] [--result T] NAME = EXPR",
    )
    @translate_errors("%%log_calc")
    def log_calc(self, line: str, cell: str | None = None) -> Entry | None:
        if cell is None:
            return self._calc_line(line)
        args = CALC.parse_line(self._expand_line(line))
        words = list(args.words)
        action = args.action
        if action is None and words and ACTION_NAME_RE.fullmatch(words[0]) and len(words[0]) > 1:
            action = words.pop(0)
        outcome = steps.calculate(
            cell,
            self._context(),
            action=action,
            brief=args.brief or " ".join(words) or None,
            template=args.result,
            explain=args.explain,
        )
        return self._finish(outcome, args.no_log)

    def _calc_line(self, line: str) -> Entry | None:
        """``%log_calc [options] NAME = EXPR``: options are expanded, the assignment is Python."""
        options: dict[str, str] = {}
        rest = line
        while match := _CALC_FLAG_RE.match(rest) or _CALC_OPTION_RE.match(rest):
            rest = rest[match.end() :]
            if match.group("opt") == "--no-log":
                options["no_log"] = "1"
                continue
            value = (split_line(match.group("val"), "%log_calc") or [""])[0]
            key = match.group("opt").lstrip("-")[:1]
            options[key] = value if key == "r" else self._expand(value)
        if not rest.strip():
            raise UsageError(
                "%log_calc: give an assignment, e.g. %log_calc total_min = total_s / 60"
            )
        outcome = steps.calculate(
            rest,
            self._context(),
            action=options.get("a"),
            brief=options.get("b"),
            template=options.get("r"),
            explain=options.get("e"),
            line_form=True,
        )
        return self._finish(outcome, "no_log" in options)

    # -- %log_disk -----------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @_doc(
        DISK,
        "CHECK_DISK: free space where checkpoints will go (df -h), and whether it is "
        "enough with --need.",
    )
    @translate_errors("%log_disk")
    def log_disk(self, line: str) -> Entry | None:
        args = DISK.parse_line(self._expand_line(line))
        return self._finish(steps.disk(args, self._context()), args.no_log)

    # -- %log_decide ---------------------------------------------------------------------
    @no_var_expand
    @line_cell_magic
    @_doc(
        DECIDE,
        "DECIDE_NAMING (or -a DECIDE_<WHAT>): record a decision and its reasoning.\n\n"
        "Cell form: the body holds Decision: / Reasoning: / Explanation: lines.\n"
        "Names are checked against the convention task_factor_YYYY-MM-DD.",
    )
    @translate_errors("%log_decide")
    def log_decide(self, line: str, cell: str | None = None) -> Entry | None:
        args = DECIDE.parse_line(self._expand_line(line))
        return self._finish(steps.decide(args, self._context(), cell), args.no_log)

    # -- %%log_summary -------------------------------------------------------------------
    @no_var_expand
    @cell_magic
    @_doc(
        SUMMARY,
        "CREATE_SUMMARY: write EXPERIMENT_DIR/experiment_summary.md from the cell's "
        "markdown plus sections generated from the log.",
    )
    @translate_errors("%%log_summary")
    def log_summary(self, line: str, cell: str) -> Entry | None:
        args = SUMMARY.parse_line(self._expand_line(line))
        return self._finish(steps.summary(args, self._context(), cell), args.no_log)

    # -- %log_complete -------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @_doc(
        COMPLETE,
        "COMPLETE: declare the design finished, after checking the log as an "
        "auditor would (what is missing is shown and recorded as a Warning:).",
    )
    @translate_errors("%log_complete")
    def log_complete(self, line: str) -> Entry | None:
        args = COMPLETE.parse_line(self._expand_line(line))
        return self._finish(steps.complete(args, self._context()), args.no_log)

    # -- %log_entry ----------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @_doc(
        ENTRY,
        'Any other entry: %log_entry VERIFY_EVAL_TASK "Checking task" '
        'Command="ls x" Result="exists"',
    )
    @translate_errors("%log_entry")
    def log_entry(self, line: str) -> Entry | None:
        args = ENTRY.parse_line(self._expand_line(line))
        return self._finish(steps.any_entry(args, self._context()), args.no_log)


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
