"""Facts about files, kept between sessions, keyed by what says a file has not changed.

Why: a table of prior runs reads a few MB of each of hundreds of outputs; the runs that have
ended do not change, so their facts are read once and then looked up. An entry is used only
while the file's path, size and modification time (ns) are the ones it was read at; the
version (the cache's format and the source of the modules that made the facts) must match
too, so changed code never serves old facts.

Where: ``$DESIGNLOG_CACHE_DIR`` if set, else ``platformdirs.user_cache_dir("designlog")``
(``$XDG_CACHE_HOME/designlog``, by default ``~/.cache/designlog``), or a directory given.

How it is stored: one JSON file per kind of fact (``runs.json``), not sqlite. Home
directories on clusters are often on NFS, where sqlite's locking is unreliable, while a
rename is atomic; a JSON file is also readable by a person. A save writes a temporary file
in the same directory and ``os.replace``-s it, after merging in what another process saved
meanwhile, so concurrent writers never leave a torn file (at worst one's new entries are
lost and read again next time). A file that is not valid JSON, or of another version, is
ignored and rewritten. At most ``MAX_ENTRIES`` entries are kept (the least recently used go).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ENV_DIR = "DESIGNLOG_CACHE_DIR"
FORMAT = 1
MAX_ENTRIES = 20_000


def default_cache_dir() -> Path:
    """``$DESIGNLOG_CACHE_DIR``, else the user's cache directory for designlog."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("designlog"))


def source_version(modules: Iterable[Any], extra: str = "") -> str:
    """A short hash of the modules' source files (and ``extra``): changes with the code."""
    digest = hashlib.sha256(f"{FORMAT}:{extra}".encode())
    for module in modules:
        name = str(getattr(module, "__file__", None) or getattr(module, "__name__", module))
        digest.update(str(name).encode())
        try:
            digest.update(Path(name).read_bytes())
        except OSError:
            digest.update(str(getattr(module, "__version__", "")).encode())
    return digest.hexdigest()[:16]


def file_key(st: os.stat_result) -> tuple[int, int]:
    """What must stay the same for an entry to hold: size and modification time in ns."""
    return st.st_size, st.st_mtime_ns


class FactCache:
    """A JSON store of facts (dicts) per file path, valid while the file is unchanged."""

    def __init__(
        self,
        kind: str,
        version: str,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        self.kind = kind
        self.version = version
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()
        self.path = self.directory / f"{kind}.json"
        self.hits = 0
        self.misses = 0
        self.error: str | None = None  # why the stored file was ignored, or a save failed
        self._entries: dict[str, dict[str, Any]] = {}
        self._dirty = False
        self._loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            self._entries = self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            self.error = f"cache {self.path} not readable: {exc}"
            return {}
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            self.error = f"cache {self.path} is not valid JSON: ignored"
            return {}
        if not isinstance(data, dict) or data.get("version") != self.version:
            return {}  # another format or other code: start again
        entries = data.get("entries")
        if not isinstance(entries, dict):
            return {}
        return {k: v for k, v in entries.items() if isinstance(v, dict)}

    @staticmethod
    def _name(path: str | os.PathLike[str]) -> str:
        return os.path.abspath(os.fspath(path))

    def get(self, path: str | os.PathLike[str], st: os.stat_result) -> dict[str, Any] | None:
        """The facts stored for ``path`` if it still has ``st``'s size and mtime; else None."""
        self._load()
        entry = self._entries.get(self._name(path))
        if entry is None or entry.get("key") != list(file_key(st)) or "facts" not in entry:
            self.misses += 1
            return None
        self.hits += 1
        entry["used"] = time.time()
        return entry["facts"]

    def put(self, path: str | os.PathLike[str], st: os.stat_result, facts: dict[str, Any]) -> None:
        """Keep ``facts`` for ``path`` as it was when ``st`` was taken (saved by ``save``)."""
        self._load()
        now = time.time()
        self._entries[self._name(path)] = {"key": list(file_key(st)), "facts": facts, "used": now}
        self._dirty = True

    def forget(self, path: str | os.PathLike[str]) -> None:
        self._load()
        if self._entries.pop(self._name(path), None) is not None:
            self._dirty = True

    def save(self) -> bool:
        """Write the entries (merged with what others saved since) atomically; never raises."""
        if not self._dirty:
            return True
        merged = self._read()
        merged.update(self._entries)
        if len(merged) > MAX_ENTRIES:
            keep = sorted(merged.items(), key=lambda kv: kv[1].get("used", 0), reverse=True)
            merged = dict(keep[:MAX_ENTRIES])
        data = {"version": self.version, "kind": self.kind, "entries": merged}
        tmp = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.kind}.", suffix=".tmp", dir=self.directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
            tmp = None
        except (OSError, TypeError, ValueError) as exc:
            self.error = f"cache {self.path} not saved: {exc}"
            return False
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        self._entries = merged
        self._dirty = False
        return True
