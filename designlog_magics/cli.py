"""The ``designlog`` command: every verb of the step table, and the commands that follow, audit,
replay, attach and export logs.

A step verb parses its arguments with the grammar of its row in the verb table, calls its step,
prints the Result (first line: the answer) or the facts as JSON, and with ``--log DIR`` appends
the very entry the magic would (same masking, same lock, placeholders from that log's
START_DESIGN). A LOG argument is a log file or an experiment directory; without one,
``$DESIGNLOG_DIR`` or the current directory. Exit status: 0 on success, 1 when a check or an
audit fails, 2 for bad input or a file that cannot be read (one ``designlog: error: ...`` line on
stderr, never a traceback). Everything printed from a log is made visible: a control character
in it is shown as ``\\xHH``, never sent to the terminal raw.
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
from pathlib import Path
from typing import Any, TextIO

from .arguments import VerbParser, count, seconds
from .display import result_text
from .exceptions import DesignLogError
from .store import LOG_FILENAME, DesignLog, LogFollower, find_log_file
from .textformat import render, visible_text
from .version import __version__

PROG = "designlog"
ENV_DIR = "DESIGNLOG_DIR"
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
POLL_SECONDS = 0.5
LOG_HELP = f"a log file or an experiment directory (default: ${ENV_DIR} or the current directory)"


class CLIError(DesignLogError):
    """Bad input or an unusable file: reported as one line, exit status 2."""


# -- where the log is -----------------------------------------------------------------------
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
    return find_log_file(path)


def existing_log(argument: str | None) -> Path:
    path = log_file(argument)
    if not path.is_file():
        where = "" if argument else f" (set ${ENV_DIR} or give LOG)"
        raise CLIError(f"no design log at {path}{where}")
    return path


def log_for_writing(argument: str | None) -> DesignLog:
    path = Path(argument).expanduser() if argument else default_location()
    if path.suffix == ".ipynb":
        raise CLIError(f"{path} is a notebook; give the experiment directory or its log file")
    if path.is_dir() or (not path.exists() and path.suffix != ".log"):
        return DesignLog(path)
    return DesignLog(path.parent, filename=path.name)


# -- output ---------------------------------------------------------------------------------
def _write(out: TextIO, text: str) -> None:
    out.write(visible_text(text))
    out.flush()


def _json(data: Any) -> None:
    _write(sys.stdout, json.dumps(data, indent=2, default=str) + "\n")


def _warn(message: str) -> None:
    _write(sys.stderr, f"{PROG}: warning: {message}\n")


def _say(message: str) -> None:
    _write(sys.stderr, f"{PROG}: {message}\n")


# -- the step verbs -------------------------------------------------------------------------
def _context(log: DesignLog | None) -> Any:
    """A step's context from the command line: the log's START_DESIGN path names, if any."""
    from .session import last_bindings
    from .steps import StepContext

    if log is None:
        return StepContext()
    paths = {**(last_bindings(log.entries) or {}), "experiment_dir": str(log.experiment_dir)}
    return StepContext(paths=paths, entries=lambda: log.entries, experiment_dir=log.experiment_dir)


def _open_log(verb: Any, args: argparse.Namespace) -> DesignLog | None:
    """The log a verb works on: the directory its own argument names (START's, OUTCOME's),
    SHOW's LOG, or ``--log DIR`` (for a verb that needs one, ``$DESIGNLOG_DIR`` or the current
    directory when not given)."""
    if verb.log_argument is not None:
        if not _appends(verb, args):  # a read (outcome --check): no log is opened or created
            return None
        where = getattr(args, verb.log_argument, None)
        return DesignLog(Path(where).expanduser() if where else default_location())
    if verb.name == "show":
        path = existing_log(args.log)
        return DesignLog(path.parent, filename=path.name)
    if getattr(args, "log", None) or verb.needs_log:
        return log_for_writing(getattr(args, "log", None))
    return None


def _appends(verb: Any, args: argparse.Namespace) -> bool:
    """Whether this call appends: a logging verb, not printing its Result alone for replay,
    and not given what makes it a read (``outcome --check``)."""
    if not verb.logs or args.result_only:
        return False
    return not any(getattr(args, keyword, None) for keyword in verb.read_only_with)


def run_step_verb(args: argparse.Namespace) -> int:
    """Call the verb's step; append its entries to the log (``--log``); print its Result, its
    entries (show, add) or its facts as JSON."""
    verb = args.verb
    log = _open_log(verb, args)
    outcome = verb.call(_context(log), vars(args))
    written: Sequence[Any] = ()
    if log is not None and verb.logs and outcome.entries:
        written = log.append_many(outcome.entries)
    if args.result_only:  # what replay compares with the logged Result
        data = outcome.data if isinstance(outcome.data, dict) else {}
        results = [e.get("Result") or "" for e in outcome.entries]
        results = results or ([str(data["result"])] if "result" in data else outcome.notes)
        _write(sys.stdout, "\n".join(results) + "\n")
    elif args.json:
        data = outcome.data
        if isinstance(data, dict) and outcome.entry is not None:
            data = {"result": outcome.entry.get("Result"), **data}
        _json(data)
    elif verb.name in ("show", "add"):
        _write(sys.stdout, "".join(render(e) for e in (outcome.value or written)))
    else:
        _write(sys.stdout, result_text(outcome.entries, outcome.notes))
    for entry in written if verb.name != "add" else ():
        _say(f"appended {entry.action} to {log.path if log else ''}")
    if log is not None and log.diagnostics and verb.name == "show":
        _warn(
            f"{len(log.diagnostics)} part(s) of {log.path} could not be read as entries "
            f"(first: {log.diagnostics[0]}); see 'designlog audit {log.path}'"
        )
    failed = any(e.failed for e in outcome.entries) or (
        not outcome.entries and verb.name == "naming" and bool(outcome.value)
    )
    return EXIT_FAILED if failed else EXIT_OK


def _add_step(commands: Any, verb: Any) -> None:
    from .steps.table import add_command_line_options

    sub = _command(commands, verb.name, run_step_verb, verb.summary, verb.example)
    sub.set_defaults(verb=verb)
    if verb.name == "show":
        sub.add_argument("log", nargs="?", metavar="LOG", help=LOG_HELP)
    verb.grammar(sub)
    add_command_line_options(verb, sub)


# -- the other commands ---------------------------------------------------------------------
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


def _add_tail(commands: Any) -> None:
    tail = _command(
        commands,
        "tail",
        cmd_tail,
        "Print the last entries of a log; with -f, keep printing entries as they are appended.",
        "Ctrl-C stops following. Only the bytes added since the last poll are read.",
    )
    tail.add_argument("log", nargs="?", metavar="LOG", help=LOG_HELP)
    tail.add_argument("-f", "--follow", action="store_true", help="follow the log as it grows")
    tail.add_argument(
        "-n", "--lines", type=count, default=10, metavar="N", help="entries shown first (10)"
    )
    tail.add_argument(
        "--timeout", type=seconds, metavar="SECONDS", help="with -f: stop after SECONDS"
    )
    tail.add_argument(
        "--interval",
        type=seconds,
        default=POLL_SECONDS,
        metavar="SECONDS",
        help=f"with -f: seconds between polls ({POLL_SECONDS})",
    )


def cmd_convert(args: argparse.Namespace) -> int:
    from .convert import convert_file

    conversion, source, written = convert_file(
        args.log or default_location(), args.to, args.output, force=args.force
    )
    if written is None:
        _write(sys.stdout, conversion.text)
    if conversion.source_dialect == conversion.to:
        _warn(f"{source} already reads as the {conversion.to} dialect; converted it anyway")
    markers = ", ".join(f"{key} {count}" for key, count in conversion.markers.items())
    _say(
        f"wrote {conversion.entries} entries in the {conversion.to} dialect to "
        f"{written or 'stdout'}; {conversion.marker_lines} marker line(s) added"
        + (f" ({markers})" if markers else "")
    )
    if conversion.unreadable:
        _warn(
            f"{conversion.unreadable} part(s) of {source} could not be read as entries; "
            f"carried over as they are (see 'designlog audit {source}')"
        )
    return EXIT_OK


def _add_convert(commands: Any) -> None:
    convert = _command(
        commands,
        "convert",
        cmd_convert,
        "Write the log in the other dialect (seed or the workflow's later, upstream one) to a "
        "new file; the source is never changed.",
        "Every field is kept: what one dialect has no place for goes in a named key line\n"
        "(Result Text:, Seed Action:, Upstream Form: ...) that converting back reads again.\n"
        "Parts the source cannot be read in are carried over as they are.",
    )
    convert.add_argument("log", nargs="?", metavar="LOG", help=LOG_HELP + "; either location")
    convert.add_argument("--to", required=True, choices=["seed", "upstream"])
    convert.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the new file; '-' prints it (default: beside LOG: design-experiment.upstream.log)",
    )
    convert.add_argument("--force", action="store_true", help="replace FILE if it exists")


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
        _json(report.as_dict())
    else:
        _write(sys.stdout, report.render())
    return EXIT_OK if report.passed else EXIT_FAILED


def _add_audit(commands: Any) -> None:
    audit = _command(
        commands,
        "audit",
        cmd_audit,
        "Check a log, an experiment directory or a notebook as an auditor would; "
        "exit 0 only when it passes.",
        "Checks: entries well-formed; required steps before COMPLETE (model, dataset, prior\n"
        "runs, time, disk, name, summary); failures settled; calculations recomputed;\n"
        "timestamps in order; for a notebook, that the log it embeds or shows agrees with the\n"
        "log file.",
    )
    audit.add_argument(
        "path", nargs="?", metavar="PATH", help="a log file, an experiment directory, or a notebook"
    )
    audit.add_argument("--json", action="store_true", help="the report as JSON")
    audit.add_argument(
        "--log", metavar="LOG", help="for a notebook: its log (default: the one it names)"
    )


def cmd_attach(args: argparse.Namespace) -> int:
    from .record import RecordError, attach_log

    try:
        result = attach_log(args.notebook, args.log)
    except RecordError as exc:
        raise CLIError(str(exc)) from None
    _write(sys.stdout, f"{result}\n")
    return EXIT_OK


def _add_attach(commands: Any) -> None:
    attach = _command(
        commands,
        "attach",
        cmd_attach,
        "Embed a log (text, entries, SHA-256) in a notebook's metadata['designlog'].",
        "Without --log, the log is the one named by the notebook's last record output,\n"
        "else its designlog metadata, else its last '%designlog start DIR' line.",
    )
    attach.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    attach.add_argument("--log", metavar="LOG", help="a log file or an experiment directory")


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


def _add_export(commands: Any) -> None:
    export = _command(
        commands,
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


def cmd_replay(args: argparse.Namespace) -> int:
    from .replay import replay_log
    from .session import bindings_from_words

    paths = bindings_from_words(args.paths)
    report = replay_log(
        existing_log(args.log),
        paths=paths,
        timeout=args.timeout,
        command_timeout=args.command_timeout,
    )
    if args.json:
        _json(report.as_dict())
    else:
        _write(sys.stdout, report.render())
    return report.exit_status


def _add_replay(commands: Any) -> None:
    replay = _command(
        commands,
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
        "--timeout",
        type=seconds,
        default=300.0,
        metavar="SECONDS",
        help="the whole replay's time budget (300); what it leaves unrun says so",
    )
    replay.add_argument(
        "--command-timeout",
        type=seconds,
        default=60.0,
        metavar="SECONDS",
        help="each command's, the package's own read verbs included (60)",
    )


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


def _add_demo_data(commands: Any) -> None:
    demo = _command(
        commands,
        "demo-data",
        cmd_demo_data,
        "Build the deterministic demo data (models, dataset, prior runs) in DIR.",
    )
    demo.add_argument("directory", metavar="DIR")


def cmd_mcp(args: argparse.Namespace) -> int:
    # Imported by name: the MCP server (and its SDK) is loaded only for this command.
    server = importlib.import_module(f"{__package__}.mcp_server")
    return int(server.serve())


def _add_mcp(commands: Any) -> None:
    _command(
        commands,
        "mcp",
        cmd_mcp,
        "Serve every step as a Model Context Protocol tool over stdio (for an LLM agent); "
        "needs the agents extra.",
        "An MCP client starts it as: command designlog, args [mcp]. Each tool appends the\n"
        "entry the magic would; paths must lie inside the experiment directory or a path\n"
        "bound at start. pip install 'designlog-magics[agents]' installs the SDK.",
    )


# -- the parser -----------------------------------------------------------------------------
def _command(
    commands: Any,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    summary: str,
    epilog: str = "",
) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=(f"example: {epilog}" if epilog.startswith(PROG) else epilog) or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.set_defaults(handler=handler)
    return sub


def build_parser() -> argparse.ArgumentParser:
    """The ``designlog`` parser: every verb of the table, then the commands of this edge."""
    from .steps import verbs

    parser = VerbParser(
        prog=PROG,
        description=f"Plan, read, follow, audit and replay design logs ({LOG_FILENAME}).",
        epilog="Exit status: 0 success, 1 a check or audit failed, 2 bad input or unreadable file.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # replay runs a logged read verb with this: it prints the Result alone, every line of it
    parser.add_argument("--result-only", action="store_true", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for verb in verbs().values():
        _add_step(commands, verb)
    for add in (
        _add_tail,
        _add_convert,
        _add_audit,
        _add_replay,
        _add_attach,
        _add_export,
        _add_demo_data,
    ):
        add(commands)
    _add_mcp(commands)
    return parser


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (designlog show | head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (DesignLogError, OSError) as exc:
        _write(sys.stderr, f"{PROG}: error: {_error_text(exc)}\n")
        return EXIT_ERROR
    except Exception as exc:
        if os.environ.get("DESIGNLOG_DEBUG"):
            raise
        _write(
            sys.stderr,
            f"{PROG}: error: unexpected {type(exc).__name__}: {_error_text(exc)} "
            "(set DESIGNLOG_DEBUG=1 for the traceback)\n",
        )
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
