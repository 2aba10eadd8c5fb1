"""Throughput of a finished ``inspect eval``, from the summary it prints at the end.

What inspect-ai prints when a task ends (``src/inspect_ai/_display/``):

* the rich and plain displays (``core/results.py`` ``task_stats``, ``core/panel.py``): a
  title ``f"{task} ({samples:,}{' x ' + epochs if epochs > 1} samples): {model}"`` (inside
  a box, or between ``-----`` delimiters), the config line (``..., dataset: NAME``), then a
  two-column grid: ``total time:`` and ``f"  {elapsed}"`` (a ``timedelta``, ``H:MM:SS.ffffff``
  or ``N days, H:MM:SS``), and one row per model: the model, then
  ``f"  {total:,} tokens [I: {input:,}, O: {output:,}]"``, where ``I:`` becomes
  ``I: {input:,}, CW: {cache write:,}, CR: {cache read:,}`` when the provider reports cache
  use and ``, R: {reasoning:,}`` follows ``O:`` for reasoning models. Rows for roles
  (``"grader (role)"``) repeat the same tokens by role and are not added in again. The grid
  pads its columns to the console width and wraps long rows, with colours when forced.
  An interrupted task ends with ``Task interrupted ({done:,} of {samples:,} total samples
  logged before interruption)``.
* the log display (``log/display.py``): ``f"{title} succeeded"`` (or ``cancelled ({done}/
  {samples} logged)``), the config, ``total time: {elapsed}``, then
  ``f"{model}:  {total:,} tokens [I: ...]"`` per model, in one log message.

Several tasks in one output are added up (inspect runs tasks one at a time unless
``--max-tasks`` is raised; with parallel tasks the summed time is too long).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .hits import scan_hits
from .regions import FileRegions

KEY = b"total time:"
TAIL = 64 << 10

_ANSI = re.compile(
    rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC (hyperlinks)
    rb"|\x1b\[[0-9;:?]*[ -/]*[@-~]"  # CSI (colours, cursor)
    rb"|\x1b[@-Z\\-_]"
)
_N = r"\d[\d,]*"
_ELAPSED = re.compile(r"total time:\s*(?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)")
_USAGE = re.compile(
    rf"^(?P<model>\S.*?):?\s+(?P<total>{_N}) tokens \[I: (?P<i>{_N})"
    rf"(?:, CW: (?P<cw>{_N}), CR: (?P<cr>{_N}))?, O: (?P<o>{_N})(?:, R: (?P<r>{_N}))?\]"
)
_TITLE = re.compile(
    rf"(?:^|[\s│┃─])(?P<task>[^\s()│┃─╭╮]+) \((?P<n>{_N})(?: x (?P<ep>\d+))? samples?\)"
)
_INTERRUPTED = re.compile(
    rf"Task interrupted \((?:(?P<done>{_N}) of {_N} total samples logged|no samples)"
)
_CANCELLED = re.compile(rf"cancelled \((?P<done>{_N})/{_N} logged\)")
_BOX = " \t│┃║"

Usage = tuple[str, int | None, int | None, int | None, int | None, int | None, int | None]


@dataclass(frozen=True)
class EvalRun:
    """What an eval's end-of-run summary says about its size and speed."""

    total_seconds: float | None
    samples: int | None  # samples run (dataset samples x epochs, or those done if interrupted)
    models: tuple[Usage, ...] = ()  # (model, total, input, output, cache_write, cache_read,
    #                                  reasoning); the last three None when not printed
    total_tokens: int | None = None
    tokens_per_s: float | None = None
    samples_per_s: float | None = None
    task: str | None = None
    epochs: int = 1
    tasks: int = 0  # summaries found
    interrupted: bool = False
    error: str | None = None

    def summary(self) -> str:
        """One line for a log entry or a notebook."""
        if self.error and self.total_seconds is None:
            return f"Eval: {self.error}"
        parts = []
        if self.samples is not None:
            rate = f" ({self.samples_per_s:,.2f} samples/s)" if self.samples_per_s else ""
            parts.append(f"{self.samples:,} samples{rate}")
        if self.total_tokens is not None:
            rate = f" ({self.tokens_per_s:,.0f} tokens/s)" if self.tokens_per_s else ""
            parts.append(f"{self.total_tokens:,} tokens{rate}")
        took = f"Eval took {_clock(self.total_seconds)} ({self.total_seconds:,.0f} s)"
        text = f"{took}: {', '.join(parts)}" if parts else took
        if self.interrupted:
            text += " (interrupted)"
        return text


def _clock(seconds: float | None) -> str:
    s = round(seconds or 0)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def strip_ansi(data: bytes) -> bytes:
    """Terminal escapes out: colours, cursor moves, hyperlinks."""
    return _ANSI.sub(b"", data)


def looks_like_eval(path: str | Path, *, regions: FileRegions | None = None) -> bool:
    """Whether the end of ``path`` holds an inspect eval summary (reads 64 KiB at most;
    from ``regions``, the output already opened, when given)."""
    try:
        if regions is not None:
            raw = regions.pread(regions.size - TAIL, TAIL)
        else:
            with open(path, "rb") as fh:
                fh.seek(0, 2)
                size = fh.tell()
                fh.seek(max(0, size - TAIL))
                raw = fh.read(TAIL)
    except (OSError, ValueError):
        return False
    tail = strip_ansi(raw).decode("utf-8", "replace")
    if "total time:" not in tail:
        return False
    return bool(
        re.search(rf"{_N} tokens \[I: {_N}", tail)
        or _TITLE.search(tail)
        or re.search(r"Log: \S+\.(?:eval|json)\b", tail)
    )


def read_eval_run(path: str | Path) -> EvalRun:
    """Time, samples and tokens of the eval whose captured output is ``path``, with rates.

    Never raises on bad content: what is missing is ``None`` and ``error`` says why.
    """
    footers = []
    try:
        for hit in scan_hits(path, (KEY,), back=16 << 10, forward=16 << 10):
            before = strip_ansi(hit.window[: hit.before]).decode("utf-8", "replace")
            after = strip_ansi(hit.window[hit.before :]).decode("utf-8", "replace")
            footer = _footer(before, after)
            if footer is not None:
                footers.append(footer)
    except (OSError, ValueError) as exc:  # ValueError: a path the OS cannot take
        why = getattr(exc, "strerror", None) or exc
        return EvalRun(None, None, error=f"cannot read {path}: {why}")
    if not footers:
        return EvalRun(None, None, error=f"no inspect eval summary (total time:) in {path}")

    seconds = sum(f["seconds"] for f in footers)
    models: dict[str, list] = {}
    for f in footers:
        for u in f["models"]:
            if u[0] not in models:
                models[u[0]] = list(u)
            else:
                m = models[u[0]]
                for k in range(1, 7):
                    m[k] = None if m[k] is None and u[k] is None else (m[k] or 0) + (u[k] or 0)
    usage = tuple(tuple(m) for m in models.values())
    counts = [f["samples"] for f in footers]
    samples = None if None in counts else sum(counts)
    total = sum(u[1] for u in usage) if usage else None
    names = [f["task"] for f in footers if f["task"]]
    epochs = {f["epochs"] for f in footers}
    missing = []
    if samples is None:
        missing.append("sample count")
    if total is None:
        missing.append("token usage")
    return EvalRun(
        total_seconds=seconds,
        samples=samples,
        models=usage,
        total_tokens=total,
        tokens_per_s=total / seconds if total is not None and seconds > 0 else None,
        samples_per_s=samples / seconds if samples is not None and seconds > 0 else None,
        task=", ".join(dict.fromkeys(names)) or None,
        epochs=epochs.pop() if len(epochs) == 1 else 1,
        tasks=len(footers),
        interrupted=any(f["interrupted"] for f in footers),
        error=f"no {' or '.join(missing)} printed" if missing else None,
    )


def _footer(before: str, after: str) -> dict | None:
    """One task's summary around its ``total time:``: title above, usage rows below."""
    lines = after.replace("\r\n", "\n").split("\n")
    m = _ELAPSED.search(lines[0])
    if not m:
        return None
    days, h, mi, s = m.groups()
    seconds = int(days or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)

    usage: list[Usage] = []
    i = 1
    while i < len(lines):
        row = lines[i].strip(_BOX)
        i += 1
        if " tokens [" in row and "]" not in row:
            for _ in range(4):  # a row wrapped at the console width
                if i >= len(lines):
                    break
                row += " " + lines[i].strip(_BOX)
                i += 1
                if "]" in row:
                    break
        u = _USAGE.match(row)
        if not u:
            break
        if u["model"].endswith(" (role)"):
            continue
        usage.append(
            (
                u["model"].strip(),
                _int(u["total"]),
                _int(u["i"]),
                _int(u["o"]),
                _int(u["cw"]),
                _int(u["cr"]),
                _int(u["r"]),
            )
        )

    rest = "\n".join(lines[i - 1 :])
    nxt = rest.find("total time:")
    rest = rest if nxt < 0 else rest[:nxt]
    titles = list(_TITLE.finditer(before))
    title = titles[-1] if titles else None
    samples: int | None = None
    epochs: int | None = None
    if title:
        epochs = int(title["ep"] or 1)
        count = _int(title["n"])
        samples = count * epochs if count is not None else None
    interrupted = False
    stop = _INTERRUPTED.search(rest) or (
        _CANCELLED.search(before[title.end() :]) if title else None
    )
    if stop:
        interrupted = True
        samples = _int(stop["done"]) or 0
    return {
        "seconds": seconds,
        "models": usage,
        "samples": samples,
        "epochs": epochs or 1,
        "task": title["task"] if title else None,
        "interrupted": interrupted,
    }


def _int(text: str | None) -> int | None:
    return None if text is None else int(text.replace(",", ""))
