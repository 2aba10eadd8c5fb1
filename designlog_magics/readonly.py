"""The gatekeeper for re-running a log's ``Command:`` lines: only read-only commands pass.

A log is untrusted text (it can be edited by hand or forged), so a replay must never hand a
``Command:`` line to a shell. :func:`judge_command` reads the line with a small lexer that, unlike
``shlex``, remembers which characters were quoted, and either returns the argv of each pipeline
stage (a :class:`ReadCommand`) or says in one line why it will not run it (a :class:`Refusal`).
:func:`run_pipeline` then runs those argvs directly, without a shell.

What passes: one of the programs in :data:`READ_PROGRAMS` (plain names, looked up on the absolute
entries of ``PATH``), optionally followed by ONE ``| head`` or ``| tail`` stage taking only
``-n N`` or ``-N``; or ``designlog`` with one of :data:`DESIGNLOG_READ_VERBS` (run in-process by the
caller, never by :func:`run_pipeline`). Everything a shell would give a meaning beyond "these
words" is refused rather than emulated: ``; & && || < > ( )``, newlines, backticks and ``$``
(even backslash-escaped), comments, assignments, brace expansion, ``~user``, and unquoted globs
except where the program itself takes a pattern (find's ``-name`` value, grep's pattern). The
only expansions done are the ones a log needs: ``{name}`` placeholders bound in START_DESIGN
(substituted inside a word after lexing, so a bound value is never syntax) and a leading ``~``.
"""

from __future__ import annotations

import glob
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from designlog_magics.probes.commands import CommandOutcome

# Each read program, and the options of it that write (from each program's GNU manual page:
# ls(1), du(1), df(1), stat(1), wc(1), head(1), grep(1), find(1)). Only find has any; its
# read-only primaries are also listed one by one in _FIND_PRIMARIES, so an unknown one is refused.
READ_PROGRAMS: Mapping[str, frozenset[str]] = {
    "ls": frozenset(),
    "du": frozenset(),
    "df": frozenset(),
    "stat": frozenset(),
    "wc": frozenset(),
    "head": frozenset(),
    "grep": frozenset(),
    "find": frozenset(
        ("-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf")
        + ("-fls",)
    ),
}
PIPE_PROGRAMS = ("head", "tail")
DESIGNLOG_READ_VERBS = frozenset({"verify", "search", "speed", "disk", "naming"})

_HINTS = {
    "egrep": "`egrep` is not a read command (use `grep -E`)",
    "fgrep": "`fgrep` is not a read command (use `grep -F`)",
}
_FIND_RUNS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
# GNU find(1): global and positional options, tests and read-only actions, with how many
# arguments each takes. -newerXY is matched separately.
_FIND_PRIMARIES: Mapping[str, int] = {
    **dict.fromkeys(
        "-d -depth -ignore_readdir_race -noignore_readdir_race -mount -xdev -noleaf -nowarn "
        "-warn -daystart -follow -help --help -version --version -empty -executable -false "
        "-nogroup -nouser -readable -true -writable -ls -print -print0 -prune -quit".split(),
        0,
    ),
    **dict.fromkeys(
        "-maxdepth -mindepth -regextype -files0-from -amin -anewer -atime -cmin -cnewer -ctime "
        "-fstype -gid -group -ilname -iname -inum -ipath -iregex -iwholename -links -lname "
        "-mmin -mtime -name -newer -path -perm -regex -samefile -size -type -uid -used -user "
        "-wholename -xtype -context -printf".split(),
        1,
    ),
}
_FIND_OPERATORS = frozenset({"(", ")", "!", ",", "-not", "-a", "-and", "-o", "-or"})
_FIND_PATTERN_PRIMARIES = frozenset(
    "-name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname".split()
)
_FIND_NEWER_RE = re.compile(r"-newer[aBcm][aBcmt]\Z")
# grep(1): options taking a value (GNU long names exactly; abbreviations are not resolved).
_GREP_SHORT_WITH_VALUE = frozenset("efmABCdD")
_GREP_LONG_WITH_VALUE = frozenset(
    "--regexp --file --max-count --after-context --before-context --context --label --include "
    "--exclude --exclude-from --exclude-dir --binary-files --devices --directories "
    "--group-separator".split()
)
_GREP_GLOB_VALUES = frozenset({"--include", "--exclude", "--exclude-dir"})

_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ASSIGNMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_COUNT_RE = re.compile(r"[0-9]+\Z")
_DESIGNLOG_LOG_RE = re.compile(r"--l(?:og?)?(?:=|\Z)")  # argparse accepts --l, --lo, --log
_GLOB_CHARS = "*?["
_MAX_OUTPUT = 16 * 1024 * 1024
_MAX_REASON = 200


@dataclass(frozen=True)
class ReadCommand:
    """A command that may be re-run: the argv of each pipeline stage."""

    stages: tuple[tuple[str, ...], ...]
    program: str
    verb: str | None = None  # for ``designlog``: its subcommand

    @property
    def text(self) -> str:
        """The command as it will run, quoted for a shell (for display and summaries)."""
        return " | ".join(shlex.join(stage) for stage in self.stages)


@dataclass(frozen=True)
class Refusal:
    """Why a command line will not be re-run."""

    reason: str


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        # one printable line, whatever the quoted words hold
        shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in reason)
        self.reason = shown if len(shown) <= _MAX_REASON else shown[: _MAX_REASON - 1] + "…"
        super().__init__(self.reason)


# A word is a list of (character, literal) pairs: literal means quoted, escaped or substituted,
# so the shell would never have expanded it.
_Word = list[tuple[str, bool]]
_PIPE = "|"
# An empty quote leaves no character, but it still stops tilde expansion (``~''``, ``''~``):
# it is kept as this mark until the tilde is decided, then dropped.
_EMPTY_QUOTE = ("", True)
# Escaped, these are literal to a shell; they are refused anyway, so nothing depends on getting
# the escaping right.
_ESCAPED_REASON = {"$": "`$` outside single quotes", "`": "a backtick outside single quotes"}


def _lex(line: str) -> list[_Word | str]:
    """Words and pipe operators of ``line``; raises ``_Refused`` for any other shell syntax."""
    tokens: list[_Word | str] = []
    word: _Word | None = None
    i, n = 0, len(line)

    def end_word() -> None:
        nonlocal word
        if word is not None:
            tokens.append(word)
            word = None

    while i < n:
        c = line[i]
        if c == "\0":
            raise _Refused("a NUL character in the command")
        if c in " \t":
            end_word()
            i += 1
        elif c == "\n":
            raise _Refused("a newline joins two commands")
        elif c == "\\":
            if i + 1 == n:
                raise _Refused("the command ends in a backslash")
            following = line[i + 1]
            if following in "$`":
                raise _Refused(_ESCAPED_REASON[following])
            if following != "\n":  # backslash-newline is a line continuation: dropped
                word = word if word is not None else []
                word.append((following, True))
            i += 2
        elif c == "'":
            close = line.find("'", i + 1)
            if close < 0:
                raise _Refused("an unterminated single quote")
            word = word if word is not None else []
            word.extend((ch, True) for ch in line[i + 1 : close])
            if close == i + 1:
                word.append(_EMPTY_QUOTE)
            i = close + 1
        elif c == '"':
            word = word if word is not None else []
            if line[i + 1 : i + 2] == '"':
                word.append(_EMPTY_QUOTE)
            i += 1
            while True:
                if i >= n:
                    raise _Refused("an unterminated double quote")
                d = line[i]
                if d == '"':
                    i += 1
                    break
                if d == "`":
                    raise _Refused("a backtick runs a command")
                if d == "$":
                    raise _Refused(_dollar_reason(line[i:]))
                if d == "\\" and i + 1 < n and line[i + 1] in '"\\\n$`':
                    if line[i + 1] in "$`":
                        raise _Refused(_ESCAPED_REASON[line[i + 1]])
                    if line[i + 1] != "\n":
                        word.append((line[i + 1], True))
                    i += 2
                    continue
                word.append((d, True))
                i += 1
        elif c in "$`":
            raise _Refused(_dollar_reason(line[i:]) if c == "$" else "a backtick runs a command")
        elif c == "|":
            if line[i + 1 : i + 2] == "|":
                raise _Refused("`||` joins two commands")
            if line[i + 1 : i + 2] == "&":
                raise _Refused("`|&` pipes error output")
            end_word()
            tokens.append(_PIPE)
            i += 1
        elif c in ";&<>()":
            raise _Refused(_operator_reason(line[i : i + 2], word))
        elif c == "#" and word is None:
            raise _Refused("`#` starts a comment")
        else:
            word = word if word is not None else []
            word.append((c, False))
            i += 1
    end_word()
    return tokens


def _dollar_reason(rest: str) -> str:
    for opening, what in (("$((", "arithmetic"), ("$(", "command substitution"), ("${", "")):
        if rest.startswith(opening):
            return f"`{opening}` {what or 'parameter expansion'} outside single quotes"
    return "`$` outside single quotes"


def _operator_reason(two: str, word: _Word | None) -> str:
    if two == "&&":
        return "`&&` joins two commands"
    if two[0] == ";":
        return "`;` joins two commands"
    if two[0] == "&":
        return "`&` runs a command in the background" if two != "&>" else "`&>` redirects output"
    if two[0] in "()":
        return f"`{two[0]}` starts or ends a subshell"
    descriptor = ""
    if word and all(ch.isdigit() and not literal for ch, literal in word):
        descriptor = "".join(ch for ch, _ in word)
    if two == ">>":
        return f"`{descriptor}>>` appends to a file"
    if two[0] == ">":
        return f"`{descriptor}>` redirects output to a file"
    return f"`{descriptor}<` redirects input"


def _text(word: _Word) -> str:
    return "".join(ch for ch, _ in word)


def _substitute(word: _Word, paths: Mapping[str, str]) -> _Word:
    """``{name}`` placeholders replaced by their bound paths (as literal characters)."""
    word = [pair for pair in word if pair != _EMPTY_QUOTE]
    text = _text(word)
    out: _Word = []
    position = 0
    for match in _PLACEHOLDER_RE.finditer(text):
        name = match.group(1)
        if name not in paths:
            raise _Refused(f"unknown placeholder `{{{name}}}`")
        out.extend(word[position : match.start()])
        out.extend((ch, True) for ch in str(paths[name]))
        position = match.end()
    out.extend(word[position:])
    return out


def _expands_tilde(word: _Word) -> bool:
    """True for a leading unquoted ``~`` or ``~/``: the home directory, as the shell does.

    Decided before placeholders are substituted, so ``~{name}`` is refused, not guessed."""
    if not word or word[0] != ("~", False):
        if _ASSIGNMENT_RE.match(_text(word)) and _assignment_tilde(word):
            raise _Refused(f"bash expands the `~` in `{_text(word)}`; quote it")
        return False
    end = next((k for k, (ch, lit) in enumerate(word) if ch == "/" and not lit), len(word))
    prefix = word[1:end]
    if any(literal for _, literal in prefix):
        return False  # a quoted character in the tilde-prefix: the shell keeps it as written
    if prefix:
        raise _Refused(f"`~{_text(prefix)}` is not expanded here; write the path")
    return True


def _expand(word: _Word, paths: Mapping[str, str]) -> _Word:
    """The word after tilde expansion and placeholder substitution."""
    home = _expands_tilde(word)
    word = _substitute(word, paths)
    if home:
        word = [(ch, True) for ch in os.path.expanduser("~")] + word[1:]
    return word


def _assignment_tilde(word: _Word) -> bool:
    # bash expands ~ after the first = and after each unquoted : of an assignment-like word
    equals = next(k for k, (ch, _) in enumerate(word) if ch == "=")
    if any(literal for _, literal in word[: equals + 1]):
        return False
    return any(
        ch == "~" and not lit and (k == equals + 1 or word[k - 1] == (":", False))
        for k, (ch, lit) in enumerate(word)
        if k > equals
    )


def _has_glob(word: _Word) -> bool:
    return any(ch in _GLOB_CHARS and not literal for ch, literal in word)


def _would_expand(word: _Word, cwd: str) -> bool:
    """True when the shell would have replaced this unquoted pattern by matching file names."""
    pattern = "".join(glob.escape(ch) if literal else ch for ch, literal in word)
    try:
        return next(glob.iglob(pattern, root_dir=cwd), None) is not None
    except (OSError, ValueError):
        return False


def _program_reason(name: str) -> str | None:
    if not name:
        return "an empty program name"
    if "/" in name:
        return f"`{name}` names a file to run; only plain program names are allowed"
    if name == "designlog" or name in READ_PROGRAMS:
        return None
    if name.startswith("python") and name not in _HINTS:
        return f"`{name}` is not a read command (a designlog verb is written `designlog VERB`)"
    return _HINTS.get(name, f"`{name}` is not a read command")


def _find_pattern_words(argv: tuple[str, ...]) -> set[int]:
    """Indices of find's pattern values; raises ``_Refused`` for a writing or unknown primary."""
    for word in argv[1:]:
        if word in READ_PROGRAMS["find"]:
            verb = "runs a command" if word in _FIND_RUNS else "writes"
            raise _Refused(f"find {word} {verb}")
    i = 1
    while i < len(argv):  # -H -L -P, -D debugopts, -Olevel
        if argv[i] in ("-H", "-L", "-P"):
            i += 1
        elif argv[i] == "-D":
            i += 2
        elif argv[i].startswith("-O") and argv[i][2:].isdigit():
            i += 1
        else:
            break
    while i < len(argv) and not (
        (argv[i].startswith("-") and len(argv[i]) > 1) or argv[i] in _FIND_OPERATORS
    ):
        i += 1  # starting points
    patterns: set[int] = set()
    while i < len(argv):
        word = argv[i]
        if word in _FIND_OPERATORS:
            i += 1
            continue
        count = 1 if _FIND_NEWER_RE.match(word) else _FIND_PRIMARIES.get(word)
        if count is None:
            raise _Refused(f"find `{word}` is not a read-only primary")
        if i + count >= len(argv) and count:
            raise _Refused(f"find {word} needs a value")
        if word in _FIND_PATTERN_PRIMARIES:
            patterns.add(i + 1)
        i += 1 + count
    return patterns


def _grep_pattern_words(argv: tuple[str, ...]) -> set[int]:
    """Indices of grep's pattern (``-e`` values or the first operand) and glob-valued options."""
    patterns: set[int] = set()
    operands: list[int] = []
    given = False  # patterns came from -e or -f
    i = 1
    while i < len(argv):
        word = argv[i]
        if word == "--":
            operands.extend(range(i + 1, len(argv)))
            break
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            if name in ("--regexp", "--file"):
                given = True
            if name in _GREP_LONG_WITH_VALUE and "=" not in word:
                i += 1
                value_index = i
            else:
                value_index = i  # the value is inside the word
            if name in _GREP_GLOB_VALUES or name == "--regexp":
                patterns.add(value_index)
        elif word.startswith("-") and len(word) > 1:
            for k, letter in enumerate(word[1:], start=1):
                if letter in _GREP_SHORT_WITH_VALUE:
                    given = given or letter in "ef"
                    if k == len(word) - 1:
                        i += 1
                    if letter == "e":
                        patterns.add(i)
                    break
        else:
            operands.append(i)
        i += 1
    if not given and operands:
        patterns.add(operands[0])
    return patterns


def _check_pipe_stage(argv: tuple[str, ...]) -> None:
    name = argv[0]
    if name not in PIPE_PROGRAMS:
        reason = _program_reason(name)
        if reason and "/" in name:
            raise _Refused(reason)
        raise _Refused(f"`| {name}` is not allowed; only `| head` or `| tail` may follow")
    options = argv[1:]
    ok = (
        not options
        or (len(options) == 2 and options[0] == "-n" and _COUNT_RE.match(options[1]))
        or (len(options) == 1 and _count_flag(options[0]))
    )
    if not ok:
        raise _Refused(f"`| {shlex.join(argv)}`: only `-n N` or `-N` is allowed after `{name}`")


def _count_flag(option: str) -> bool:
    """``-nN`` or ``-N``."""
    if not option.startswith("-"):
        return False
    digits = option[2:] if option.startswith("-n") else option[1:]
    return bool(_COUNT_RE.match(digits))


def _judge(line: str, paths: Mapping[str, str], cwd: str) -> ReadCommand:
    stages_words: list[list[_Word]] = [[]]
    for token in _lex(line):
        if token is _PIPE:
            stages_words.append([])
        else:
            stages_words[-1].append(token)  # type: ignore[arg-type]
    if any(not stage for stage in stages_words):
        raise _Refused("an empty command" if len(stages_words) == 1 else "an empty pipeline stage")
    if len(stages_words) > 2:
        raise _Refused("more than one pipe")
    stages_words = [[_expand(word, paths) for word in stage] for stage in stages_words]
    for stage in stages_words:
        first = stage[0]
        match = _ASSIGNMENT_RE.match(_text(first))
        if match and not any(literal for _, literal in first[: match.end()]):
            raise _Refused(f"`{_text(first)}` sets a variable before the program")
    stages = tuple(tuple(_text(w) for w in stage) for stage in stages_words)
    program = stages[0][0]
    reason = _program_reason(program)
    if reason:
        raise _Refused(reason)
    if len(stages) == 2:
        if program == "designlog":
            raise _Refused("`designlog` runs in-process; nothing may be piped from it")
        _check_pipe_stage(stages[1])
    verb: str | None = None
    exempt: set[int] = set()
    if program == "designlog":
        verb = stages[0][1] if len(stages[0]) > 1 else None
        if verb not in DESIGNLOG_READ_VERBS:
            if verb is None:
                raise _Refused("`designlog` without a verb")
            raise _Refused(f"`designlog {verb}` is not a read verb")
        if any(_DESIGNLOG_LOG_RE.match(word) for word in stages[0][2:]):
            raise _Refused("`designlog --log` appends to a log")
    elif program == "find":
        exempt = _find_pattern_words(stages[0])
    elif program == "grep":
        exempt = _grep_pattern_words(stages[0])
    for stage_index, stage in enumerate(stages_words):
        for index, word in enumerate(stage[1:], start=1):
            brace = next((ch for ch, literal in word if ch in "{}" and not literal), None)
            if brace:
                raise _Refused(f"unquoted `{brace}` (brace expansion) in `{_text(word)}`")
            if not _has_glob(word):
                continue
            if stage_index or index not in exempt:
                raise _Refused(f"unexpanded glob `{_text(word)}` in an argument")
            if _would_expand(word, cwd):
                shown = _text(word)
                raise _Refused(f"the shell would expand `{shown}` here (files match); quote it")
    return ReadCommand(stages=stages, program=program, verb=verb)


def judge_command(
    line: str, paths: Mapping[str, str], *, cwd: str | None = None
) -> ReadCommand | Refusal:
    """The argv of a read-only command line, or why it may not be re-run.

    ``paths`` are the log's bound path names (``{name}`` placeholders). ``cwd`` is where it would
    run (default: the current directory): an unquoted pattern that the shell would have expanded
    there is refused, since the logged result came from the expanded command. Never raises.
    """
    try:
        where = cwd if cwd is not None else os.getcwd()
    except OSError as exc:  # the current directory was removed
        return Refusal(f"no current directory to judge the command in ({exc.strerror})")
    try:
        return _judge(line, paths, where)
    except _Refused as refused:
        return Refusal(refused.reason)


def split_command_lines(text: str) -> list[str]:
    """The commands of a (possibly multi-line) ``Command:`` value: one per line, a line ending in
    an unescaped backslash joined to the next (the backslash-newline is kept; the lexer drops it
    as the shell does). Blank lines are skipped."""
    commands: list[str] = []
    current: str | None = None
    for raw in text.splitlines():
        current = raw if current is None else current + "\n" + raw
        trailing = len(current) - len(current.rstrip("\\"))
        if trailing % 2 == 1:
            continue
        if current.strip():
            commands.append(current.strip())
        current = None
    if current is not None and current.strip():
        commands.append(current.strip())
    return commands


def _resolve(name: str) -> str | None:
    # Only absolute PATH entries: "." or an empty entry would run a file from the cwd.
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return shutil.which(name, path=os.pathsep.join(e for e in entries if os.path.isabs(e)))


def _bash_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _kill_group(pgid: int, processes: list[subprocess.Popen[bytes]]) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for process in processes:  # a stage that left the group (none of these programs do)
        try:
            process.kill()
        except ProcessLookupError:
            pass


def run_pipeline(
    command: ReadCommand,
    *,
    timeout: float = 120.0,
    cwd: str | None = None,
    max_output: int = _MAX_OUTPUT,
) -> CommandOutcome:
    """Run a judged command's stages without a shell, stdout of one into the next.

    All stages share one new process group, killed on timeout, on output beyond ``max_output``
    bytes, or on ``KeyboardInterrupt`` (re-raised). The exit status is bash's with ``pipefail``:
    the last non-zero one, a signal ``N`` as ``128+N``. ``designlog`` stages are refused
    (``ValueError``): the caller runs those in-process.
    """
    if not isinstance(command, ReadCommand):
        raise ValueError("run_pipeline takes a ReadCommand from judge_command")
    if command.program == "designlog":
        raise ValueError("designlog verbs run in-process, not through run_pipeline")
    text = command.text
    start = time.monotonic()
    executables: list[str] = []
    for index, argv in enumerate(command.stages):
        allowed = PIPE_PROGRAMS if index else tuple(READ_PROGRAMS)
        if argv[0] not in allowed:
            raise ValueError(f"{argv[0]!r} is not a read program")
        found = _resolve(argv[0])
        if found is None:
            return CommandOutcome(text, 127, "", f"{argv[0]}: command not found\n", 0.0)
        executables.append(found)

    processes: list[subprocess.Popen[bytes]] = []
    err_read, err_write = os.pipe()
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    timed_out = overflow = False
    try:
        try:
            previous: Any = subprocess.DEVNULL
            for argv, executable in zip(command.stages, executables, strict=True):
                process = subprocess.Popen(
                    list(argv),
                    executable=executable,
                    stdin=previous,
                    stdout=subprocess.PIPE,
                    stderr=err_write,
                    cwd=cwd,
                    process_group=processes[0].pid if processes else 0,
                )
                if processes:
                    processes[-1].stdout.close()  # type: ignore[union-attr]  # SIGPIPE reaches it
                processes.append(process)
                previous = process.stdout
        except OSError as exc:
            if processes:
                _kill_group(processes[0].pid, processes)
                for process in processes:
                    process.wait()
            return CommandOutcome(text, 126, "", f"{exc}\n", time.monotonic() - start)
        finally:
            os.close(err_write)
        deadline = start + timeout
        out_fd = processes[-1].stdout.fileno()  # type: ignore[union-attr]
        total = 0
        with selectors.DefaultSelector() as selector:
            selector.register(out_fd, selectors.EVENT_READ, stdout)
            selector.register(err_read, selectors.EVENT_READ, stderr)
            while selector.get_map() and not (timed_out or overflow):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(min(remaining, 0.5)):
                    data = os.read(key.fd, 65536)
                    if not data:
                        selector.unregister(key.fd)
                        continue
                    key.data.append(data)
                    total += len(data)
                    if total > max_output:
                        overflow = True
                        break
        for process in processes:
            if timed_out or overflow:
                break
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out or overflow:
            _kill_group(processes[0].pid, processes)
        for process in processes:
            process.wait()
    except BaseException:
        if processes:
            _kill_group(processes[0].pid, processes)
            for process in processes:
                process.wait()
        raise
    finally:
        os.close(err_read)
        for process in processes:
            if process.stdout:
                process.stdout.close()
    seconds = time.monotonic() - start
    out = b"".join(stdout).decode("utf-8", errors="replace")
    err = b"".join(stderr).decode("utf-8", errors="replace")
    if overflow:
        err += f"output over {max_output} bytes: stopped\n"
    if timed_out:
        return CommandOutcome(text, None, out, err, seconds, timed_out=True)
    statuses = [_bash_status(p.returncode) for p in processes]
    returncode = next((s for s in reversed(statuses) if s), 0)
    return CommandOutcome(text, returncode, out, err, seconds)
