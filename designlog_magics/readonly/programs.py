"""Which words each read program takes as paths, from each program's own option grammar.

Why: a replayed command may read only where the plan lives, so every word a program reads as
a file or directory must be found; which words those are, per program, comes from its GNU
manual page and ``--help`` (coreutils 9, grep 3, findutils 4.9), as :data:`_OPTIONS` and the
readers below encode them:

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

Options that would read past what can be judged are marked, for the judge to refuse:
following every symlink below an operand (``find -L``/``-follow``, ``grep -R``, ``du -L``,
``ls -R`` with ``-L``), and lists of paths kept in a file (``--files0-from``, find's
``-files0-from``); ``designlog speed JOBID`` reads wherever SLURM wrote the job's output.
Options not in a program's table are refused (GNU long options may be abbreviated; an
abbreviation is resolved as getopt resolves it, so ``--exclude-fr=FILE`` is judged as
``--exclude-from``). A designlog argument holding ``{``, ``}`` or ``$`` is refused: the verb
would expand it, and a ``{...}`` is evaluated as Python.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..probes.slurm.jobids import names_one_job
from .refusal import Refused

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
class Reads:
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
        raise Refused(f"`--{name}` is not an option of {program}")
    if len(meanings) > 1:
        raise Refused(f"`--{name}` is ambiguous for {program}")
    return matches[0]


def _getopt(argv: Sequence[str], spec: _Getopt, start: int = 1) -> _Parsed:
    """Options and operands as GNU getopt_long permutes them; raises ``Refused`` for an option
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
                raise Refused(f"`{program} --{full}` takes no value")
            if kind == "=" and not equals:
                i += 1
                if i == len(argv):
                    raise Refused(f"`{program} --{full}` needs a value")
                value = argv[i]
            parsed.options.append(
                (canonical, value if kind and (equals or kind == "=") else None, i)
            )
        elif word.startswith("-") and len(word) > 1:
            for k, letter in enumerate(word[1:], start=1):
                if letter not in letters:
                    raise Refused(f"`-{letter}` is not an option of {program}")
                name = spec.aliases.get(letter, "-" + letter)
                if letter in values:
                    if k + 1 < len(word):
                        parsed.options.append((name, word[k + 1 :], i))
                    else:
                        i += 1
                        if i == len(argv):
                            raise Refused(f"`{program} -{letter}` needs a value")
                        parsed.options.append((name, argv[i], i))
                    break
                parsed.options.append((name, None, i))
        else:
            parsed.operands.append(i)
        i += 1
    return parsed


def program_reads(argv: tuple[str, ...]) -> Reads:
    """The words ``argv`` reads as paths (see the module docstring), its pattern words, and
    whether it reads past them; raises ``Refused`` for an option it does not have."""
    program = argv[0]
    if program == "find":
        return _reads_find(argv)
    obsolete = program == "head" and len(argv) > 1 and re.match(r"-[0-9]", argv[1]) is not None
    parsed = _getopt(argv, _OPTIONS[program], start=2 if obsolete else 1)
    names = {name for name, _, _ in parsed.options}
    operands = [argv[i] for i in parsed.operands]
    patterns = _PATTERN_OPTIONS.get(program, frozenset())
    reads = Reads(patterns={i for name, _, i in parsed.options if name in patterns})
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


def _reads_find(argv: tuple[str, ...]) -> Reads:
    """find's starting points, the files its tests name, and its pattern words; raises
    ``Refused`` for a writing or unknown primary."""
    for word in argv[1:]:
        if word in READ_PROGRAMS["find"]:
            verb = "runs a command" if word in _FIND_RUNS else "writes"
            raise Refused(f"find {word} {verb}")
    reads = Reads()
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
            raise Refused(f"find `{word}` is not a read-only primary")
        if i + count >= len(argv) and count:
            raise Refused(f"find {word} needs a value")
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


def verb_reads(argv: tuple[str, ...]) -> Reads:
    """The path words of ``designlog VERB ...`` (``~`` expanded as the verb expands it), read
    with the verb's own parser: the words mean here what they mean when the verb runs."""
    from ..arguments import ArgumentsError
    from ..steps import verb as table_verb
    from ..steps.table import command_line_parser

    verb = argv[1]
    for word in argv[2:]:
        # the verb expands {name} placeholders (and a notebook's {expression}) in a path
        special = next((ch for ch in "{}$" if ch in word), None)
        if special:
            raise Refused(f"`{special}` in a designlog argument (`{word}`) would be expanded")
    if any(word in ("-h", "--help") for word in argv[2:]):
        raise Refused(f"`designlog {verb} --help` prints help; it checks nothing")
    row = table_verb(verb)
    try:
        arguments = vars(command_line_parser(row).parse_args(list(argv[2:])))
    except ArgumentsError as exc:
        raise Refused(f"`designlog {verb}`: {exc}") from None
    if arguments.get("log"):
        raise Refused("`designlog --log` appends to a log")
    if not row.reads_only and not any(arguments.get(k) for k in row.read_only_with):
        needed = " or ".join(f"--{k.replace('_', '-')}" for k in row.read_only_with)
        raise Refused(f"`designlog {verb}` appends to its log unless given {needed}")
    reads = Reads()
    for dest in row.paths:
        value = arguments.get(dest)
        for given in value if isinstance(value, list | tuple) else [value]:
            if given:
                reads.paths.append(os.path.expanduser(str(given)))
    if verb == "speed" and any(names_one_job(word) for word in reads.paths):
        reads.unjudged = "`designlog speed JOBID` reads the job's output wherever SLURM wrote it"
    return reads
