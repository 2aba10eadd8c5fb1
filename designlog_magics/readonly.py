"""The gatekeeper for re-running a log's ``Command:`` lines: only reads, and only where the plan
lives.

A log is untrusted text (it can be edited by hand, forged, or received from someone else), so a
replay must never hand a ``Command:`` line to a shell, nor read what the plan does not name.
:func:`judge_command` reads the line with a small lexer that, unlike ``shlex``, remembers which
characters were quoted, and either returns the argv of each pipeline stage (a
:class:`ReadCommand`) or says in one line why it will not run it (a :class:`Refusal`).
:func:`run_pipeline` then runs those argvs directly, without a shell, through the package's one
runner (:func:`designlog_magics.probes.commands.run_command`).

What passes: one of the programs in :data:`READ_PROGRAMS` (plain names, looked up on the absolute
entries of ``PATH``), optionally followed by ONE ``| head`` or ``| tail`` stage taking only
``-n N`` or ``-N``; or ``designlog`` with one of :func:`read_verbs` (the verb table's) (run as
``python -P -m designlog_magics VERB ...``, a subprocess like the others). Everything a
shell would give a meaning beyond "these words" is refused rather than emulated:
``; & && || < > ( )``, newlines, backticks and ``$`` (even backslash-escaped), comments,
assignments, brace expansion, ``~user``, and unquoted globs except where the program itself takes
a pattern (find's ``-name`` value, grep's pattern, ``du --exclude``, ``ls --hide``). The only
expansions done are the ones a log needs: ``{name}`` placeholders bound in START_DESIGN
(substituted inside a word after lexing, so a bound value is never syntax) and a leading ``~``.

Where it may read (``roots``, given by replay: the experiment directory and the plan's bound
paths). Every word a program reads as a file or directory must resolve, with ``realpath``
(symlinks followed, ``..`` applied, a relative word taken from the working directory, a missing
path judged by its nearest existing parent), inside one of the roots; :func:`confine` is that
rule, and the only place it is written. Which words those are, per program, from each program's
GNU manual page and ``--help`` (coreutils 9, grep 3, findutils 4.9), as :data:`_OPTIONS` and the
``_reads_*`` functions encode them:

* ``ls``, ``du``: every operand; none means ``.``. ``du -X/--exclude-from FILE`` reads FILE.
* ``df``, ``stat``, ``wc``, ``head``: every operand (``-`` is standard input for ``stat``,
  ``wc`` and ``head``, and is empty); ``df`` without one reads only the mount table.
* ``grep``: the operands after the pattern (the first operand, unless ``-e``/``-f`` gave it);
  with ``-r``/``--recursive``/``-d recurse`` and none, ``.``; ``-f/--file FILE`` and
  ``--exclude-from FILE`` read FILE (``-f -`` is standard input).
* ``find``: the starting points (none means ``.``) and the files named by ``-newer``,
  ``-anewer``, ``-cnewer``, ``-newerXY`` (unless Y is ``t``, a date) and ``-samefile``.
* ``designlog VERB``: the arguments its row in the verb table names as paths (``Verb.paths``),
  with ``~`` expanded as the verb expands it.

Options that would read past what can be judged are refused: following every symlink below an
operand (``find -L``/``-follow``, ``grep -R``, ``du -L``, ``ls -R`` with ``-L``), and lists of
paths kept in a file (``--files0-from``, find's ``-files0-from``); ``designlog speed JOBID``
reads wherever SLURM wrote the job's output. Options not in a program's table are refused (GNU
long options may be abbreviated; an abbreviation is resolved as getopt resolves it, so
``--exclude-fr=FILE`` is judged as ``--exclude-from``). Following a symlink named on the command
line (``find -H``, ``grep -r``, ``ls -H``, ``stat -L``, ``du -D``) is what ``realpath`` judges
(``ls -L DIR`` shows the size and type of what its links point to, not their contents). A
designlog argument holding ``{``, ``}`` or ``$`` is refused: the verb would expand it, and a
``{...}`` is evaluated as Python. The check is made just before the run; a tree changed in
between by someone else is not something a read can guard against.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from designlog_magics.probes.commands import CommandOutcome, run_command

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
OUTSIDE = "reads outside the plan's paths"

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
_FIND_FILE_PRIMARIES = frozenset({"-newer", "-anewer", "-cnewer", "-samefile"})
_FIND_NEWER_RE = re.compile(r"-newer[aBcm][aBcmt]\Z")

_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ASSIGNMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_COUNT_RE = re.compile(r"[0-9]+\Z")
_DESIGNLOG_LOG_RE = re.compile(r"--l(?:og?)?(?:=|\Z)")  # argparse accepts --l, --lo, --log
_GLOB_CHARS = "*?["
_MAX_OUTPUT = 16 * 1024 * 1024
_MAX_REASON = 200
# Left out of a replayed command's environment: with POSIXLY_CORRECT, getopt stops at the first
# operand (so ``head f -n /etc/shadow`` would read /etc/shadow, which was judged a value);
# GREP_OPTIONS adds options the judge never saw; DESIGNLOG_DIR is the command line's default LOG.
_DROPPED_VARIABLES = frozenset({"POSIXLY_CORRECT", "GREP_OPTIONS", "DESIGNLOG_DIR"})


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


def _printable(reason: str) -> str:
    """One printable line, whatever the quoted words hold, clipped."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in reason)
    return shown if len(shown) <= _MAX_REASON else shown[: _MAX_REASON - 1] + "…"


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = _printable(reason)
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


# -- which words each program reads ---------------------------------------------------------
@dataclass(frozen=True)
class _Getopt:
    """A GNU program's options as its getopt_long call takes them (from the program's source
    and manual page): ``short`` is the optstring (a letter followed by ``:`` takes a value),
    ``long`` the long names (``name=`` takes a value, as ``--name=V`` or ``--name V``;
    ``name==`` an optional one, only as ``--name=V``), ``aliases`` a short letter or long synonym
    -> the long name it means (only for the options whose meaning the judge needs)."""

    short: str
    long: str
    aliases: Mapping[str, str] = field(default_factory=dict)

    def short_values(self) -> frozenset[str]:
        s = self.short
        return frozenset(c for k, c in enumerate(s) if c != ":" and s[k + 1 : k + 2] == ":")

    def long_kinds(self) -> dict[str, str]:
        return {item.rstrip("="): item[len(item.rstrip("=")) :] for item in self.long.split()}


_COMMON_LONG = "help version "
_OPTIONS: Mapping[str, _Getopt] = {
    # ls(1), coreutils 9 (ls.c decode_switches)
    "ls": _Getopt(
        "abcdfghiklmnopqrstuvw:xABCDFGHI:LNQRST:UXZ1",
        _COMMON_LONG + "all escape directory dired full-time group-directories-first "
        "human-readable inode kibibytes numeric-uid-gid no-group hide-control-chars reverse size "
        "width= almost-all ignore-backups classify== file-type si dereference-command-line "
        "dereference-command-line-symlink-to-dir hide= ignore= indicator-style= dereference "
        "literal quote-name quoting-style= recursive format= show-control-chars sort= tabsize= "
        "time= time-style= zero color== hyperlink== block-size= context author",
        {"R": "recursive", "L": "dereference", "I": "ignore"},
    ),
    # du(1)
    "du": _Getopt(
        "0abd:chHklmsxB:DLPSt:X:",
        _COMMON_LONG + "all apparent-size block-size= bytes count-links dereference "
        "dereference-args exclude= exclude-from= files0-from= human-readable inodes si "
        "max-depth= null no-dereference one-file-system separate-dirs summarize total "
        "threshold= time== time-style=",
        {"L": "dereference", "X": "exclude-from"},
    ),
    # df(1): -F is -t (Solaris)
    "df": _Getopt(
        "aB:iF:hHklmPTt:vx:",
        _COMMON_LONG + "all block-size= inodes human-readable si local output== portability "
        "print-type sync no-sync total type= exclude-type=",
    ),
    # stat(1)
    "stat": _Getopt(
        "c:fLt", _COMMON_LONG + "dereference file-system format= printf= terse cached="
    ),
    # wc(1)
    "wc": _Getopt(
        "clLmw", _COMMON_LONG + "bytes chars lines files0-from= max-line-length words total="
    ),
    # head(1): -NUM as the first argument is the obsolete count, taken before getopt
    "head": _Getopt(
        "c:n:qvz0123456789",
        _COMMON_LONG + "bytes= lines= quiet silent verbose zero-terminated presume-input-pipe",
    ),
    # grep(1), grep 3 (grep.c short_options and long_options); -NUM is --context=NUM
    "grep": _Getopt(
        "0123456789A:B:C:D:EFGHILPTUVX:abcd:e:f:hiLlm:noqRrsuvwxyZz",
        _COMMON_LONG + "basic-regexp extended-regexp fixed-regexp fixed-strings perl-regexp "
        "after-context= before-context= binary-files= byte-offset context= color== colour== "
        "count devices= directories= dereference-recursive exclude= exclude-from= exclude-dir= "
        "file= files-with-matches files-without-match include= ignore-case no-ignore-case "
        "initial-tab label= line-buffered line-number line-regexp max-count= no-filename "
        "no-group-separator no-messages null null-data only-matching quiet recursive regexp= "
        "invert-match silent text binary unix-byte-offsets with-filename word-regexp "
        "group-separator=",
        {
            "e": "regexp",
            "f": "file",
            "d": "directories",
            "r": "recursive",
            "R": "dereference-recursive",
            "colour": "color",
            "silent": "quiet",
            "fixed-regexp": "fixed-strings",
        },
    ),
}
_STDIN_IS_DASH = frozenset({"stat", "wc", "head", "grep"})
_PATTERN_OPTIONS = {  # options whose value is a pattern (glob characters allowed, quoted or not)
    "grep": frozenset({"regexp", "include", "exclude", "exclude-dir"}),
    "ls": frozenset({"ignore", "hide"}),
    "du": frozenset({"exclude"}),
}


@dataclass
class _Reads:
    """What a command reads: path words (as the program gets them) and how it treats them."""

    paths: list[str] = field(default_factory=list)
    patterns: set[int] = field(default_factory=set)  # indices of pattern words (globs allowed)
    cwd: bool = False  # with no operand it reads the working directory
    follows: str | None = None  # an option that follows every symlink below an operand
    unjudged: str | None = None  # why what it reads cannot be judged from the words


@dataclass
class _Parsed:
    options: list[tuple[str, str | None, int]]  # (name, value, index of the word with the value)
    operands: list[int]


def _long_option(program: str, name: str, kinds: Mapping[str, str], spec: _Getopt) -> str:
    """The long option ``--name`` means, resolving an abbreviation as getopt_long does."""
    if name in kinds:
        return name
    matches = [n for n in kinds if n.startswith(name)]
    meanings = {(spec.aliases.get(n, n), kinds[n]) for n in matches}
    if not matches:
        raise _Refused(f"`--{name}` is not an option of {program}")
    if len(meanings) > 1:
        raise _Refused(f"`--{name}` is ambiguous for {program}")
    return matches[0]


def _getopt(argv: Sequence[str], spec: _Getopt, start: int = 1) -> _Parsed:
    """Options and operands as GNU getopt_long permutes them; raises ``_Refused`` for an option
    the program does not have (it would stop with a usage error) or a value it lacks."""
    program = argv[0]
    values, kinds = spec.short_values(), spec.long_kinds()
    letters = set(spec.short.replace(":", ""))
    parsed = _Parsed([], [])
    i = start
    while i < len(argv):
        word = argv[i]
        if word == "--":
            parsed.operands.extend(range(i + 1, len(argv)))
            break
        if word.startswith("--"):
            name, equals, value = word[2:].partition("=")
            full = _long_option(program, name, kinds, spec)
            canonical, kind = spec.aliases.get(full, full), kinds[full]
            if kind == "" and equals:
                raise _Refused(f"`{program} --{full}` takes no value")
            if kind == "=" and not equals:
                i += 1
                if i == len(argv):
                    raise _Refused(f"`{program} --{full}` needs a value")
                value = argv[i]
            parsed.options.append(
                (canonical, value if kind and (equals or kind == "=") else None, i)
            )
        elif word.startswith("-") and len(word) > 1:
            for k, letter in enumerate(word[1:], start=1):
                if letter not in letters:
                    raise _Refused(f"`-{letter}` is not an option of {program}")
                name = spec.aliases.get(letter, "-" + letter)
                if letter in values:
                    if k + 1 < len(word):
                        parsed.options.append((name, word[k + 1 :], i))
                    else:
                        i += 1
                        if i == len(argv):
                            raise _Refused(f"`{program} -{letter}` needs a value")
                        parsed.options.append((name, argv[i], i))
                    break
                parsed.options.append((name, None, i))
        else:
            parsed.operands.append(i)
        i += 1
    return parsed


def _reads(argv: tuple[str, ...]) -> _Reads:
    """The words ``argv`` reads as paths (see the module docstring), its pattern words, and
    whether it reads past them; raises ``_Refused`` for an option it does not have."""
    program = argv[0]
    if program == "find":
        return _reads_find(argv)
    obsolete = program == "head" and len(argv) > 1 and re.match(r"-[0-9]", argv[1]) is not None
    parsed = _getopt(argv, _OPTIONS[program], start=2 if obsolete else 1)
    names = {name for name, _, _ in parsed.options}
    operands = [argv[i] for i in parsed.operands]
    patterns = _PATTERN_OPTIONS.get(program, frozenset())
    reads = _Reads(patterns={i for name, _, i in parsed.options if name in patterns})
    if program == "grep":
        given = bool(names & {"regexp", "file"})
        if not given and parsed.operands:
            reads.patterns.add(parsed.operands[0])
            operands = operands[1:]
        reads.paths = [v for n, v, _ in parsed.options if n == "file" and v and v != "-"]
        reads.paths += [v for n, v, _ in parsed.options if n == "exclude-from" and v]
        recursive = bool(names & {"recursive", "dereference-recursive"}) or any(
            n == "directories" and v and len(v) >= 3 and "recurse".startswith(v)
            for n, v, _ in parsed.options
        )
        reads.cwd = recursive and not operands
        if "dereference-recursive" in names:
            reads.follows = "`grep -R` follows every symlink, wherever it leads"
    elif program in ("ls", "du"):
        reads.cwd = not operands
        if program == "ls" and {"recursive", "dereference"} <= names:
            reads.follows = "`ls -R -L` follows every symlink, wherever it leads"
        if program == "du":
            reads.paths = [v for n, v, _ in parsed.options if n == "exclude-from" and v]
            if "dereference" in names:
                reads.follows = "`du -L` follows every symlink, wherever it leads"
    if "files0-from" in names:
        reads.unjudged = f"`{program} --files0-from` reads the names of what it reads from a file"
    if program in _STDIN_IS_DASH:
        operands = [word for word in operands if word != "-"]
    reads.paths += operands
    return reads


def _reads_find(argv: tuple[str, ...]) -> _Reads:
    """find's starting points, the files its tests name, and its pattern words; raises
    ``_Refused`` for a writing or unknown primary."""
    for word in argv[1:]:
        if word in READ_PROGRAMS["find"]:
            verb = "runs a command" if word in _FIND_RUNS else "writes"
            raise _Refused(f"find {word} {verb}")
    reads = _Reads()
    follow_links = False
    i = 1
    while i < len(argv):  # -H -L -P (the last one wins), -D debugopts, -Olevel
        if argv[i] in ("-H", "-L", "-P"):
            follow_links = argv[i] == "-L"
            i += 1
        elif argv[i] == "-D":
            i += 2
        elif argv[i].startswith("-O") and argv[i][2:].isdigit():
            i += 1
        else:
            break
    first = i
    while i < len(argv) and not (
        (argv[i].startswith("-") and len(argv[i]) > 1) or argv[i] in _FIND_OPERATORS
    ):
        i += 1  # starting points
    reads.paths = list(argv[first:i])
    reads.cwd = first == i
    while i < len(argv):
        word = argv[i]
        if word in _FIND_OPERATORS:
            i += 1
            continue
        newer = _FIND_NEWER_RE.match(word) is not None
        count = 1 if newer else _FIND_PRIMARIES.get(word)
        if count is None:
            raise _Refused(f"find `{word}` is not a read-only primary")
        if i + count >= len(argv) and count:
            raise _Refused(f"find {word} needs a value")
        if word in _FIND_PATTERN_PRIMARIES:
            reads.patterns.add(i + 1)
        if word in _FIND_FILE_PRIMARIES or (newer and word[-1] != "t"):
            reads.paths.append(argv[i + 1])  # -newerXt takes a date; the others a file
        if word == "-follow":
            follow_links = True
        if word == "-files0-from":
            reads.unjudged = "`find -files0-from` reads its starting points from a file"
            reads.cwd = False
        i += 1 + count
    if follow_links:
        reads.follows = "`find -L` follows every symlink, wherever it leads"
    return reads


_JOB_ID_RE = re.compile(r"\d+(?:_\d+)?\Z")


def read_verbs() -> frozenset[str]:
    """The package's own read verbs (the verb table's rows that only read)."""
    from .steps import read_verbs as table_read_verbs

    return table_read_verbs()


def _verb_reads(argv: tuple[str, ...]) -> _Reads:
    """The path words of ``designlog VERB ...`` (``~`` expanded as the verb expands it), read
    with the verb's own parser: the words mean here what they mean when the verb runs."""
    from .arguments import ArgumentsError
    from .steps import verb as table_verb
    from .steps.table import command_line_parser

    verb = argv[1]
    for word in argv[2:]:
        # the verb expands {name} placeholders (and a notebook's {expression}) in a path
        special = next((ch for ch in "{}$" if ch in word), None)
        if special:
            raise _Refused(f"`{special}` in a designlog argument (`{word}`) would be expanded")
    if any(word in ("-h", "--help") for word in argv[2:]):
        raise _Refused(f"`designlog {verb} --help` prints help; it checks nothing")
    row = table_verb(verb)
    try:
        arguments = vars(command_line_parser(row).parse_args(list(argv[2:])))
    except ArgumentsError as exc:
        raise _Refused(f"`designlog {verb}`: {exc}") from None
    if arguments.get("log"):
        raise _Refused("`designlog --log` appends to a log")
    if not row.reads_only and not any(arguments.get(k) for k in row.read_only_with):
        needed = " or ".join(f"--{k.replace('_', '-')}" for k in row.read_only_with)
        raise _Refused(f"`designlog {verb}` appends to its log unless given {needed}")
    reads = _Reads()
    for dest in row.paths:
        value = arguments.get(dest)
        for given in value if isinstance(value, list | tuple) else [value]:
            if given:
                reads.paths.append(os.path.expanduser(str(given)))
    if verb == "speed" and any(_JOB_ID_RE.match(word) for word in reads.paths):
        reads.unjudged = "`designlog speed JOBID` reads the job's output wherever SLURM wrote it"
    return reads


def confine(path_words: Iterable[str], roots: Iterable[str], *, cwd: str) -> Refusal | None:
    """``None`` when every path word lies inside one of ``roots``; else why not (the first out).

    The one place the rule is written. A word is taken as the program takes it: relative to
    ``cwd``; ``realpath`` then follows every symlink and applies ``..``, and a part that does not
    exist yet stays as written, so a new path is judged by its nearest existing parent. Inside
    means a root itself or anything below it (roots are resolved the same way).
    """
    try:
        real_roots = [os.path.realpath(root) for root in roots]
    except (ValueError, OSError):
        return Refusal(f"{OUTSIDE}: a root that cannot be resolved")
    for word in path_words:
        try:
            real = os.path.realpath(os.path.join(cwd, word))
        except (ValueError, OSError):  # a NUL byte in a bound value
            return Refusal(_printable(f"{OUTSIDE}: `{word}` cannot be resolved"))
        if not any(real == root or real.startswith(root.rstrip("/") + "/") for root in real_roots):
            shown = f"`{word}`" if real == word else f"`{word}` (that is {real})"
            return Refusal(_printable(f"{OUTSIDE}: {shown}"))
    return None


def _confine_reads(reads: _Reads, roots: Iterable[str], cwd: str) -> None:
    if reads.follows:
        raise _Refused(f"{OUTSIDE}: {reads.follows}")
    if reads.unjudged:
        raise _Refused(f"{reads.unjudged}, which cannot be judged")
    refusal = confine([*reads.paths, *(["."] if reads.cwd else [])], roots, cwd=cwd)
    if refusal is not None:
        raise _Refused(refusal.reason)


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


def _judge(
    line: str, paths: Mapping[str, str], cwd: str, roots: Iterable[str] | None
) -> ReadCommand:
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
            raise _Refused("`designlog` runs alone; nothing may be piped from it")
        _check_pipe_stage(stages[1])
    verb: str | None = None
    if program == "designlog":
        verb = stages[0][1] if len(stages[0]) > 1 else None
        if verb not in read_verbs():
            if verb is None:
                raise _Refused("`designlog` without a verb")
            raise _Refused(f"`designlog {verb}` is not a read verb")
        if any(_DESIGNLOG_LOG_RE.match(word) for word in stages[0][2:]):
            raise _Refused("`designlog --log` appends to a log")
        reads = _verb_reads(stages[0])
    else:
        reads = _reads(stages[0])
    for stage_index, stage in enumerate(stages_words):
        for index, word in enumerate(stage[1:], start=1):
            brace = next((ch for ch, literal in word if ch in "{}" and not literal), None)
            if brace:
                raise _Refused(f"unquoted `{brace}` (brace expansion) in `{_text(word)}`")
            if not _has_glob(word):
                continue
            if stage_index or index not in reads.patterns:
                raise _Refused(f"unexpanded glob `{_text(word)}` in an argument")
            if _would_expand(word, cwd):
                shown = _text(word)
                raise _Refused(f"the shell would expand `{shown}` here (files match); quote it")
    if roots is not None:
        _confine_reads(reads, roots, cwd)
    return ReadCommand(stages=stages, program=program, verb=verb)


def judge_command(
    line: str,
    paths: Mapping[str, str],
    *,
    cwd: str | None = None,
    roots: Iterable[str] | None = None,
) -> ReadCommand | Refusal:
    """The argv of a read-only command line, or why it may not be re-run.

    ``paths`` are the log's bound path names (``{name}`` placeholders). ``cwd`` is where it would
    run (default: the current directory): an unquoted pattern that the shell would have expanded
    there is refused, since the logged result came from the expanded command, and relative paths
    are taken from it. ``roots`` are where it may read (see :func:`confine`; replay gives the
    experiment directory and the plan's paths); ``None`` judges the words alone. Never raises.
    """
    try:
        where = cwd if cwd is not None else os.getcwd()
    except OSError as exc:  # the current directory was removed
        return Refusal(f"no current directory to judge the command in ({exc.strerror})")
    try:
        return _judge(line, paths, where, None if roots is None else tuple(roots))
    except _Refused as refused:
        return Refusal(refused.reason)


def substitute_paths(text: str, paths: Mapping[str, str]) -> str | Refusal:
    """``text`` with its ``{name}`` placeholders replaced by their bound paths and nothing else
    expanded (a log's ``Working Directory:``, a created file's path); any other ``{`` or ``}``
    is refused, never evaluated."""
    rest = _PLACEHOLDER_RE.sub("", text)
    if "{" in rest or "}" in rest:
        return Refusal(_printable(f"a `{{` or `}}` that is not a path name in `{text}`"))
    try:
        return _PLACEHOLDER_RE.sub(lambda match: _bound(match.group(1), paths), text)
    except _Refused as refused:
        return Refusal(refused.reason)


def _bound(name: str, paths: Mapping[str, str]) -> str:
    if name not in paths:
        raise _Refused(f"unknown placeholder `{{{name}}}`")
    return str(paths[name])


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


def verb_argv(command: ReadCommand) -> list[str]:
    """The argv that runs a judged ``designlog VERB ...``: this Python and the package's command
    line with ``--result-only``, which prints the verb's Result alone, every line of it. ``-P``
    keeps the working directory (the experiment's, which came with the log) off ``sys.path``, so
    a planted ``designlog_magics`` there is never imported."""
    if command.program != "designlog" or command.verb not in read_verbs():
        raise ValueError("verb_argv takes a judged designlog read verb")
    return [sys.executable, "-P", "-m", "designlog_magics", "--result-only", *command.stages[0][1:]]


def run_pipeline(
    command: ReadCommand,
    *,
    timeout: float = 120.0,
    cwd: str | None = None,
    max_output: int = _MAX_OUTPUT,
) -> CommandOutcome:
    """Run a judged command's stages without a shell, stdout of one into the next, through the
    package's one runner (:func:`designlog_magics.probes.commands.run_command`).

    All stages share one new process group, killed on timeout, on output beyond ``max_output``
    bytes, or on ``KeyboardInterrupt`` (re-raised). The exit status is bash's with ``pipefail``:
    the last non-zero one, a signal ``N`` as ``128+N``. A ``designlog`` verb runs as
    :func:`verb_argv`.
    """
    if not isinstance(command, ReadCommand):
        raise ValueError("run_pipeline takes a ReadCommand from judge_command")
    text = command.text
    if command.program == "designlog":
        if len(command.stages) != 1:
            raise ValueError("nothing may be piped from designlog")
        outcome = run_command(
            [verb_argv(command)],
            executables=[sys.executable],
            timeout=timeout,
            cwd=cwd,
            max_output=max_output,
            env=_environment(),
        )
        return replace(outcome, command=text)
    executables: list[str] = []
    for index, argv in enumerate(command.stages):
        allowed = PIPE_PROGRAMS if index else tuple(READ_PROGRAMS)
        if argv[0] not in allowed:
            raise ValueError(f"{argv[0]!r} is not a read program")
        found = _resolve(argv[0])
        if found is None:
            return CommandOutcome(text, 127, "", f"{argv[0]}: command not found\n", 0.0)
        executables.append(found)
    return run_command(
        command.stages,
        executables=executables,
        timeout=timeout,
        cwd=cwd,
        max_output=max_output,
        env=_environment(),
    )


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
