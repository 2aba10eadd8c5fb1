"""The words of a ``Command:`` line, read as a shell would read them, or refused.

Why: a replay runs a logged command without a shell, so it must know exactly what the shell
would have made of the line. :func:`lex` reads it with a small lexer that, unlike ``shlex``,
remembers which characters were quoted; everything a shell would give a meaning beyond "these
words" is refused rather than emulated: ``; & && || < > ( )``, newlines, backticks and ``$``
(even backslash-escaped), comments, assignments, brace expansion and ``~user``. The only
expansions done are the ones a log needs: ``{name}`` placeholders bound in START_DESIGN
(substituted inside a word after lexing, so a bound value is never syntax) and a leading ``~``.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping

from .refusal import Refusal, Refused, printable

_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
ASSIGNMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_GLOB_CHARS = "*?["

# A word is a list of (character, literal) pairs: literal means quoted, escaped or substituted,
# so the shell would never have expanded it.
Word = list[tuple[str, bool]]
PIPE = "|"
# An empty quote leaves no character, but it still stops tilde expansion (``~''``, ``''~``):
# it is kept as this mark until the tilde is decided, then dropped.
_EMPTY_QUOTE = ("", True)
# Escaped, these are literal to a shell; they are refused anyway, so nothing depends on getting
# the escaping right.
_ESCAPED_REASON = {"$": "`$` outside single quotes", "`": "a backtick outside single quotes"}


def lex(line: str) -> list[Word | str]:
    """Words and pipe operators of ``line``; raises ``Refused`` for any other shell syntax."""
    tokens: list[Word | str] = []
    word: Word | None = None
    i, n = 0, len(line)

    def end_word() -> None:
        nonlocal word
        if word is not None:
            tokens.append(word)
            word = None

    while i < n:
        c = line[i]
        if c == "\0":
            raise Refused("a NUL character in the command")
        if c in " \t":
            end_word()
            i += 1
        elif c == "\n":
            raise Refused("a newline joins two commands")
        elif c == "\\":
            if i + 1 == n:
                raise Refused("the command ends in a backslash")
            following = line[i + 1]
            if following in "$`":
                raise Refused(_ESCAPED_REASON[following])
            if following != "\n":  # backslash-newline is a line continuation: dropped
                word = word if word is not None else []
                word.append((following, True))
            i += 2
        elif c == "'":
            close = line.find("'", i + 1)
            if close < 0:
                raise Refused("an unterminated single quote")
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
                    raise Refused("an unterminated double quote")
                d = line[i]
                if d == '"':
                    i += 1
                    break
                if d == "`":
                    raise Refused("a backtick runs a command")
                if d == "$":
                    raise Refused(_dollar_reason(line[i:]))
                if d == "\\" and i + 1 < n and line[i + 1] in '"\\\n$`':
                    if line[i + 1] in "$`":
                        raise Refused(_ESCAPED_REASON[line[i + 1]])
                    if line[i + 1] != "\n":
                        word.append((line[i + 1], True))
                    i += 2
                    continue
                word.append((d, True))
                i += 1
        elif c in "$`":
            raise Refused(_dollar_reason(line[i:]) if c == "$" else "a backtick runs a command")
        elif c == "|":
            if line[i + 1 : i + 2] == "|":
                raise Refused("`||` joins two commands")
            if line[i + 1 : i + 2] == "&":
                raise Refused("`|&` pipes error output")
            end_word()
            tokens.append(PIPE)
            i += 1
        elif c in ";&<>()":
            raise Refused(_operator_reason(line[i : i + 2], word))
        elif c == "#" and word is None:
            raise Refused("`#` starts a comment")
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


def _operator_reason(two: str, word: Word | None) -> str:
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


def word_text(word: Word) -> str:
    """The characters of ``word``, quoted or not."""
    return "".join(ch for ch, _ in word)


def _substitute(word: Word, paths: Mapping[str, str]) -> Word:
    """``{name}`` placeholders replaced by their bound paths (as literal characters)."""
    word = [pair for pair in word if pair != _EMPTY_QUOTE]
    text = word_text(word)
    out: Word = []
    position = 0
    for match in _PLACEHOLDER_RE.finditer(text):
        name = match.group(1)
        if name not in paths:
            raise Refused(f"unknown placeholder `{{{name}}}`")
        out.extend(word[position : match.start()])
        out.extend((ch, True) for ch in str(paths[name]))
        position = match.end()
    out.extend(word[position:])
    return out


def _expands_tilde(word: Word) -> bool:
    """True for a leading unquoted ``~`` or ``~/``: the home directory, as the shell does.

    Decided before placeholders are substituted, so ``~{name}`` is refused, not guessed."""
    if not word or word[0] != ("~", False):
        if ASSIGNMENT_RE.match(word_text(word)) and _assignment_tilde(word):
            raise Refused(f"bash expands the `~` in `{word_text(word)}`; quote it")
        return False
    end = next((k for k, (ch, lit) in enumerate(word) if ch == "/" and not lit), len(word))
    prefix = word[1:end]
    if any(literal for _, literal in prefix):
        return False  # a quoted character in the tilde-prefix: the shell keeps it as written
    if prefix:
        raise Refused(f"`~{word_text(prefix)}` is not expanded here; write the path")
    return True


def expand(word: Word, paths: Mapping[str, str]) -> Word:
    """The word after tilde expansion and placeholder substitution."""
    home = _expands_tilde(word)
    word = _substitute(word, paths)
    if home:
        word = [(ch, True) for ch in os.path.expanduser("~")] + word[1:]
    return word


def _assignment_tilde(word: Word) -> bool:
    # bash expands ~ after the first = and after each unquoted : of an assignment-like word
    equals = next(k for k, (ch, _) in enumerate(word) if ch == "=")
    if any(literal for _, literal in word[: equals + 1]):
        return False
    return any(
        ch == "~" and not lit and (k == equals + 1 or word[k - 1] == (":", False))
        for k, (ch, lit) in enumerate(word)
        if k > equals
    )


def has_glob(word: Word) -> bool:
    """True when ``word`` holds an unquoted ``*``, ``?`` or ``[``."""
    return any(ch in _GLOB_CHARS and not literal for ch, literal in word)


def would_expand(word: Word, cwd: str) -> bool:
    """True when the shell would have replaced this unquoted pattern by matching file names."""
    pattern = "".join(glob.escape(ch) if literal else ch for ch, literal in word)
    try:
        return next(glob.iglob(pattern, root_dir=cwd), None) is not None
    except (OSError, ValueError):
        return False


def substitute_paths(text: str, paths: Mapping[str, str]) -> str | Refusal:
    """``text`` with its ``{name}`` placeholders replaced by their bound paths and nothing else
    expanded (a log's ``Working Directory:``, a created file's path); any other ``{`` or ``}``
    is refused, never evaluated."""
    rest = _PLACEHOLDER_RE.sub("", text)
    if "{" in rest or "}" in rest:
        return Refusal(printable(f"a `{{` or `}}` that is not a path name in `{text}`"))
    try:
        return _PLACEHOLDER_RE.sub(lambda match: _bound(match.group(1), paths), text)
    except Refused as refused:
        return Refusal(refused.reason)


def _bound(name: str, paths: Mapping[str, str]) -> str:
    if name not in paths:
        raise Refused(f"unknown placeholder `{{{name}}}`")
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
