"""glibc's ``fnmatch(pattern, text, 0)``, as find's ``-name`` and ``-path`` use it.

Without flags ``*`` and ``?`` match ``/`` and a leading dot, ``\\`` escapes, and brackets
take ``!``/``^``, ranges and ``[:class:]``. Names are matched as in a UTF-8 locale, where
glibc retries a failed match byte by byte (so ``??`` matches ``é``) and matches invalid
UTF-8 by bytes only. Ranges follow C.UTF-8, whose collation orders U+0000..U+00FF only.
Clean patterns become one C-level regular expression; the rare ones with character classes,
collating symbols, unterminated brackets or ranges beyond U+00FF are matched by a port of
glibc's (2.35 on) matching loop, quirks included (non-ASCII characters in a ``[:class:]``
follow Python's Unicode tables, where glibc's differ for some: superscript digits, combining
marks, format characters and the like).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable

__all__ = ["Matcher", "glob_matcher"]

Matcher = Callable[[str], object]  # truthy when the text matches


def glob_matcher(pattern: str) -> Matcher:
    """A test equal to glibc ``fnmatch(pattern, text, 0)``, as find's -name and -path use it.

    In a UTF-8 locale glibc matches by characters and, when that fails, again by bytes (so
    ``??`` matches ``é``); invalid UTF-8 is matched by bytes only. Patterns without ``?`` or
    ``[`` give the same answer either way and, when ASCII, become one C-level regular
    expression; the others test both ways, still exactly. What counts is a string's bytes
    (``os.fsencode``), so escaped bytes that form valid UTF-8 are read as the characters.
    """
    if _SURROGATE_RE.search(pattern):
        pattern = _canonical(pattern)
        if _SURROGATE_RE.search(pattern):
            by_bytes = _compile(_raw(pattern), _BYTE_CLASSES)
            return lambda text: by_bytes(_raw(text))
    by_chars = _compile(pattern, _CLASSES)
    if "?" not in pattern and "[" not in pattern and pattern.isascii():
        return by_chars  # ASCII literals, "*" and "\\" match the same by bytes and by chars
    by_bytes = _compile(_raw(pattern), _BYTE_CLASSES)
    ascii_pattern = pattern.isascii()  # else even an ASCII name may match by bytes only

    def test(text: str) -> object:
        if ascii_pattern and text.isascii():
            return by_chars(text)
        if _SURROGATE_RE.search(text):
            text = _canonical(text)
            if _SURROGATE_RE.search(text):
                return by_bytes(_raw(text))
        return by_chars(text) or by_bytes(_raw(text))

    return test


_SURROGATE_RE = re.compile("[\udc80-\udcff]")


def _canonical(text: str) -> str:
    """The name ``os.fsdecode`` gives for the same bytes: escapes only for invalid UTF-8."""
    return os.fsdecode(os.fsencode(text))


def _raw(text: str) -> str:
    """The bytes of a name (as the file system has them), one character per byte."""
    return os.fsencode(text).decode("latin-1")


def _compile(pattern: str, classes: dict[str, Callable[[str], bool]]) -> Matcher:
    """Clean patterns: one regex (fast); quirky ones: the port of glibc's loop."""
    regex = _clean_glob_regex(pattern)
    if regex is not None:
        return re.compile(regex, re.DOTALL).fullmatch
    padded = pattern + "\0\0\0"
    return lambda text: _fnmatch(padded, 0, text, 0, classes)


def _clean_glob_regex(pattern: str) -> str | None:
    """Regex for a pattern with no quirks (no classes, no unterminated bracket), else None."""
    out: list[str] = []
    i, end = 0, len(pattern)
    while i < end:
        char = pattern[i]
        i += 1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\":
            if i == end:
                return None
            out.append(re.escape(pattern[i]))
            i += 1
        elif char == "[":
            parsed = _clean_bracket(pattern, i)
            if parsed is None:
                return None
            regex, i = parsed
            out.append(regex)
        else:
            out.append(re.escape(char))
    return "".join(out)


def _clean_bracket(pattern: str, i: int) -> tuple[str, int] | None:
    """``[...]`` starting after its ``[``: (regex, index after ``]``), or None if quirky."""
    end = len(pattern)
    negate = i < end and pattern[i] in "!^"
    if negate:
        i += 1
    ranges: list[tuple[str, str]] = []
    first = True
    while True:
        if i >= end:
            return None  # unterminated
        char = pattern[i]
        i += 1
        if char == "]" and not first:
            break
        first = False
        if char == "[":
            return None  # classes, equivalence classes and collating symbols: exact path
        if char == "\\":
            if i >= end:
                return None
            char = pattern[i]
            i += 1
        low = high = char
        if i + 1 < end and pattern[i] == "-" and pattern[i + 1] != "]":
            high = pattern[i + 1]
            i += 2
            if high in "[\\" or max(low, high) > _LAST_SEQUENCED:
                return None  # collating symbols, escapes and code points beyond: exact path
        elif i + 1 >= end and i < end and pattern[i] == "-":
            return None  # "[a-" at the very end: an error in glibc
        ranges.append((low, high))
    members = "".join(
        re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}"
        for low, high in ranges
        if low <= high
    )
    if not members:
        return (".", i) if negate else ("(?!)", i)
    return f"[{'^' if negate else ''}{members}]", i


def _ascii_or(ascii_chars: str, fallback: Callable[[str], bool]) -> Callable[[str], bool]:
    chars = frozenset(ascii_chars)
    return lambda c: c in chars if c.isascii() else fallback(c)


_DIGITS = "0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_CLASSES: dict[str, Callable[[str], bool]] = {
    "alnum": _ascii_or(_DIGITS + _LOWER + _UPPER, str.isalnum),
    "alpha": _ascii_or(_LOWER + _UPPER, str.isalpha),
    "blank": _ascii_or(" \t", lambda c: unicodedata.category(c) == "Zs" and c != "\xa0"),
    "cntrl": _ascii_or(
        "".join(map(chr, range(32))) + "\x7f", lambda c: unicodedata.category(c) == "Cc"
    ),
    "digit": _ascii_or(_DIGITS, lambda c: False),
    "graph": _ascii_or(_DIGITS + _LOWER + _UPPER + _PUNCT, lambda c: c.isprintable()),
    "lower": _ascii_or(_LOWER, str.islower),
    "print": _ascii_or(_DIGITS + _LOWER + _UPPER + _PUNCT + " ", str.isprintable),
    "punct": _ascii_or(_PUNCT, lambda c: c.isprintable() and not c.isalnum()),
    "space": _ascii_or(" \t\n\v\f\r", str.isspace),
    "upper": _ascii_or(_UPPER, str.isupper),
    "xdigit": _ascii_or(_DIGITS + "abcdefABCDEF", lambda c: False),
    "combining": _ascii_or("", lambda c: unicodedata.category(c).startswith("M")),
}


# glibc's byte-wise matching in a UTF-8 locale: bytes above 127 belong to no class
def _ascii_only(test: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda c: c.isascii() and test(c)


_BYTE_CLASSES: dict[str, Callable[[str], bool]] = {
    name: _ascii_only(test) for name, test in _CLASSES.items()
}
_Classes = dict[str, Callable[[str], bool]]
_CLASS_NAME_MAX = 256


def _fnmatch(pat: str, p: int, text: str, n: int, classes: _Classes) -> bool:
    """glibc's matching loop on ``pat`` (NUL-padded) from ``p`` against ``text`` from ``n``."""
    end = len(text)
    while True:
        c = pat[p]
        p += 1
        if c == "\0":
            return n == end
        if c == "?":
            if n == end:
                return False
        elif c == "\\":
            c = pat[p]
            p += 1
            if c == "\0" or n == end or text[n] != c:
                return False
        elif c == "*":
            c = pat[p]
            p += 1
            while c in "?*":
                if c == "?":
                    if n == end:
                        return False
                    n += 1
                c = pat[p]
                p += 1
            if c == "\0":
                return True
            rest = p - 1
            if c == "[":
                return any(_fnmatch(pat, rest, text, k, classes) for k in range(n, end))
            if c == "\\":
                c = pat[p]
            return any(
                text[k] == c and _fnmatch(pat, rest, text, k, classes) for k in range(n, end)
            )
        elif c == "[":
            if n == end:
                return False
            after = _bracket(pat, p, text[n], classes)
            if after is None:
                return False
            p = after
        elif n == end or text[n] != c:
            return False
        n += 1


def _bracket(pat: str, p: int, fn: str, classes: _Classes) -> int | None:
    """One ``[...]`` (``p`` just after ``[``) against ``fn``: where the pattern goes on, or None.

    Follows glibc (2.35 on), including its handling of an unterminated bracket and of
    ill-formed contents (no match). An unterminated bracket is a literal ``[`` whether or not
    a member matched before its end was found: glibc rescans it from just after the ``[``.
    """
    after = _bracket_scan(pat, p, fn, classes)
    if after == _UNTERMINATED:
        return p if fn == "[" else None
    return after


_UNTERMINATED = -1  # the pattern ended inside the bracket


def _bracket_scan(pat: str, p: int, fn: str, classes: _Classes) -> int | None:
    """The members of one bracket against ``fn``: position after it, None, or _UNTERMINATED."""
    negate = pat[p] in "!^"
    if negate:
        p += 1
    c = pat[p]
    p += 1
    while True:
        plain = False  # an ordinary member, possibly the start of a range
        if c == "\\":
            if pat[p] == "\0":
                return None
            c = pat[p]
            p += 1
            plain = True
        elif c == "[" and pat[p] == ":":
            start = p
            name: list[str] = []
            while True:
                if len(name) == _CLASS_NAME_MAX:
                    return None
                p += 1
                c = pat[p]
                if c == ":" and pat[p + 1] == "]":
                    p += 2
                    break
                if c < "a" or c >= "z":
                    p, c, plain = start, "[", True
                    break
                name.append(c)
            if not plain:
                test = classes.get("".join(name))
                if test is None:
                    return None
                if test(fn):
                    return _skip_matched(pat, p, negate)
                c = pat[p]
                p += 1
        elif c == "[" and pat[p] == "=":
            start = p
            p += 1
            c = pat[p]
            if c == "\0":
                p, c, plain = start, "[", True
            else:
                member = c
                p += 1
                c = pat[p]
                if c != "=" or pat[p + 1] != "]":
                    p, c, plain = start, "[", True
                else:
                    p += 2
                    if fn == member:
                        return _skip_matched(pat, p, negate)
                    c = pat[p]
                    p += 1
        elif c == "\0":
            return _UNTERMINATED
        else:
            if c == "[" and pat[p] == ".":
                start = p
                length = 0
                while True:
                    p += 1
                    c = pat[p]
                    if c == "." and pat[p + 1] == "]":
                        p += 2
                        break
                    if c == "\0":
                        return None
                    length += 1
                if length != 1:
                    return None
                is_range = pat[p] == "-" and pat[p + 1] != "\0"
                if not is_range and fn == pat[start + 1]:
                    return _skip_matched(pat, p, negate)
                hit, c, p = _range(pat, p + 1, pat[p], pat[start + 1], fn)
                if hit is None:
                    return None
                if hit:
                    return _skip_matched(pat, p, negate)
            else:
                plain = True
        if plain:
            is_range = pat[p] == "-" and pat[p + 1] not in "\0]"
            if not is_range and c == fn:
                return _skip_matched(pat, p, negate)
            hit, c, p = _range(pat, p + 1, pat[p], c, fn)
            if hit is None:
                return None
            if hit:
                return _skip_matched(pat, p, negate)
        if c == "]":
            break
    return p if negate else None


def _range(pat: str, p: int, c: str, low: str, fn: str) -> tuple[bool | None, str, int]:
    """After a member ``low`` (``c``: the next character, ``p``: just after it), a range?

    Returns (hit, c, p): hit True with ``p`` after the range when ``fn`` is in it, None when
    the range is ill-formed, else False with the next character and position to go on with.
    """
    if c != "-" or pat[p] == "]":
        return False, c, p
    high = pat[p]
    p += 1
    if fn > _LAST_SEQUENCED:
        # no collation sequence: glibc gives up on the range before it has read its end (when
        # that end is the pattern's, it reads on past it, into stale memory; taken here as NUL)
        return False, pat[p], p + 1
    if high == "[" and pat[p] == ".":
        start = p
        length = 0
        while True:
            p += 1
            if pat[p] == "." and pat[p + 1] == "]":
                p += 2
                break
            if pat[p] == "\0":
                return None, c, p
            length += 1
        if length != 1:
            return None, c, p
        high = pat[start + 1]
    else:
        if high == "\\":
            high = pat[p]
            p += 1
        if high == "\0":
            return None, c, p
    hit = fn == low if high > _LAST_SEQUENCED else low <= fn <= high
    if hit:
        return True, c, p
    return False, pat[p], p + 1


# The C.UTF-8 collation gives a sequence (code point order) to U+0000..U+00FF only. A range
# cannot match a character beyond; one ending beyond matches its start only.
_LAST_SEQUENCED = "\xff"


def _skip_matched(pat: str, p: int, negate: bool) -> int | None:
    """The rest of a bracket whose member matched: glibc's skipping, with its checks.

    Reaching the end of the pattern here is _UNTERMINATED, as in the scan (glibc before 2.35
    gave no match instead: its bug 28792).
    """
    while True:
        c = pat[p]
        p += 1
        if c == "]":
            return None if negate else p
        if c == "\0":
            return _UNTERMINATED
        if c == "\\":
            if pat[p] == "\0":
                return None
            p += 1
        elif c == "[" and pat[p] == ":":
            start = p
            count = 0
            while True:
                p += 1
                count += 1
                if count == _CLASS_NAME_MAX:
                    return None
                if pat[p] == ":" and pat[p + 1] == "]":
                    p += 2
                    break
                if pat[p] < "a" or pat[p] >= "z":
                    p = start  # not a class name after all: go on from the ":"
                    break
        elif c == "[" and pat[p] == "=":
            if pat[p + 1] == "\0" or pat[p + 2] != "=" or pat[p + 3] != "]":
                return None
            p += 4
        elif c == "[" and pat[p] == ".":
            while True:
                p += 1
                if pat[p] == "\0":
                    return None
                if pat[p] == "." and pat[p + 1] == "]":
                    p += 2
                    break
