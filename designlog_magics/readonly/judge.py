"""The judgement of a ``Command:`` line: the argv of each stage it may run, or why not.

Why: a log is untrusted text, so a replay never hands a ``Command:`` line to a shell, nor
reads what the plan does not name. What passes: one of the programs in
:data:`.programs.READ_PROGRAMS` (plain names, looked up on the absolute entries of ``PATH``),
optionally followed by ONE ``| head`` or ``| tail`` stage taking only ``-n N`` or ``-N``; or
``designlog`` with one of :func:`read_verbs` (the verb table's). Unquoted globs are refused
except where the program itself takes a pattern (find's ``-name`` value, grep's pattern,
``du --exclude``, ``ls --hide``), and every path word must lie inside the roots
(:func:`.confine.confine`). Following a symlink named on the command line (``find -H``,
``grep -r``, ``ls -H``, ``stat -L``, ``du -D``) is what ``realpath`` judges (``ls -L DIR``
shows the size and type of what its links point to, not their contents). The check is made
just before the run; a tree changed in between by someone else is not something a read can
guard against.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .confine import OUTSIDE, confine
from .programs import PIPE_PROGRAMS, READ_PROGRAMS, Reads, program_reads, verb_reads
from .refusal import Refusal, Refused
from .shellwords import (
    ASSIGNMENT_RE,
    PIPE,
    Word,
    expand,
    has_glob,
    lex,
    word_text,
    would_expand,
)

_HINTS = {
    "egrep": "`egrep` is not a read command (use `grep -E`)",
    "fgrep": "`fgrep` is not a read command (use `grep -F`)",
}
_COUNT_RE = re.compile(r"[0-9]+\Z")
_DESIGNLOG_LOG_RE = re.compile(r"--l(?:og?)?(?:=|\Z)")  # argparse accepts --l, --lo, --log


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


def read_verbs() -> frozenset[str]:
    """The package's own read verbs (the verb table's rows that only read)."""
    from ..steps import read_verbs as table_read_verbs

    return table_read_verbs()


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


def _confine_reads(reads: Reads, roots: Iterable[str], cwd: str) -> None:
    if reads.follows:
        raise Refused(f"{OUTSIDE}: {reads.follows}")
    if reads.unjudged:
        raise Refused(f"{reads.unjudged}, which cannot be judged")
    refusal = confine([*reads.paths, *(["."] if reads.cwd else [])], roots, cwd=cwd)
    if refusal is not None:
        raise Refused(refusal.reason)


def _check_pipe_stage(argv: tuple[str, ...]) -> None:
    name = argv[0]
    if name not in PIPE_PROGRAMS:
        reason = _program_reason(name)
        if reason and "/" in name:
            raise Refused(reason)
        raise Refused(f"`| {name}` is not allowed; only `| head` or `| tail` may follow")
    options = argv[1:]
    ok = (
        not options
        or (len(options) == 2 and options[0] == "-n" and _COUNT_RE.match(options[1]))
        or (len(options) == 1 and _count_flag(options[0]))
    )
    if not ok:
        raise Refused(f"`| {shlex.join(argv)}`: only `-n N` or `-N` is allowed after `{name}`")


def _count_flag(option: str) -> bool:
    """``-nN`` or ``-N``."""
    if not option.startswith("-"):
        return False
    digits = option[2:] if option.startswith("-n") else option[1:]
    return bool(_COUNT_RE.match(digits))


def _judge(
    line: str, paths: Mapping[str, str], cwd: str, roots: Iterable[str] | None
) -> ReadCommand:
    stages_words: list[list[Word]] = [[]]
    for token in lex(line):
        if token is PIPE:
            stages_words.append([])
        else:
            stages_words[-1].append(token)  # type: ignore[arg-type]
    if any(not stage for stage in stages_words):
        raise Refused("an empty command" if len(stages_words) == 1 else "an empty pipeline stage")
    if len(stages_words) > 2:
        raise Refused("more than one pipe")
    stages_words = [[expand(word, paths) for word in stage] for stage in stages_words]
    for stage in stages_words:
        first = stage[0]
        match = ASSIGNMENT_RE.match(word_text(first))
        if match and not any(literal for _, literal in first[: match.end()]):
            raise Refused(f"`{word_text(first)}` sets a variable before the program")
    stages = tuple(tuple(word_text(w) for w in stage) for stage in stages_words)
    program = stages[0][0]
    reason = _program_reason(program)
    if reason:
        raise Refused(reason)
    if len(stages) == 2:
        if program == "designlog":
            raise Refused("`designlog` runs alone; nothing may be piped from it")
        _check_pipe_stage(stages[1])
    verb: str | None = None
    if program == "designlog":
        verb = stages[0][1] if len(stages[0]) > 1 else None
        if verb not in read_verbs():
            if verb is None:
                raise Refused("`designlog` without a verb")
            raise Refused(f"`designlog {verb}` is not a read verb")
        if any(_DESIGNLOG_LOG_RE.match(word) for word in stages[0][2:]):
            raise Refused("`designlog --log` appends to a log")
        reads = verb_reads(stages[0])
    else:
        reads = program_reads(stages[0])
    for stage_index, stage in enumerate(stages_words):
        for index, word in enumerate(stage[1:], start=1):
            brace = next((ch for ch, literal in word if ch in "{}" and not literal), None)
            if brace:
                raise Refused(f"unquoted `{brace}` (brace expansion) in `{word_text(word)}`")
            if not has_glob(word):
                continue
            if stage_index or index not in reads.patterns:
                raise Refused(f"unexpanded glob `{word_text(word)}` in an argument")
            if would_expand(word, cwd):
                shown = word_text(word)
                raise Refused(f"the shell would expand `{shown}` here (files match); quote it")
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
    except Refused as refused:
        return Refusal(refused.reason)
