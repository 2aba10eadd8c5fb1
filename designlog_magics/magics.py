"""The notebook's verbs: one magic per step of the design log.

Each magic only parses its arguments, calls a probe, builds an entry, appends it and displays
it. The probes (``probes/``), the entry format and the log file know nothing of IPython.
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

from .arguments import MagicArgumentParser, add_common, split_line, usage_doc
from .display import StepView, escape
from .entry import ACTION_NAME_RE, Entry, EntryError, field_name, new_entry
from .expansion import format_template
from .masking import SecretMasker, default_masker
from .placement import DEFAULT_PLACEMENT, PANEL_PLACEMENTS, START_CHOICES

if TYPE_CHECKING:
    from .probes.calc import CalcFacts
from .session import DesignSession, last_bindings, start_entry
from .store import DesignLog, LogWriteError

NO_SESSION = "no design log yet: run %designlog start EXPERIMENT_DIR first"

DEFAULT_EXPLANATIONS = {
    "VERIFY_MODEL": "Verifying base model exists before creating experiment plan",
    "VERIFY_DATASET": "Verifying training dataset exists and checking size",
    "SEARCH_PRIOR_RUNS": "Searching for prior SLURM logs to extract training speed data "
    "for estimates",
    "EXTRACT_SPEED": "Extracting iteration speed from a similar prior run",
    "CHECK_DISK": "Ensuring sufficient space for checkpoints",
    "CREATE_SUMMARY": "Experiment plan documented, with sections generated from this log",
    "COMPLETE": "Planning phase complete, documented in summary and this log",
}


def _doc(parser: MagicArgumentParser, summary: str) -> Callable[[Any], Any]:
    def decorate(func: Any) -> Any:
        func.__doc__ = usage_doc(parser, summary)
        return func

    return decorate


# -- parsers: the interface users and the docs rely on ------------------------------------

DESIGNLOG = MagicArgumentParser(
    "%designlog",
    "Subcommands:\n"
    "  start EXPERIMENT_DIR [--paths NAME=DIR ...] [--panel PLACEMENT]\n"
    "  status\n"
    "  show [--type T] [--last N]\n"
    "  panel [--placement PLACEMENT]\n"
    "  record",
)
DESIGNLOG.add_argument("subcommand", choices=["start", "status", "show", "panel", "record"])
DESIGNLOG.add_argument("directory", nargs="?", help="EXPERIMENT_DIR (start)")
DESIGNLOG.add_argument(
    "--paths",
    nargs="*",
    default=None,
    metavar="NAME=DIR",
    help="path names usable as {NAME} in magic lines and cell commands",
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

VERIFY = MagicArgumentParser("%log_verify")
VERIFY.add_argument("kind", metavar="KIND", help="MODEL, DATASET or any word (VERIFY_<KIND>)")
VERIFY.add_argument(
    "target",
    nargs="?",
    metavar="PATH|NAME",
    help="line form: the path to check; cell form: a name for the brief",
)
VERIFY.add_argument("--timeout", type=float, metavar="SECONDS", help="per command (cell form)")
add_common(VERIFY)

SEARCH = MagicArgumentParser("%log_search")
SEARCH.add_argument("root", nargs="?", metavar="ROOT", help="the scratch tree to search")
SEARCH.add_argument(
    "--name", help="file name glob (default slurm-*.out); with --sacct, the job name pattern"
)
SEARCH.add_argument("--path", default="*/ck-out-*", help="path glob (default */ck-out-*)")
SEARCH.add_argument("--min-size", default="+100k", help="like find -size (default +100k)")
SEARCH.add_argument("--limit", type=int, metavar="N", help="stop after N matches (| head -N)")
SEARCH.add_argument("-o", "--output", metavar="VAR", help="store the found paths (or jobs)")
SEARCH.add_argument(
    "--sacct", action="store_true", help="search SLURM accounting (sacct) instead of the file tree"
)
SEARCH.add_argument("--since", metavar="DATE", help="with --sacct: jobs started since DATE")
SEARCH.add_argument("--user", metavar="USER", help="with --sacct: jobs of USER")
SEARCH.add_argument("--timeout", type=float, metavar="SECONDS", help="cell form: per command")
add_common(SEARCH)

SPEED = MagicArgumentParser("%log_speed")
SPEED.add_argument("source", metavar="SLURM_OUT|JOBID", help="a slurm-*.out file or a job id")
SPEED.add_argument("-o", "--output", metavar="VAR", help="store the speed (it/s) in VAR")
SPEED.add_argument("--full", action="store_true", help="read every byte (no sampling)")
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
    help='formatted with the cell\'s variables, e.g. "{total_min:.0f} minutes"',
)
add_common(CALC)

DISK = MagicArgumentParser("%log_disk")
DISK.add_argument("path", metavar="PATH")
DISK.add_argument("--need", metavar="SIZE", help="space needed, e.g. 40G")
add_common(DISK)

DECIDE = MagicArgumentParser("%log_decide")
DECIDE.add_argument("words", nargs="*", metavar="BRIEF")
DECIDE.add_argument("--decision", "-d", metavar="D")
DECIDE.add_argument("--reasoning", "-r", metavar="R")
DECIDE.add_argument(
    "-a", "--action", default="DECIDE_NAMING", help="action type (default DECIDE_NAMING)"
)
add_common(DECIDE)

SUMMARY = MagicArgumentParser("%%log_summary")
SUMMARY.add_argument("--force", action="store_true", help="overwrite an existing summary")
SUMMARY.add_argument("--result", metavar="TEXT", help="override the Result: line")
add_common(SUMMARY)

COMPLETE = MagicArgumentParser("%log_complete")
COMPLETE.add_argument("--status", "-s", required=True, metavar="S")
COMPLETE.add_argument("--next", "-n", dest="next_steps", required=True, metavar="N")
add_common(COMPLETE)

ENTRY = MagicArgumentParser("%log_entry")
ENTRY.add_argument("action", metavar="ACTION")
ENTRY.add_argument("brief", metavar="BRIEF")
ENTRY.add_argument("fields", nargs="*", metavar="KEY=VALUE")
add_common(ENTRY)

_CALC_OPTION_RE = re.compile(
    r"""^\s*(?P<opt>-a|--action|-b|--brief|--result|-e|--explain)(?:=|\s+)"""
    r"""(?P<val>"(?:[^"\\]|\\.)*"|'[^']*'|\S+)"""
)
_CALC_FLAG_RE = re.compile(r"^\s*(?P<opt>--no-log)(?=\s|$)")


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
    secret_patterns = List(
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
        return self.shell.user_ns

    def _session(self) -> DesignSession:
        if self.session is None:
            raise UsageError(NO_SESSION)
        return self.session

    def _masker(self) -> SecretMasker:
        if self.secret_patterns is None:
            return default_masker()
        try:
            return SecretMasker.from_patterns(self.secret_patterns)
        except (ValueError, re.error) as exc:
            raise UsageError(f"DesignLogMagics.secret_patterns: {exc}") from None

    def _expand_line(self, line: str) -> str:
        """A magic line with ``$var``/``{expr}`` expanded and path names kept as placeholders."""
        if self.session is None:
            from .expansion import expand

            return expand(line, self._ns).logged
        return self.session.expand(line, self._ns).logged

    def _finish(self, view: StepView, entry: Entry, no_log: bool) -> Entry:
        """Append (unless --no-log), display, refresh the panel, return the entry."""
        view.max_lines = self.max_output_lines
        if no_log:
            view.entry, view.logged = entry, False
            view.notes.append("--no-log: shown, not appended to the log")
            self._show(view, entry)
            return entry
        session = self._session()
        try:
            entry = session.log.append(entry)
        except LogWriteError as exc:
            view.entry, view.logged = entry, False
            display(view)
            raise UsageError(str(exc)) from None
        view.entry = entry
        self._refresh_panel()
        self._show(view, entry)
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
        progress.close()

    def _explanation(self, action: str, given: str | None) -> str | None:
        return given if given is not None else DEFAULT_EXPLANATIONS.get(action)

    # -- %designlog ----------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @_doc(DESIGNLOG, "Start, inspect or show the design log of an experiment.")
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
        if args.subcommand == "record":
            from .record import record_bundle

            display(record_bundle(session.log), raw=True)
            return None
        raise UsageError(f"%designlog: unknown subcommand {args.subcommand}")

    def _start(self, args: Any) -> Entry | None:
        if not args.directory:
            raise UsageError("%designlog start: give the experiment directory")
        directory = Path(os.path.expanduser(args.directory))
        paths: dict[str, str] = {}
        for binding in args.paths or []:
            name, sep, value = binding.partition("=")
            if not sep or not name.isidentifier() or not value:
                raise UsageError(f"%designlog start: --paths takes NAME=DIR, not {binding!r}")
            if name == "experiment_dir":
                raise UsageError("%designlog start: experiment_dir is bound to EXPERIMENT_DIR")
            paths[name] = os.path.abspath(os.path.expanduser(value))
        pending = ()
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

    def _status(self, session: DesignSession) -> None:
        from . import audit

        log = session.log
        entries = log.entries
        done = audit.steps_done(entries)
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
        for step in audit.DESIGN_STEPS:
            lines.append(f"  [{'x' if done[step.key] else ' '}] {step.label}")
        display(StepView(notes=["\n".join(lines)]))

    def _open_panel(self, placement: str) -> None:
        if placement == "none" or self.session is None:
            return
        if placement not in PANEL_PLACEMENTS:
            raise UsageError(
                f"unknown panel placement {placement!r}: use one of " + ", ".join(PANEL_PLACEMENTS)
            )
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
    def log_verify(self, line: str, cell: str | None = None) -> Entry | None:
        from .probes.paths import verify_command, verify_path

        args = VERIFY.parse_line(self._expand_line(line))
        session = self._session()
        kind = args.kind.upper()
        action = kind if kind.startswith("VERIFY_") else f"VERIFY_{kind}"
        if not ACTION_NAME_RE.fullmatch(action):
            raise UsageError(
                f"%log_verify: KIND must be a word such as MODEL or DATASET, not {args.kind!r}"
            )
        explanation = self._explanation(action, args.explain)
        if cell is None:
            if not args.target:
                raise UsageError(
                    "%log_verify: give the path to check, e.g. "
                    "%log_verify MODEL {models_dir}/Llama-3.2-1B-Instruct"
                )
            written = session.log_path(args.target)
            with self._interruptible(f"checking {args.target}") as progress:
                facts = verify_path(
                    session.run_path(args.target),
                    progress=lambda n: progress.update(f"{n:,} files"),
                )
            entry = new_entry(
                action,
                f"Checking {Path(session.run_path(args.target)).name}",
                command=verify_command(written, facts),
                result=facts.summary(),
                error=None if facts.ok else facts.error,
                explanation=explanation,
            )
            view = StepView(notes=[f"checked {session.run_path(args.target)}"])
            return self._finish(view, entry, args.no_log)
        results = self._run_cell_commands(cell, args.timeout)
        if results is None:
            return None
        view, logged, summaries, errors = results
        name = args.target or _last_operand(logged[0]) or kind.lower()
        entry = new_entry(
            action,
            f"Checking {name}",
            command="\n".join(logged),
            result="; ".join(summaries),
            error="; ".join(errors) if errors else None,
            explanation=explanation,
        )
        return self._finish(view, entry, args.no_log)

    def _run_cell_commands(
        self, cell: str, timeout: float | None
    ) -> tuple[StepView, list[str], list[str], list[str]] | None:
        """Run each command of a cell; None when there was nothing to log."""
        from .probes.commands import is_job_status_check, run_command, split_commands, summarize

        session = self._session()
        commands = split_commands(cell)
        if not commands:
            raise UsageError("the cell has no command to run")
        view = StepView()
        logged: list[str] = []
        summaries: list[str] = []
        errors: list[str] = []
        for command in commands:
            expanded = session.expand(command, self._ns)
            with self._interruptible(f"running {expanded.run[:60]}") as progress:
                outcome = run_command(
                    expanded.run,
                    timeout=timeout or self.command_timeout,
                    on_output=progress.update,
                )
            view.outputs.append((expanded.run, outcome.stdout, outcome.stderr))
            if is_job_status_check(expanded.run):
                view.notes.append(
                    f"not logged: {command.split()[0]} is a job status check, "
                    "which the design log leaves out"
                )
                continue
            logged.append(expanded.logged)
            summaries.append(summarize(expanded.run, outcome))
            if not outcome.ok:
                errors.append(outcome.error or "failed")
        if not logged:
            view.max_lines = self.max_output_lines
            display(view)
            return None
        return view, logged, summaries, errors

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
    def log_search(self, line: str, cell: str | None = None) -> Entry | None:
        args = SEARCH.parse_line(self._expand_line(line))
        session = self._session()
        explanation = self._explanation("SEARCH_PRIOR_RUNS", args.explain)
        if args.limit is not None and args.limit < 1:
            raise UsageError("%log_search: --limit must be 1 or more")
        if cell is not None:
            results = self._run_cell_commands(cell, args.timeout)
            if results is None:
                return None
            view, logged, _, errors = results
            found = [
                ln.strip() for _, out, _ in view.outputs for ln in out.splitlines() if ln.strip()
            ]
            from .probes.runs import describe_runs

            entry = new_entry(
                "SEARCH_PRIOR_RUNS",
                "Looking for similar experiments",
                command="\n".join(logged),
                result=describe_runs(found),
                error="; ".join(errors) if errors else None,
                explanation=explanation,
            )
            if args.output:
                self._ns[args.output] = found
            return self._finish(view, entry, args.no_log)
        if args.sacct:
            return self._search_sacct(args, explanation)
        if not args.root:
            raise UsageError("%log_search: give ROOT, the tree to search (or --sacct)")
        from .probes.runs import find_command, search_runs

        root_run = session.run_path(args.root)
        name = args.name or "slurm-*.out"
        try:
            with self._interruptible(f"searching {root_run}") as progress:
                found = search_runs(
                    root_run,
                    name=name,
                    path=args.path,
                    min_size=args.min_size,
                    limit=args.limit,
                    progress=lambda n: progress.update(f"{n:,} entries"),
                )
        except FileNotFoundError:
            raise UsageError(f"%log_search: no such directory: {root_run}") from None
        except ValueError as exc:
            raise UsageError(f"%log_search: {exc}") from None
        view = StepView(notes=[f"searched {root_run}"])
        view.outputs.append(("find …", "\n".join(found.paths), ""))
        notes = [f"skipped {p}: {reason}" for p, reason in found.skipped]
        view.notes.extend(notes)
        entry = new_entry(
            "SEARCH_PRIOR_RUNS",
            "Looking for similar experiments",
            command=find_command(
                session.log_path(args.root), name, args.path, args.min_size, args.limit
            ),
            result=found.summary(),
            note="; ".join(notes) if notes else None,
            explanation=explanation,
        )
        if args.output:
            self._ns[args.output] = list(found.paths)
        return self._finish(view, entry, args.no_log)

    def _search_sacct(self, args: Any, explanation: str | None) -> Entry:
        from .probes import slurm

        try:
            query = slurm.query_jobs(name=args.name, since=args.since, user=args.user)
        except slurm.SlurmError as exc:
            raise UsageError(f"%log_search --sacct: {exc}") from None
        view = StepView(notes=["searched SLURM accounting"])
        view.outputs.append(
            (
                query.command,
                "\n".join(
                    f"{j.job_id}|{j.name}|{j.state}|{j.elapsed}|{j.workdir}" for j in query.jobs
                ),
                "",
            )
        )
        entry = new_entry(
            "SEARCH_PRIOR_RUNS",
            "Looking for similar experiments in accounting",
            command=query.command,
            result=query.summary(),
            explanation=explanation,
        )
        if args.output:
            self._ns[args.output] = list(query.usable)
        return self._finish(view, entry, args.no_log)

    # -- %log_speed ----------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @_doc(
        SPEED,
        "EXTRACT_SPEED: the steady training speed after warmup from a prior run's "
        "SLURM output (streamed; works on outputs of hundreds of MB).",
    )
    def log_speed(self, line: str) -> Entry:
        args = SPEED.parse_line(self._expand_line(line))
        session = self._session()
        from .probes.speed import extract_speed, grep_command

        source = args.source
        notes = []
        if re.fullmatch(r"\d+(?:_\d+)?", source):
            from .probes import slurm

            try:
                resolved = slurm.resolve_output(source)
            except slurm.SlurmError as exc:
                raise UsageError(f"%log_speed: job {source}: {exc}") from None
            notes.append(f"job {source}: {resolved}")
            run_path, written = resolved, session.log_path(resolved)
        else:
            run_path, written = session.run_path(source), session.log_path(source)
        if not os.path.isfile(run_path):
            raise UsageError(f"%log_speed: no such file: {run_path}")
        try:
            with self._interruptible(f"reading {Path(run_path).name}") as progress:
                report = extract_speed(
                    run_path,
                    mode="full" if args.full else "auto",
                    progress=lambda done, total: progress.update(
                        f"{done / 1e6:,.0f} of {total / 1e6:,.0f} MB"
                    ),
                )
        except OSError as exc:
            raise UsageError(f"%log_speed: cannot read {run_path}: {exc.strerror}") from None
        run_name = next(
            (p for p in reversed(Path(run_path).parts[:-1]) if p.startswith("ck-out-")), None
        )
        brief = "Analyzing prior run for training speed"
        if run_name:
            brief = f"Analyzing {run_name} for training speed"
        entry = new_entry(
            "EXTRACT_SPEED",
            brief,
            command=grep_command(written),
            result=report.summary() if report.ok else "Failed: no training progress found",
            error=None if report.ok else report.error,
            explanation=self._explanation("EXTRACT_SPEED", args.explain),
        )
        if args.output:
            self._ns[args.output] = report.speed_its if report.ok else None
        view = StepView(notes=[*notes, report.detail()])
        return self._finish(view, entry, args.no_log)

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
    def log_calc(self, line: str, cell: str | None = None) -> Entry:
        from .probes.calc import CalculationError, run_calculation

        self._session()
        if cell is None:
            return self._calc_line(line)
        args = CALC.parse_line(self._expand_line(line))
        words = list(args.words)
        action = args.action
        if (
            action is None
            and words
            and ACTION_NAME_RE.fullmatch(words[0])
            and (words[0].isupper() and len(words[0]) > 1)
        ):
            action = words.pop(0)
        action = (action or "CALCULATE_TIME").upper()
        brief = args.brief or " ".join(words) or _default_calc_brief(action)
        try:
            facts = run_calculation(cell, self._ns)
        except CalculationError as exc:
            raise UsageError(f"%%log_calc: {exc}; nothing was logged") from None
        return self._log_calc(facts, action, brief, args.result, args.explain, args.no_log)

    def _calc_line(self, line: str) -> Entry:
        from .probes.calc import CalculationError, evaluate_assignment

        options: dict[str, str] = {}
        rest = line
        while True:
            flag = _CALC_FLAG_RE.match(rest)
            if flag:
                options["no_log"] = "1"
                rest = rest[flag.end() :]
                continue
            match = _CALC_OPTION_RE.match(rest)
            if not match:
                break
            value = split_line(match.group("val"), "%log_calc")
            options[match.group("opt").lstrip("-")[:1]] = value[0] if value else ""
            rest = rest[match.end() :]
        if not rest.strip():
            raise UsageError(
                "%log_calc: give an assignment, e.g. %log_calc total_min = total_s / 60"
            )
        action = (options.get("a") or "CALCULATE_TIME").upper()
        try:
            facts = evaluate_assignment(rest, self._ns)
        except CalculationError as exc:
            raise UsageError(f"%log_calc: {exc}; nothing was logged") from None
        return self._log_calc(
            facts,
            action,
            options.get("b") or _default_calc_brief(action),
            options.get("r"),
            options.get("e"),
            "no_log" in options,
        )

    def _log_calc(
        self,
        facts: CalcFacts,
        action: str,
        brief: str,
        template: str | None,
        explain: str | None,
        no_log: bool,
    ) -> Entry:
        if template:
            try:
                result = format_template(template, self._ns)
            except ValueError as exc:
                raise UsageError(f"%%log_calc --result: {exc}; nothing was logged") from None
        else:
            result = facts.default_result()
        try:
            entry = new_entry(
                action,
                brief,
                input=facts.input_text() or None,
                calculation=facts.calculation_text() or None,
                result=result,
                explanation=explain,
            )
        except EntryError as exc:
            raise UsageError(f"%%log_calc: {exc}") from None
        return self._finish(StepView(), entry, no_log)

    # -- %log_disk -----------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @_doc(
        DISK,
        "CHECK_DISK: free space where checkpoints will go (df -h), and whether it is "
        "enough with --need.",
    )
    def log_disk(self, line: str) -> Entry:
        from .probes.disk import check_disk, df_command

        args = DISK.parse_line(self._expand_line(line))
        session = self._session()
        run_path = session.run_path(args.path)
        command = df_command(session.log_path(args.path))
        explanation = self._explanation("CHECK_DISK", args.explain)
        if args.need:
            explanation = (
                args.explain or f"Ensuring sufficient space for ~{args.need} of checkpoints"
            )
        try:
            facts = check_disk(run_path, args.need)
        except ValueError as exc:
            raise UsageError(f"%log_disk --need: {exc}") from None
        except OSError as exc:
            entry = new_entry(
                "CHECK_DISK",
                "Verifying available disk space",
                command=command,
                result="Failed: path does not exist"
                if isinstance(exc, FileNotFoundError)
                else "Failed: cannot check",
                error=f"{run_path}: {exc.strerror}",
                explanation=explanation,
            )
            return self._finish(StepView(), entry, args.no_log)
        result = facts.summary()
        warning = None
        if facts.enough is False:
            warning = f"not enough space: {result.removeprefix('Warning: ')}"
        entry = new_entry(
            "CHECK_DISK",
            "Verifying available disk space",
            command=command,
            result=result,
            warning=warning,
            explanation=explanation,
        )
        return self._finish(StepView(notes=[f"checked {run_path}"]), entry, args.no_log)

    # -- %log_decide ---------------------------------------------------------------------
    @no_var_expand
    @line_cell_magic
    @_doc(
        DECIDE,
        "DECIDE_NAMING (or -a DECIDE_<WHAT>): record a decision and its reasoning.\n\n"
        "Cell form: the body holds Decision: / Reasoning: / Explanation: lines.\n"
        "Names are checked against the convention task_factor_YYYY-MM-DD.",
    )
    def log_decide(self, line: str, cell: str | None = None) -> Entry:
        from .probes.naming import naming_problems

        args = DECIDE.parse_line(self._expand_line(line))
        self._session()
        action = args.action.upper()
        if not ACTION_NAME_RE.fullmatch(action):
            raise UsageError(f"%log_decide: invalid action type {args.action!r}")
        fields: list[tuple[str, str]] = []
        if args.decision is not None:
            fields.append(("Decision", args.decision))
        if args.reasoning is not None:
            fields.append(("Reasoning", args.reasoning))
        if cell is not None:
            fields.extend(_cell_fields(self.session.expand(cell, self._ns).logged))
        if args.explain is not None:
            fields.append(("Explanation", args.explain))
        decision = next((v for k, v in fields if k == "Decision"), None)
        if not decision:
            raise UsageError("%log_decide: give --decision D (or a Decision: line in the cell)")
        if not any(k == "Reasoning" for k, _ in fields):
            raise UsageError("%log_decide: give --reasoning R (or a Reasoning: line)")
        view = StepView()
        if action == "DECIDE_NAMING":
            problems = naming_problems(decision.strip())
            if problems:
                fields.append(("Warning", "name breaks the convention: " + "; ".join(problems)))
        brief = " ".join(args.words) or (
            "Experiment name chosen" if action == "DECIDE_NAMING" else "Decision made"
        )
        try:
            entry = new_entry(action, brief, fields)
        except EntryError as exc:
            raise UsageError(f"%log_decide: {exc}") from None
        return self._finish(view, entry, args.no_log)

    # -- %%log_summary -------------------------------------------------------------------
    @no_var_expand
    @cell_magic
    @_doc(
        SUMMARY,
        "CREATE_SUMMARY: write EXPERIMENT_DIR/experiment_summary.md from the cell's "
        "markdown plus sections generated from the log.",
    )
    def log_summary(self, line: str, cell: str) -> Entry:
        from .summary import SUMMARY_FILENAME, build_summary, summary_result

        args = SUMMARY.parse_line(self._expand_line(line))
        session = self._session()
        if not cell.strip():
            raise UsageError("%%log_summary: the cell is empty; write the plan in markdown")
        target = session.experiment_dir / SUMMARY_FILENAME
        if target.exists() and not args.force:
            raise UsageError(f"%%log_summary: {target} already exists; use --force to overwrite it")
        content = build_summary(cell, session.log.entries)
        command = f"Created {session.log_path(str(target))}"
        explanation = self._explanation("CREATE_SUMMARY", args.explain)
        try:
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            temporary.write_text(content, encoding="utf-8")
            os.replace(temporary, target)
        except OSError as exc:
            entry = new_entry(
                "CREATE_SUMMARY",
                "Writing experiment plan",
                command=command,
                result="Failed: summary not written",
                error=f"{target}: {exc.strerror}",
                explanation=explanation,
            )
            return self._finish(StepView(), entry, args.no_log)
        entry = new_entry(
            "CREATE_SUMMARY",
            "Writing experiment plan",
            command=command,
            result=args.result or summary_result(cell),
            explanation=explanation,
        )
        view = StepView(notes=[f"wrote {target} ({len(content.encode()):,} bytes)"])
        return self._finish(view, entry, args.no_log)

    # -- %log_complete -------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @_doc(
        COMPLETE,
        "COMPLETE: declare the design finished, after checking the log as an "
        "auditor would (what is missing is shown and recorded as a Warning:).",
    )
    def log_complete(self, line: str) -> Entry:
        from . import audit

        args = COMPLETE.parse_line(self._expand_line(line))
        session = self._session()
        entries = session.log.entries
        missing = audit.missing_steps(entries)
        failures = audit.unsettled_failures(entries)
        problems = [f"missing: {m}" for m in missing] + [f.message for f in failures]
        view = StepView()
        if problems:
            view.notes.append("Before COMPLETE, the log lacks: " + "; ".join(problems))
        else:
            view.notes.append("Audit before COMPLETE: every expected step is logged")
        entry = new_entry(
            "COMPLETE",
            "Experiment design finished",
            status=args.status,
            next_steps=args.next_steps,
            warning="; ".join(problems) if problems else None,
            explanation=self._explanation("COMPLETE", args.explain),
        )
        return self._finish(view, entry, args.no_log)

    # -- %log_entry ----------------------------------------------------------------------
    @no_var_expand
    @line_magic
    @_doc(
        ENTRY,
        'Any other entry: %log_entry VERIFY_EVAL_TASK "Checking task" '
        'Command="ls x" Result="exists"',
    )
    def log_entry(self, line: str) -> Entry:
        args = ENTRY.parse_line(self._expand_line(line))
        self._session()
        fields = []
        for item in args.fields:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise UsageError(f"%log_entry: fields are KEY=VALUE, not {item!r}")
            fields.append((field_name(key), value))
        if args.explain is not None:
            fields.append(("Explanation", args.explain))
        try:
            entry = new_entry(args.action, args.brief, fields)
        except EntryError as exc:
            raise UsageError(f"%log_entry: {exc}") from None
        return self._finish(StepView(), entry, args.no_log)


def _default_calc_brief(action: str) -> str:
    return {
        "CALCULATE_TIME": "Training time estimate",
        "CALCULATE_DISK": "Disk space estimate",
    }.get(action, "Calculation")


def _last_operand(command: str) -> str | None:
    words = [w for w in command.split() if not w.startswith("-") and w not in ("|",)]
    if len(words) < 2:
        return None
    return os.path.basename(words[1].rstrip("/")) or None


def _cell_fields(body: str) -> list[tuple[str, str]]:
    """``Key: value`` lines of a cell (later unindented lines continue the value)."""
    fields: list[list[str]] = []
    for raw in body.splitlines():
        match = re.match(r"^([A-Za-z][A-Za-z0-9 _-]{0,47}):\s?(.*)$", raw)
        if match and not raw.startswith((" ", "\t")):
            fields.append([match.group(1).strip(), match.group(2)])
        elif fields:
            fields[-1][1] += "\n" + raw.strip()
        elif raw.strip():
            raise UsageError(
                "%%log_decide: the cell holds Key: value lines, e.g. "
                "'Decision: cap_8L_lora_2025-10-22'"
            )
    return [(k, v.strip("\n")) for k, v in fields]


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
