"""What a prior torchtune run was and how it ended, from its SLURM output (``slurm-<id>.out``).

Why: a design step that cites a prior run ("the r8 run timed out in epoch 2") should state
facts read from the run's own output, not from memory. The config is printed at the head
(:mod:`.runconfig` reads it), how it ended at the tail (:mod:`.runend`); this module reads
the two ends of the file, once, and gives both as :class:`RunFacts`.

Only the first 256 KiB (more, up to 4 MiB, if the YAML block is cut there) and the last
64 KiB are read.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass

from .clipping import DETAIL_CHARS
from .modelnames import checkpoint_name, model_key, model_name_from_component, same_model
from .regions import FileRegions
from .runconfig import RunConfig, config_from_mapping, parse_config, read_config
from .runend import STALE_AFTER, STATES, RunOutcome, classify_outcome

__all__ = [
    "DETAIL_CHARS",
    "HEAD_BYTES",
    "HEAD_MAX",
    "STALE_AFTER",
    "STATES",
    "TAIL_BYTES",
    "RunConfig",
    "RunFacts",
    "RunOutcome",
    "checkpoint_name",
    "classify_outcome",
    "config_from_mapping",
    "job_id_from_name",
    "model_key",
    "model_name_from_component",
    "parse_config",
    "read_run_facts",
    "same_model",
]

HEAD_BYTES = 256 << 10  # the config is printed first
HEAD_MAX = 4 << 20  # read this far only when the YAML block is not closed in HEAD_BYTES
TAIL_BYTES = 64 << 10  # how it ended, and the last progress prints


@dataclass(frozen=True)
class RunFacts:
    """What a run was (config) and how it ended (outcome), from its SLURM output file."""

    path: str
    job_id: str | None
    size: int | None
    mtime: float | None
    config: RunConfig | None
    outcome: RunOutcome
    error: str | None = None  # the file could not be read
    config_error: str | None = None  # no config, or a config that could not be parsed


_JOB_FILE = re.compile(r"slurm-(\d+(?:_\d+)?)\.out")
_JOB_FILE_LOOSE = re.compile(r".*[-_.](\d+)\.(?:out|err|log)")


def job_id_from_name(path: str) -> str | None:
    """``slurm-123.out`` -> ``123``; an array task ``slurm-123_4.out`` -> ``123_4``."""
    name = os.path.basename(str(path))
    m = _JOB_FILE.fullmatch(name) or _JOB_FILE_LOOSE.fullmatch(name)
    return m.group(1) if m else None


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _read_range(fd: int, offset: int, length: int) -> bytes:
    chunks = []
    while length > 0:
        chunk = os.pread(fd, min(length, 1 << 20), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        length -= len(chunk)
    return b"".join(chunks)


def read_run_facts(
    path: str | os.PathLike[str],
    *,
    now: float | _dt.datetime | None = None,
    stale_after: float = STALE_AFTER,
    regions: FileRegions | None = None,
) -> RunFacts:
    """Config and outcome of the run that wrote ``path``; never raises for I/O or content.

    ``regions``: the output already opened (its head and tail shared with other probes).
    """
    spath = os.fspath(path)
    job_id = job_id_from_name(spath)
    if regions is not None:
        return _read_facts(
            spath, job_id, regions.size, regions.mtime, regions.pread, now, stale_after
        )
    try:  # O_NONBLOCK: a FIFO given by mistake must not hang the probe
        fd = os.open(spath, os.O_RDONLY | os.O_NONBLOCK)
    except (OSError, ValueError) as exc:
        return _unreadable(spath, job_id, exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return _unreadable(spath, job_id, OSError(0, "not a regular file"))

        def read(offset: int, length: int) -> bytes:
            return _read_range(fd, offset, length)

        return _read_facts(spath, job_id, st.st_size, st.st_mtime, read, now, stale_after)
    except OSError as exc:
        return _unreadable(spath, job_id, exc)
    finally:
        os.close(fd)


def _read_facts(
    spath: str,
    job_id: str | None,
    size: int,
    mtime: float,
    read: Callable[[int, int], bytes],
    now: float | _dt.datetime | None,
    stale_after: float,
) -> RunFacts:
    """The facts from the head and tail of a file of ``size`` bytes, read by ``read``."""
    try:
        head_bytes = read(0, min(size, HEAD_BYTES))
        head = _decode(head_bytes)
        whole_head = len(head_bytes) >= size
        config_read = read_config(head, whole_head)
        if not config_read.closed:
            more = read(0, min(size, HEAD_MAX))
            config_read = read_config(_decode(more), whole=True)
        if size <= len(head_bytes):
            tail, whole = head, True
        else:
            start = max(0, size - TAIL_BYTES)
            tail = _decode(read(start, size - start))
            whole = start == 0
            if not whole:
                cut = min((i for i in (tail.find("\n"), tail.find("\r")) if i != -1), default=-1)
                tail = tail[cut + 1 :] if cut != -1 else ""
    except OSError as exc:
        return _unreadable(spath, job_id, exc)
    config = config_read.config
    outcome = classify_outcome(
        tail,
        epochs_planned=config.epochs if config else None,
        whole=whole,
        mtime=mtime,
        now=now,
        stale_after=stale_after,
    )
    return RunFacts(spath, job_id, size, mtime, config, outcome, None, config_read.error)


def _unreadable(path: str, job_id: str | None, exc: Exception) -> RunFacts:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    error = f"cannot read {path}: {reason}"
    outcome = RunOutcome("unknown", error, None, None, None)
    return RunFacts(path, job_id, None, None, None, outcome, error, None)
