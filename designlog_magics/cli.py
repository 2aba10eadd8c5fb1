"""The ``designlog`` command: read, follow, audit, attach, export and append to design logs.

It works on the same files as the magics, through the same code: entries are appended with
:meth:`DesignLog.append` (the same locked append, the same masking), followed with
:class:`LogFollower` (only new bytes are read), and audited with :mod:`.audit`.

A LOG argument is a log file or an experiment directory; without one, ``$DESIGNLOG_DIR`` or the
current directory. Exit status: 0 on success, 1 when an audit fails, 2 for bad input or a file
that cannot be read (one ``designlog: error: ...`` line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn, TextIO

from . import __version__, steps
from .arguments import (
    complete_arguments,
    decide_arguments,
    disk_arguments,
    entry_arguments,
    search_arguments,
    speed_arguments,
    verify_arguments,
)
from .exceptions import DesignLogError
from .store import LOG_FILENAME, DesignLog, LogFollower, read_log
from .textformat import render

PROG = "designlog"
ENV_DIR = "DESIGNLOG_DIR"
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
POLL_SECONDS = 0.5


class CLIError(DesignLogError):
    """Bad input or an unusable file: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')")


# -- helpers --------------------------------------------------------------------------------
def default_location() -> Path:
    """Where a LOG argument points when none is given: ``$DESIGNLOG_DIR`` or the current dir."""
    return Path(os.environ.get(ENV_DIR) or os.getcwd())


def log_file(argument: str | None) -> Path:
    """The log file of a LOG argument (a log file, or an experiment directory)."""
    path = Path(argument).expanduser() if argument else default_location()
    if path.suffix == ".ipynb":
        raise CLIError(
            f"{path} is a notebook; give its log file or experiment directory "
            f"(or use 'designlog audit {path}')"
        )
    return path / LOG_FILENAME if path.is_dir() else path


def existing_log(argument: str | None) -> Path:
    path = log_file(argument)
    if not path.is_file():
        where = "" if argument else f" (set ${ENV_DIR} or give LOG)"
        raise CLIError(f"no design log at {path}{where}")
    return path


def parse_time(text: str) -> datetime:
    """``2025-10-22``, ``2025-10-22 14:24``, ``2025-10-22T14:24:30``, or ``14:24`` (today)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    try:
        clock = datetime.strptime(text.strip(), "%H:%M:%S" if text.count(":") == 2 else "%H:%M")
    except ValueError:
        raise CLIError(
            f"--since: cannot read {text!r} as a time "
            "(use YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]' or HH:MM[:SS])"
        ) from None
    return datetime.combine(datetime.now().date(), clock.time())


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _write(out: TextIO, text: str) -> None:
    out.write(text)
    out.flush()


# -- commands -------------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace) -> int:
    path = existing_log(args.log)
    result = read_log(path)
    entries = result.entries
    if args.types:
        wanted = {t.strip().upper() for item in args.types for t in item.split(",") if t.strip()}
        entries = [e for e in entries if e.action in wanted]
    if args.since:
        since = parse_time(args.since)
        entries = [e for e in entries if e.timestamp >= since]
    if args.last is not None:
        entries = entries[-args.last :] if args.last else []
    if args.json:
        _write(sys.stdout, json.dumps([e.as_dict() for e in entries], indent=2) + "\n")
    else:
        _write(sys.stdout, "".join(render(e) for e in entries))
    if result.diagnostics:
        _warn(
            f"{len(result.diagnostics)} part(s) of {path} could not be read as entries "
            f"(first: {result.diagnostics[0]}); see 'designlog audit {path}'"
        )
    return EXIT_OK


def cmd_tail(args: argparse.Namespace) -> int:
    path = log_file(args.log)
    if not path.is_file():
        if not args.follow:
            raise CLIError(f"no design log at {path}")
        if not path.parent.is_dir():
            raise CLIError(f"no experiment directory at {path.parent}")
        _warn(f"{path} does not exist yet; waiting for it")
    follower = LogFollower(path)
    try:
        first = follower.poll()
        if args.lines:
            _write(sys.stdout, "".join(render(e) for e in first[-args.lines :]))
        if not args.follow:
            return EXIT_OK
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        while deadline is None or time.monotonic() < deadline:
            pause = args.interval
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            time.sleep(pause)
            new = follower.poll()
            if follower.restarted:
                follower.restarted = False
                _warn(f"{path} was replaced or truncated; reading it from the start")
            if new:
                _write(sys.stdout, "".join(render(e) for e in new))
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from .audit import audit_path
    from .record import RecordError

    target = Path(args.path).expanduser() if args.path else default_location()
    try:
        report = audit_path(target, log_path=args.log)
    except FileNotFoundError as exc:
        raise CLIError(str(exc.args[0] if exc.args else exc)) from None
    except RecordError as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        _write(sys.stdout, json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        _write(sys.stdout, report.render())
    return EXIT_OK if report.passed else EXIT_FAILED


def cmd_attach(args: argparse.Namespace) -> int:
    from .record import RecordError, attach_log

    try:
        result = attach_log(args.notebook, args.log)
    except RecordError as exc:
        raise CLIError(str(exc)) from None
    _write(sys.stdout, f"{result}\n")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from .record import RecordError, export_notebook

    try:
        result = export_notebook(args.notebook, args.to, args.output, log_path=args.log)
    except RecordError as exc:
        raise CLIError(str(exc)) from None
    _write(sys.stdout, f"{result}\n")
    if result.removed_references:
        _warn(
            f"left out {result.removed_references} script(s) or link(s) that would load from "
            "the network or draw widgets"
        )
    return EXIT_OK


def _log_for_writing(argument: str | None) -> DesignLog:
    path = Path(argument).expanduser() if argument else default_location()
    if path.suffix == ".ipynb":
        raise CLIError(f"{path} is a notebook; give the experiment directory or its log file")
    if path.is_dir() or (not path.exists() and path.suffix != ".log"):
        return DesignLog(path)
    return DesignLog(path.parent, filename=path.name)


def cmd_add(args: argparse.Namespace) -> int:
    log = _log_for_writing(args.log)
    outcome = steps.any_entry(args, _context(log))
    written = log.append(outcome.entry) if outcome.entry else None
    _write(sys.stdout, render(written) if written else "")
    return EXIT_OK


def _context(log: DesignLog | None) -> steps.StepContext:
    """A step's context from the command line: the log's START_DESIGN path names, if any."""
    if log is None:
        return steps.StepContext()
    from .session import last_bindings

    entries = log.entries
    paths = {**(last_bindings(entries) or {}), "experiment_dir": str(log.experiment_dir)}
    return steps.StepContext(
        paths=paths, entries=lambda: log.entries, experiment_dir=log.experiment_dir
    )


def step_verb(step: Callable[..., steps.StepOutcome]) -> Callable[[argparse.Namespace], int]:
    """A ``designlog`` verb over a design step: print the Result (first line: the answer), or
    the facts as JSON; with ``--log DIR``, append the very entry the magic would."""

    def run(args: argparse.Namespace) -> int:
        log = _log_for_writing(args.log) if getattr(args, "log", None) else None
        outcome = step(args, _context(log))
        entry = outcome.entry
        if args.json:
            data = outcome.data
            if isinstance(data, dict) and entry is not None:
                data = {"result": entry.get("Result"), **data}
            _write(sys.stdout, json.dumps(data, indent=2, default=str) + "\n")
        else:
            _write(sys.stdout, verb_text(outcome))
        if log is not None and entry is not None:
            written = log.append(entry)
            _warn_plain(f"appended {written.action} to {log.path}")
        failed = entry.failed if entry is not None else bool(outcome.value)
        return EXIT_FAILED if failed else EXIT_OK

    return run


def verb_text(outcome: steps.StepOutcome) -> str:
    """What a verb prints: the Result, then the Error, Warning and Note lines of its entry."""
    entry = outcome.entry
    if entry is None:
        return "".join(f"{note}\n" for note in outcome.view.notes)
    lines = [entry.get("Result") or ""]
    lines += [f"{key}: {value}" for key, value in entry.fields if key in _SHOWN_FIELDS]
    return "\n".join(lines) + "\n"


_SHOWN_FIELDS = ("Run", "Outcome", "Tokens", "Error", "Warning", "Note")


def _warn_plain(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _naming_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")


def _naming(args: argparse.Namespace, ctx: steps.StepContext) -> steps.StepOutcome:
    return steps.naming(args.name)


def cmd_replay(args: argparse.Namespace) -> int:
    from .replay import replay_log
    from .session import bindings_from_words

    paths = bindings_from_words(args.paths)
    report = replay_log(existing_log(args.log), paths=paths, timeout=args.timeout)
    if args.json:
        _write(sys.stdout, json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        _write(sys.stdout, report.render())
    return report.exit_status


def cmd_demo_data(args: argparse.Namespace) -> int:
    try:
        demo = importlib.import_module(f"{__package__}._demo")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}._demo":
            raise
        raise CLIError(
            "demo data is not available in this installation (designlog_magics._demo is missing)"
        ) from None
    facts = demo.build_demo_data(Path(args.directory).expanduser())
    if dataclasses.is_dataclass(facts) and not isinstance(facts, type):
        lines = [
            f"{f.name}: {_describe(getattr(facts, f.name))}" for f in dataclasses.fields(facts)
        ]
        text = "\n".join(lines)
    else:
        text = str(facts)
    _write(sys.stdout, f"built demo data in {args.directory}\n{text}\n")
    return EXIT_OK


def _describe(value: object) -> str:
    """A fact in one line: mappings as ``k=v``, sequences of named things by their names."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, tuple | list):
        return ", ".join(str(getattr(item, "name", item)) for item in value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


# -- the parser -----------------------------------------------------------------------------
LOG_HELP = f"a log file or an experiment directory (default: ${ENV_DIR} or the current directory)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=f"Read, follow, audit and record experiment-design logs ({LOG_FILENAME}).",
        epilog="Exit status: 0 success, 1 audit failed, 2 bad input or unreadable file.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], summary: str, epilog: str = ""
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=epilog or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        return sub

    show = command(
        "show",
        cmd_show,
        "Print a log's entries as log text (or JSON), optionally filtered.",
        "example: designlog show runs/cap_8L --type CALCULATE_TIME --since 2025-10-22 --last 3",
    )
    show.add_argument("log", nargs="?", metavar="LOG", help=LOG_HELP)
    show.add_argument(
        "--type",
        dest="types",
        action="append",
        metavar="T",
        help="only entries of action type T (repeatable, or comma-separated)",
    )
    show.add_argument(
        "--since",
        metavar="TIME",
        help="only entries at or after TIME (YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]', HH:MM)",
    )
    show.add_argument("--last", type=_count, metavar="N", help="only the last N entries")
    show.add_argument("--json", action="store_true", help="entries as a JSON list")

    tail = command(
        "tail",
        cmd_tail,
        "Print the last entries of a log; with -f, keep printing entries as they are appended.",
        "Ctrl-C stops following. Only the bytes added since the last poll are read.",
    )
    tail.add_argument("log", nargs="?", metavar="LOG", help=LOG_HELP)
    tail.add_argument("-f", "--follow", action="store_true", help="follow the log as it grows")
    tail.add_argument(
        "-n", "--lines", type=_count, default=10, metavar="N", help="entries shown first (10)"
    )
    tail.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS", help="with -f: stop after SECONDS"
    )
    tail.add_argument(
        "--interval",
        type=_seconds,
        default=POLL_SECONDS,
        metavar="SECONDS",
        help=f"with -f: seconds between polls ({POLL_SECONDS})",
    )

    audit = command(
        "audit",
        cmd_audit,
        "Check a log, an experiment directory or a notebook as an auditor would; "
        "exit 0 only when it passes.",
        "Checks: entries well-formed; required steps before COMPLETE (model, dataset, prior\n"
        "runs or a preliminary estimate, time, disk, name, summary); failures settled;\n"
        "calculations recomputed; timestamps in order; for a notebook, that the log it\n"
        "embeds or shows agrees with the log file.",
    )
    audit.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="a log file, an experiment directory, or a notebook (.ipynb)",
    )
    audit.add_argument("--json", action="store_true", help="the report as JSON")
    audit.add_argument(
        "--log", metavar="LOG", help="for a notebook: its log (default: the one it names)"
    )

    attach = command(
        "attach",
        cmd_attach,
        "Embed a log (text, entries, SHA-256) in a notebook's metadata['designlog'].",
        "Without --log, the log is the one named by the notebook's last record output,\n"
        "else its designlog metadata, else its last '%designlog start DIR' line.",
    )
    attach.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    attach.add_argument("--log", metavar="LOG", help=LOG_HELP.split(" (")[0])

    export = command(
        "export",
        cmd_export,
        "Write one self-contained record: the notebook, then its full log (HTML or markdown).",
        "The HTML loads nothing from the network (no require.js, MathJax or widget scripts).",
    )
    export.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    export.add_argument("--to", required=True, choices=["html", "markdown"])
    export.add_argument(
        "-o", "--output", metavar="OUT", help="output file (default: next to the notebook)"
    )
    export.add_argument("--log", metavar="LOG", help="the log (default: the one it names)")

    add = command(
        "add",
        cmd_add,
        "Append an entry (the same locked append as the magics; secrets are masked).",
        'example: designlog add CHECK_DISK "Verifying available disk space" '
        'command="df -h /scratch" result="2.1T available"\n'
        "KEY names become field names: next_steps=... is written as 'Next Steps: ...'.",
    )
    entry_arguments(add)
    add.add_argument("--log", metavar="DIR", help=LOG_HELP)

    def step_command(
        name: str,
        step: Callable[..., steps.StepOutcome],
        build: Callable[[argparse.ArgumentParser], None],
        summary: str,
        epilog: str = "",
        *,
        writes: bool = True,
    ) -> argparse.ArgumentParser:
        sub = command(name, step_verb(step), summary, epilog)
        sub.set_defaults(step=step)
        build(sub)
        sub.add_argument("--json", action="store_true", help="the facts and the entry as JSON")
        if writes:
            sub.add_argument(
                "--log",
                metavar="DIR",
                help="append the entry the magic would to this log (its path names are used)",
            )
            sub.add_argument("-e", "--explain", metavar="EXPLANATION", help="the Explanation:")
        return sub

    step_command(
        "verify",
        steps.verify,
        lambda p: verify_arguments(p, cell_form=False),
        "VERIFY_<KIND>: check a model directory or a dataset file, as log_verify does.",
        "example: designlog verify MODEL /scratch/models/Llama-3.2-1B-Instruct",
    )
    step_command(
        "search",
        steps.search,
        search_arguments,
        "SEARCH_PRIOR_RUNS: prior runs' SLURM outputs, as find -name slurm-*.out -path "
        "*/ck-out-* -size +100k finds them (or --sacct).",
        "example: designlog search /scratch/me --limit 5",
    )
    step_command(
        "speed",
        steps.speed,
        speed_arguments,
        "EXTRACT_SPEED: the steady training speed of a prior run, from its output or job id.",
        "example: designlog speed /scratch/me/ck-out-happy-narwhal/slurm-4187301.out",
    )
    step_command(
        "disk",
        steps.disk,
        disk_arguments,
        "CHECK_DISK: free space at PATH, and with --need whether it is enough.",
        "example: designlog disk /scratch/me --need 40G",
    )
    naming = step_command(
        "naming",
        _naming,
        _naming_arguments,
        "Check an experiment name against the convention task_factor_YYYY-MM-DD "
        "(exit 1 when it breaks it).",
        writes=False,
    )
    naming.set_defaults(explain=None)
    step_command(
        "decide",
        steps.decide,
        decide_arguments,
        "DECIDE_NAMING (or -a DECIDE_<WHAT>): record a decision and its reasoning.",
    )
    step_command(
        "complete",
        steps.complete,
        complete_arguments,
        "COMPLETE: declare the design finished; what the audit finds missing is a Warning:.",
    )

    replay = command(
        "replay",
        cmd_replay,
        "Re-run the read-only Commands of a log and say whether each Result still stands; "
        "exit 0 only when every replayable entry reproduces, 1 when something changed.",
        "Only the package's own read verbs and ls, du, df, stat, wc, head, find, grep are\n"
        "run, without a shell; anything else is reported as not replayable and never run.\n"
        "Path names come from the log's START_DESIGN; --paths NAME=DIR replays elsewhere.",
    )
    replay.add_argument("log", nargs="?", metavar="LOG", help=LOG_HELP)
    replay.add_argument(
        "--paths", nargs="*", default=[], metavar="NAME=DIR", help="directories to replay on"
    )
    replay.add_argument("--json", action="store_true", help="the report as JSON")
    replay.add_argument(
        "--timeout", type=_seconds, default=120.0, metavar="SECONDS", help="per command (120)"
    )

    demo = command(
        "demo-data",
        cmd_demo_data,
        "Build the deterministic demo data (models, dataset, prior runs) in DIR.",
    )
    demo.add_argument("directory", metavar="DIR")
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (designlog show | head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (DesignLogError, OSError) as exc:
        print(f"{PROG}: error: {_error_text(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if os.environ.get("DESIGNLOG_DEBUG"):
            raise
        print(
            f"{PROG}: error: unexpected {type(exc).__name__}: {_error_text(exc)} "
            "(set DESIGNLOG_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
