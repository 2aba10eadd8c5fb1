"""Prior runs' SLURM outputs, found exactly as ``find`` finds them.

``search_runs(ROOT)`` returns the paths that

    find ROOT -name 'slurm-*.out' -path '*/ck-out-*' -size +100k

prints, without starting ``find``: the log records that command, so the result must be what
it would have printed. What "exactly" covers (each point checked against GNU find 4.9):

- Paths are printed like find prints them: ROOT as written, then ``/`` and the relative part
  (no ``/`` is added after a ROOT that already ends in one, so ``root//`` gives ``root//x``).
  ROOT itself is tested too, and a ROOT that is a file is simply tested on its own.
- ``-name`` tests the base name, ``-path`` the whole printed path, both with glibc's
  ``fnmatch`` without flags: ``*`` and ``?`` match ``/`` and a leading dot, ``\\`` escapes,
  brackets take ``!``/``^``, ranges and ``[:class:]``. Names are matched as find matches
  them in a UTF-8 locale (``LC_ALL=C.UTF-8``), where glibc retries a failed match byte by
  byte (so ``??`` matches ``é``) and matches invalid UTF-8 by bytes only; under ``LC_ALL=C``
  find matches bytes only, which differs for non-ASCII names with ``?`` or brackets. The
  rare patterns with character classes, collating symbols or unterminated brackets are
  matched by a port of glibc's algorithm, quirks included; non-ASCII characters in a
  ``[:class:]`` follow Python's Unicode tables (glibc's can differ for a few letters).
- ``-size`` takes find's syntax: ``[+|-]N[bcwkMG]``, the file size rounded *up* to whole
  units compared with N, a plain number counting 512-byte blocks. ``+100k`` therefore means
  more than 102,400 bytes, ``100k`` exactly 100 units (101,377 to 102,400 bytes) and ``+0``
  any non-empty file. An ``int`` means "more than that many bytes" (``+Nc``).
- Symbolic links are never followed (find's default ``-P``): a link is judged by its own
  ``lstat`` size and a link to a directory is not descended into; a ROOT given as a link is
  not descended into either, unless written with a trailing slash (as with find).
- A directory that cannot be read is reported in ``RunSearch.skipped`` with the reason
  (find prints ``Permission denied`` and goes on); so is anything that vanishes mid-walk.
- Any depth: the walk keeps its own stack, and directories whose path is longer than the
  kernel accepts are opened step by step, as find does.

The walk lists each directory once with ``os.scandir`` and relies on the entry types it
returns, so only entries whose name matches are ever ``lstat``-ed; the per-entry work is
done by C-level iterators, which is why it keeps up with ``find`` itself.

Matches are returned sorted (Python string order, i.e. code-point order: byte order for
UTF-8 names). With ``limit=N`` the walk visits directories in that same order and stops
after N matches, so the result is always the first N of the full sorted list
(``find ... | sort | head -N``), never an accident of directory order.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, itemgetter, methodcaller

from ..commandline import quote_path
from .globmatch import Matcher, glob_matcher

__all__ = [
    "DEFAULT_MIN_SIZE",
    "DEFAULT_NAME",
    "DEFAULT_PATH",
    "RunMatch",
    "RunSearch",
    "SizeTest",
    "describe_runs",
    "find_command",
    "glob_matcher",
    "parse_find_size",
    "run_name",
    "search_runs",
]

DEFAULT_NAME = "slurm-*.out"
DEFAULT_PATH = "*/ck-out-*"
DEFAULT_MIN_SIZE = "+100k"
RUN_PREFIX = "ck-out-"
SUMMARY_NAMES = 10  # run names listed in a summary before "and N more"
PROGRESS_INTERVAL_S = 0.25


# -- -size ------------------------------------------------------------------------------------
_SIZE_RE = re.compile(r"([+-]?)([0-9]+)([bcwkMG]?)")
_SIZE_UNITS = {"": 512, "b": 512, "c": 1, "w": 2, "k": 1024, "M": 1024**2, "G": 1024**3}


@dataclass(frozen=True)
class SizeTest:
    """find's ``-size``: the size in units, rounded up, compared with a count."""

    text: str  # as find is given it, e.g. "+100k"
    comparison: str  # "+" more than, "-" less than, "" exactly
    count: int
    unit_bytes: int

    def matches(self, size: int) -> bool:
        units = -(-size // self.unit_bytes)
        if self.comparison == "+":
            return units > self.count
        if self.comparison == "-":
            return units < self.count
        return units == self.count

    def describe(self) -> str:
        """In bytes, for people: ``more than 102,400 bytes``."""
        low = (self.count - 1) * self.unit_bytes + 1
        high = self.count * self.unit_bytes
        if self.comparison == "+":
            return f"more than {high:,} bytes"
        if self.comparison == "-":
            return f"at most {max(low - 1, 0):,} bytes"
        if self.count == 0:
            return "empty"
        return f"{low:,} to {high:,} bytes"


def parse_find_size(size: str | int) -> SizeTest:
    """``-size`` argument as find reads it; ``ValueError`` (with find's wording) otherwise.

    Accepted: ``[+|-]N[b|c|w|k|M|G]`` (no unit: 512-byte blocks), or an ``int`` meaning more
    than that many bytes. find's stranger forms (``+ 100k``, ``++1k``) are refused.
    """
    if isinstance(size, bool):
        raise ValueError(f"invalid argument {size!r} to -size")
    if isinstance(size, int):
        if size < 0:
            raise ValueError(f"invalid argument {size!r} to -size (must not be negative)")
        return SizeTest(f"+{size}c", "+", size, 1)
    match = _SIZE_RE.fullmatch(size)
    if not match:
        raise ValueError(
            f"invalid argument {size!r} to -size (use find's form, e.g. +100k, 1M, +0, 2048c)"
        )
    sign, count, unit = match.groups()
    return SizeTest(size, sign, int(count), _SIZE_UNITS[unit])


# -- facts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunMatch:
    """One SLURM output found: its path as find prints it, its own size, its run."""

    path: str
    size: int | None  # lstat size in bytes (None only if it vanished and no -size was asked)
    run: str  # nearest ck-out-* directory, e.g. "ck-out-happy-narwhal"


@dataclass(frozen=True)
class RunSearch:
    """What a search found, what it could not read, and how much it looked at."""

    root: str
    name: str | None
    path: str | None
    min_size: str | None  # the -size argument as find gets it ("+100k"), None: no size test
    limit: int | None
    matches: tuple[RunMatch, ...]  # sorted by path
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason), like find's error lines
    scanned: int = 0  # entries looked at, ROOT included
    stopped_at_limit: bool = False  # the walk ended early because ``limit`` matches were found
    elapsed_s: float = field(default=0.0, compare=False)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(match.path for match in self.matches)

    def run_names(self) -> list[str]:
        """One name per run directory, in path order (two outputs of one run: one name)."""
        return _run_names(match.path for match in self.matches)

    def summary(self) -> str:
        """``Found 3 similar runs: ck-out-a, ck-out-b, ck-out-c`` (the log's Result line)."""
        text = _summary(self.run_names())
        if self.stopped_at_limit and self.limit is not None:
            plural = "es" if self.limit != 1 else ""
            text += f" (stopped at the limit of {self.limit} match{plural})"
        return text

    def command(self, root_as_written: str | None = None) -> str:
        """The equivalent find command line, for the log."""
        root = self.root if root_as_written is None else root_as_written
        return find_command(root, self.name, self.path, self.min_size, self.limit)


def run_name(path: str) -> str:
    """The run a SLURM output belongs to: its nearest ``ck-out-*`` directory.

    Outside any such directory: the parent directory's name (or the path itself).
    """
    return _run_of(path)[1]


def _run_of(path: str) -> tuple[str, str]:
    parts = path.split("/")
    for index in range(len(parts) - 2, -1, -1):
        if parts[index].startswith(RUN_PREFIX):
            return "/".join(parts[: index + 1]), parts[index]
    dirs = [part for part in parts[:-1] if part]
    if dirs and dirs[-1] not in (".", ".."):
        return path.rsplit("/", 1)[0], dirs[-1]
    return path, path


def _run_names(paths: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for path in paths:
        directory, name = _run_of(path)
        seen.setdefault(directory, name)
    return list(seen.values())


def _summary(names: list[str]) -> str:
    if not names:
        return "No similar runs found"
    count = len(names)
    listed = ", ".join(names[:SUMMARY_NAMES])
    more = count - SUMMARY_NAMES
    tail = f" and {more} more" if more > 0 else ""
    return f"Found {count} similar run{'s' if count != 1 else ''}: {listed}{tail}"


def describe_runs(paths: Iterable[str]) -> str:
    """The summary for paths printed by a command (the cell form runs its own find).

    Sorted by path as the search sorts them: find's order is the directory's, not a fact.
    """
    cleaned = sorted(p.strip() for p in paths if p and p.strip())
    return _summary(_run_names(cleaned))


# -- the command for the log ------------------------------------------------------------------
_DOUBLE_QUOTE_UNSAFE = frozenset('"$`\\!')


def find_command(
    root_as_written: str,
    name: str | None = DEFAULT_NAME,
    path: str | None = DEFAULT_PATH,
    min_size: str | int | None = DEFAULT_MIN_SIZE,
    limit: int | None = None,
) -> str:
    """``find {scratch_dir} -name "slurm-*.out" -path "*/ck-out-*" -size +100k | head -5``.

    ``{name}`` placeholders stay as written; other parts of the root are shell-quoted when
    needed. A root find would read as an option (``-x``) is written ``./-x``.
    """
    parts = ["find", quote_path(root_as_written)]
    if name is not None:
        parts += ["-name", _shell_pattern(name)]
    if path is not None:
        parts += ["-path", _shell_pattern(path)]
    if min_size is not None:
        parts += ["-size", parse_find_size(min_size).text]
    command = " ".join(parts)
    if limit is not None:
        command += f" | head -{limit}"
    return command


def _shell_pattern(pattern: str) -> str:
    if pattern and not (_DOUBLE_QUOTE_UNSAFE & set(pattern)):
        return f'"{pattern}"'
    return shlex.quote(pattern)


# -- the walk ---------------------------------------------------------------------------------
_NAME = attrgetter("name")
_IS_DIR = methodcaller("is_dir", follow_symlinks=False)
_DEEP_CHUNK = 3000  # bytes of path opened at once when a path is too long for the kernel


class _Walk:
    """One search's state; a class so the per-directory step can reach it cheaply."""

    def __init__(
        self,
        name: Matcher | None,
        path: Matcher | None,
        size: SizeTest | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.name = name
        self.path = path
        self.size = size
        self.progress = progress
        self.matches: list[RunMatch] = []
        self.skipped: list[tuple[str, str]] = []
        self.scanned = 0
        self._last_report = time.monotonic()

    def test(self, path: str, lstat: Callable[[], os.stat_result]) -> RunMatch | None:
        """The -path and -size tests for an entry whose name matched."""
        if self.path is not None and not self.path(path):
            return None
        try:
            size: int | None = lstat().st_size
        except OSError as exc:
            if self.size is not None:
                self.skipped.append((path, _reason(exc)))
                return None
            size = None
        if self.size is not None and not self.size.matches(size or 0):
            return None
        return RunMatch(path, size, run_name(path))

    def list_dir(self, dirpath: str) -> tuple[list[str], list[RunMatch]] | None:
        """Subdirectories (paths) and matches of one directory; None if it cannot be read."""
        prefix = dirpath if dirpath.endswith("/") else dirpath + "/"
        fd = None
        try:
            try:
                with os.scandir(dirpath) as listing:
                    entries = list(listing)
            except OSError as exc:
                if exc.errno != errno.ENAMETOOLONG:
                    raise
                fd = _open_deep(dirpath)
                with os.scandir(fd) as listing:
                    entries = list(listing)
            self.scanned += len(entries)
            subdirs = list(map(prefix.__add__, map(_NAME, filter(_IS_DIR, entries))))
            if self.name is None:
                candidates: Iterable[os.DirEntry[str]] = entries
            else:
                candidates = compress(entries, map(self.name, map(_NAME, entries)))
            found = []
            for entry in candidates:
                match = self.test(prefix + entry.name, _lstat_of(entry))
                if match is not None:
                    found.append(match)
        except OSError as exc:
            self.skipped.append((dirpath, _reason(exc)))
            return None
        finally:
            if fd is not None:
                os.close(fd)
        if self.progress is not None:
            now = time.monotonic()
            if now - self._last_report >= PROGRESS_INTERVAL_S:
                self._last_report = now
                self.progress(self.scanned)
        return subdirs, found

    def walk(self, root: str) -> None:
        """Every directory under ``root``, in no particular order (results are sorted after)."""
        stack = [root]
        pop, push = stack.pop, stack.extend
        add = self.matches.extend
        while stack:
            listed = self.list_dir(pop())
            if listed is not None:
                push(listed[0])
                add(listed[1])

    def walk_sorted(self, root: str, limit: int) -> bool:
        """Matches in sorted path order, stopping after ``limit``; True if it stopped early.

        Siblings are visited by name, a directory keyed as ``name/`` so that its contents sort
        where their paths do; hence the n-th match found is the n-th of the sorted list.
        """
        stack: list[tuple[bool, str | RunMatch]] = [(True, root)]
        while stack:
            is_dir, item = stack.pop()
            if not is_dir:
                assert isinstance(item, RunMatch)
                self.matches.append(item)
                if len(self.matches) >= limit:
                    return bool(stack)
                continue
            assert isinstance(item, str)
            listed = self.list_dir(item)
            if listed is None:
                continue
            subdirs, found = listed
            start = len(item) if item.endswith("/") else len(item) + 1
            keyed: list[tuple[str, bool, str | RunMatch]] = [
                (sub[start:] + "/", True, sub) for sub in subdirs
            ]
            keyed += [(match.path[start:], False, match) for match in found]
            keyed.sort(key=itemgetter(0), reverse=True)
            stack.extend((is_sub, entry) for _, is_sub, entry in keyed)
        return False


def _lstat_of(entry: os.DirEntry[str]) -> Callable[[], os.stat_result]:
    return lambda: entry.stat(follow_symlinks=False)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _open_deep(path: str) -> int:
    """A descriptor for a directory whose path is longer than PATH_MAX, opened in steps."""
    parts = [part for part in path.split("/") if part]
    fd = os.open("/" if path.startswith("/") else ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        chunk: list[str] = []
        size = 0
        for index, part in enumerate(parts):
            chunk.append(part)
            size += len(os.fsencode(part)) + 1
            if size >= _DEEP_CHUNK or index == len(parts) - 1:
                new = os.open("/".join(chunk), os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = new
                chunk, size = [], 0
    except BaseException:
        os.close(fd)
        raise
    return fd


def _root_name(root: str) -> str:
    """The name find's -name sees for a starting point: its base name, trailing ``/`` ignored."""
    stripped = root.rstrip("/")
    if not stripped:
        return "/"
    return stripped.rsplit("/", 1)[-1]


def search_runs(
    root: str | os.PathLike[str],
    *,
    name: str | None = DEFAULT_NAME,
    path: str | None = DEFAULT_PATH,
    min_size: str | int | None = DEFAULT_MIN_SIZE,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunSearch:
    """What ``find ROOT -name NAME -path PATH -size MIN_SIZE`` prints, sorted.

    ``None`` leaves a test out. ``limit`` keeps the first N of the sorted matches and stops
    walking once it has them. ``progress(entries_scanned)`` is called a few times a second
    on long walks and once at the end. Raises ``FileNotFoundError`` if ROOT does not exist
    and ``ValueError`` for a bad size or limit.
    """
    started = time.perf_counter()
    root_text = os.fsdecode(os.fspath(root))
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit must be 1 or more, not {limit!r}")
    size_test = parse_find_size(min_size) if min_size is not None else None
    walk = _Walk(
        glob_matcher(name) if name is not None else None,
        glob_matcher(path) if path is not None else None,
        size_test,
        progress,
    )
    try:
        root_stat = os.lstat(root_text)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(
            errno.ENOENT, "search root does not exist (no such file or directory)", root_text
        ) from None
    except OSError as exc:
        walk.skipped.append((root_text, _reason(exc)))
        root_stat = None
    stopped = False
    if root_stat is not None:
        walk.scanned = 1
        if walk.name is None or walk.name(_root_name(root_text)):
            match = walk.test(root_text, lambda: root_stat)
            if match is not None:
                walk.matches.append(match)
        if stat.S_ISDIR(root_stat.st_mode):
            if limit is None:
                walk.walk(root_text)
            elif len(walk.matches) >= limit:
                stopped = True  # ROOT itself was the one match asked for
            else:
                stopped = walk.walk_sorted(root_text, limit)
    matches = sorted(walk.matches, key=attrgetter("path"))
    if progress is not None:
        progress(walk.scanned)
    return RunSearch(
        root=root_text,
        name=name,
        path=path,
        min_size=size_test.text if size_test is not None else None,
        limit=limit,
        matches=tuple(matches),
        skipped=tuple(walk.skipped),
        scanned=walk.scanned,
        stopped_at_limit=stopped,
        elapsed_s=time.perf_counter() - started,
    )
