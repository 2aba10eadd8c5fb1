"""Tokens per second per GPU of a prior torchtune run, wherever torchtune wrote it.

The recipes' ``log_dict`` holds ``loss``, ``lr``, ``tokens_per_second_per_gpu`` (then
``peak_memory_*`` and ``grad_norm`` when enabled) every ``log_every_n_steps`` steps. Where
it ends up depends on the metric logger (torchtune ``training/metric_logging.py``):

* ``StdoutLogger`` prints ``f"Step {step} | "`` then ``f"{name}:{data} "`` for each item
  and a newline, into the SLURM output. A value can be a plain float or a tensor's repr
  (``tensor(2345.6789, device='cuda:0')``, the distributed recipes' ``num_tokens`` is one),
  and the line is often glued to the end of a tqdm bar print (``...2.3it/s]Step 12 | ...``).
* ``DiskLogger`` prints ``Writing logs to {path}`` and writes the same ``Step N | k:v``
  lines to ``log_<unix time>.txt`` (default ``log_dir: ${output_dir}/logs``), or, with
  ``output_fmt: jsonl``, one ``json.dump({"step": step, **payload})`` object a line
  (tensors as numbers) to ``log_<unix time>.jsonl``.
* ``WandBLogger`` keeps its history in wandb; the end of the run prints (to stderr, often
  the same SLURM file) ``wandb: Run summary:`` then one ``wandb: <key right-aligned>
  <value>`` line per metric (``wandb/sdk/wandb_run.py`` ``_footer_summary``, floats rounded
  to 5 places). The summary holds the *last* logged value of each metric, not a mean: one
  step's rate, which may be a slow final step.

The rate reported from per-step values is their median after leaving out a warmup (the
first steps include compilation, allocator growth and data loader start-up).

``mode="sampled"`` reads an output over ``SAMPLE_ABOVE`` bytes in parts only: its first
256 KiB (the ``Writing logs to`` line, the first logged steps, so the warmup), ``SAMPLE_WINDOWS``
windows of 16 KiB spread evenly over the rest and its last 64 KiB (wandb's summary). A StdoutLogger
line every step makes a run's output mostly such lines; their median is the same from an
even sample of them. The warmup left out is then the first 10% (at most 20) of the logged
steps as counted from the step numbers seen.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .hits import scan_hits
from .regions import FileRegions

KEY = b"tokens_per_second_per_gpu"
WRITING = b"Writing logs to "
WARMUP_FRACTION = 0.10
WARMUP_MIN, WARMUP_MAX = 1, 20
DISK_LOG_WHOLE = 64 << 20
SAMPLE_ABOVE = 4 << 20  # outputs up to this size are read whole in either mode
SAMPLE_HEAD = 256 << 10
SAMPLE_TAIL = 64 << 10
SAMPLE_WINDOWS = 32
SAMPLE_WINDOW = 16 << 10

_NUMBER = rb"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf)"
# value of the key in a ``Step N | k:v`` line: a float, or a tensor repr around one
_VALUE = re.compile(rb"tokens_per_second_per_gpu:\s*(?:tensor\(\s*)?(" + _NUMBER + rb")")
# the last ``Step N | `` before the key on the same physical line
_STEP = re.compile(rb"Step (\d+) \| ")
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
_STEP_LINE = re.compile(
    rb"Step (\d+) \| (?:[^\r\n]*? )?tokens_per_second_per_gpu:\s*(?:tensor\(\s*)?("
    + _NUMBER
    + rb")"
)
_WANDB = re.compile(rb"^wandb:\s+tokens_per_second_per_gpu\s+(" + _NUMBER + rb")\s*$")


@dataclass(frozen=True)
class TokenRate:
    """What a run's output says about its tokens/s per GPU, and where that came from."""

    tokens_per_s: float | None
    kind: str | None  # "steady-median", "last-step" (wandb summary) or None
    source: str | None  # "stdout", "disk-log <path>", "wandb-summary"
    samples: int = 0  # per-step values the figure is taken from
    excluded_warmup: int = 0
    steps: tuple[tuple[int, float], ...] = ()  # every (step, value) found, for plotting
    error: str | None = None


def default_warmup(n_steps: int) -> int:
    """Steps to leave out: the first 10% of the logged steps, at least 1, at most 20."""
    if n_steps <= 0:
        return 0
    return max(WARMUP_MIN, min(WARMUP_MAX, int(n_steps * WARMUP_FRACTION)))


def read_tokens_per_second(
    path: str | Path,
    *,
    warmup_steps: int | None = None,
    disk_log: str | Path | None = None,
    output_dirs: Sequence[str | Path] = (),
    mode: str = "full",
    regions: FileRegions | None = None,
) -> TokenRate:
    """The steady tokens/s per GPU of the run whose SLURM output is ``path``.

    Looks, in order, at the ``Step N | ...`` lines in the output itself; at a DiskLogger file
    (``disk_log`` if given, else the one named by ``Writing logs to`` in the output, else the
    newest ``log_*.txt`` / ``log_*.jsonl`` in each of ``output_dirs`` and the output's own
    directory, or their ``logs/`` subdirectory); at wandb's run summary. ``warmup_steps``
    overrides ``default_warmup``. ``mode="sampled"`` reads a large output in parts (see the
    module). ``regions``: the output already opened (reads shared with other probes). Bad or
    missing content gives an ``error``, never raises.
    """
    if mode not in ("full", "sampled"):
        raise ValueError(f"mode must be full or sampled, not {mode!r}")
    path = Path(path)
    sampled = False
    try:
        size = regions.size if regions is not None else None
        if mode == "sampled" and (size if size is not None else path.stat().st_size) > (
            SAMPLE_ABOVE
        ):
            if regions is None:
                with FileRegions(path) as opened:
                    stdout_steps, written, wandb_last = _scan_sampled(opened)
            else:
                stdout_steps, written, wandb_last = _scan_sampled(regions)
            sampled = True
        elif regions is not None and regions.size <= SAMPLE_ABOVE:
            stdout_steps, written, wandb_last = _scan_bytes(regions.pread(0, regions.size))
        else:
            stdout_steps, written, wandb_last = _scan_output(path)
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        return TokenRate(None, None, None, error=f"cannot read {path}: {why}")
    if stdout_steps:
        if sampled and warmup_steps is None:
            return _steady_sampled(stdout_steps)
        return _steady(stdout_steps, "stdout", warmup_steps)

    tried: list[str] = []
    for log in _disk_logs(path, disk_log, written, output_dirs):
        try:
            steps = _read_disk_log(log)
        except (OSError, ValueError) as exc:  # ValueError: a path the OS cannot take
            tried.append(f"{log}: {getattr(exc, 'strerror', None) or exc}")
            continue
        if steps:
            return _steady(steps, f"disk-log {log}", warmup_steps)
        tried.append(f"{log}: no {KEY.decode()} values")

    if wandb_last is not None:
        return TokenRate(wandb_last, "last-step", "wandb-summary", samples=1)

    where = f"; disk logs: {'; '.join(tried)}" if tried else ""
    return TokenRate(
        None, None, None, error=f"no {KEY.decode()} in {path} (StdoutLogger, wandb){where}"
    )


def _scan_output(path: Path) -> tuple[list[tuple[int, float]], list[str], float | None]:
    """One pass over the output: StdoutLogger values, ``Writing logs to`` paths, wandb's."""
    steps: list[tuple[int, float]] = []
    written: list[str] = []
    wandb_last: float | None = None
    for hit in scan_hits(path, (KEY, WRITING), back=2048, forward=512):
        if hit.key == WRITING:
            rest = hit.window[hit.before + len(WRITING) :]
            name = re.split(rb"[\r\n]", rest, maxsplit=1)[0].strip()
            if name and b"\x00" not in name:
                written.append(name.decode("utf-8", "replace"))
            continue
        line = _line_around(hit.window, hit.before)
        found = _parse_step_line(line, hit.before - _line_start(hit.window, hit.before))
        if found is not None:
            steps.append(found)
            continue
        m = _WANDB.match(_ANSI.sub(b"", line).strip(b" \t"))
        if m:
            value = _to_float(m.group(1))
            if value is not None:
                wandb_last = value
    return steps, written, wandb_last


def _scan_sampled(
    regions: FileRegions,
) -> tuple[list[tuple[int, float]], list[str], float | None]:
    """``_scan_output`` over the head, evenly spread windows and the tail of a large output."""
    size = regions.size
    spans = [(0, min(size, SAMPLE_HEAD))]
    start, end = SAMPLE_HEAD, max(SAMPLE_HEAD, size - SAMPLE_TAIL)
    if end - start > SAMPLE_WINDOW:
        step = (end - start) / SAMPLE_WINDOWS
        spans += [
            (int(start + step * (i + 0.5)), int(start + step * (i + 0.5)) + SAMPLE_WINDOW)
            for i in range(SAMPLE_WINDOWS)
        ]
    spans.append((max(0, size - SAMPLE_TAIL), size))
    steps: dict[int, float] = {}
    written: list[str] = []
    wandb_last: float | None = None
    for offset, stop in spans:
        data = regions.pread(offset, stop - offset)
        if offset > 0:  # begin at a whole line (a print of tqdm or a logger line)
            cut = min((i for i in (data.find(b"\n"), data.find(b"\r")) if i != -1), default=-1)
            data = data[cut + 1 :] if cut != -1 else b""
        if stop < size:
            cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
            data = data[:cut] if cut != -1 else b""
        found, names, last = _scan_bytes(data)
        for step, value in found:
            steps.setdefault(step, value)
        written += [n for n in names if n not in written]
        if last is not None:
            wandb_last = last
    return sorted(steps.items()), written, wandb_last


def _scan_bytes(data: bytes) -> tuple[list[tuple[int, float]], list[str], float | None]:
    """The same as ``_scan_output`` for bytes in memory (whole lines).

    StdoutLogger lines are taken by one C-level search (a step, then the key later on the
    same line after a space); anything else holding the key is looked at one by one.
    """
    steps: list[tuple[int, float]] = []
    for step, raw in _STEP_LINE.findall(data):
        value = _to_float(raw)
        if value is not None:
            steps.append((int(step), value))
    written: list[str] = []
    wandb_last: float | None = None
    keys = (WRITING,) if len(steps) == data.count(KEY) else (KEY, WRITING)
    if len(keys) == 2:
        steps = []
    for key in keys:
        i = data.find(key)
        while i != -1:
            lo = max(0, i - 2048)
            window = data[lo : i + 512]
            at = i - lo
            if key == WRITING:
                rest = window[at + len(WRITING) :]
                name = re.split(rb"[\r\n]", rest, maxsplit=1)[0].strip()
                if name and b"\x00" not in name:
                    written.append(name.decode("utf-8", "replace"))
            else:
                line = _line_around(window, at)
                found = _parse_step_line(line, at - _line_start(window, at))
                if found is not None:
                    steps.append(found)
                else:
                    m = _WANDB.match(_ANSI.sub(b"", line).strip(b" \t"))
                    value = _to_float(m.group(1)) if m else None
                    if value is not None:
                        wandb_last = value
            i = data.find(key, i + 1)
    return steps, written, wandb_last


def _steady_sampled(steps: list[tuple[int, float]]) -> TokenRate:
    """The median of sampled steps after the warmup, counted in logged steps.

    The logging interval is the commonest gap between consecutive steps seen (the head
    holds a run of them); the number of logged steps follows from the step numbers.
    """
    gaps = [b - a for (a, _), (b, _) in zip(steps, steps[1:], strict=False) if b > a]
    every = statistics.mode(gaps) if gaps else 1
    first, last = steps[0][0], steps[-1][0]
    logged = (last - first) // every + 1
    drop = default_warmup(logged)
    cutoff = first + drop * every
    kept = [v for s, v in steps if s >= cutoff]
    if not kept:
        return _steady(steps, "stdout", drop)
    return TokenRate(
        statistics.median(kept),
        "steady-median",
        "stdout",
        samples=len(kept),
        excluded_warmup=drop,
        steps=tuple(steps),
    )


def _line_start(window: bytes, at: int) -> int:
    return max(window.rfind(b"\n", 0, at), window.rfind(b"\r", 0, at)) + 1


def _line_around(window: bytes, at: int) -> bytes:
    """The stretch of ``window`` around ``at`` up to the nearest ``\\n``/``\\r`` each side."""
    end = len(window)
    for sep in (b"\n", b"\r"):
        j = window.find(sep, at)
        if j >= 0:
            end = min(end, j)
    return window[_line_start(window, at) : end]


def _parse_step_line(line: bytes, at: int) -> tuple[int, float] | None:
    """(step, value) from a ``Step N | ... tokens_per_second_per_gpu:V ...`` stretch."""
    if at > 0 and line[at - 1 : at] not in (b" ", b"|"):
        return None  # another key that ends with this one
    m = _VALUE.match(line, at)
    if not m:
        return None
    step = None
    for s in _STEP.finditer(line, 0, at):
        step = s
    if step is None:
        return None
    value = _to_float(m.group(1))
    if value is None:
        return None
    return int(step.group(1)), value


def _to_float(raw: bytes) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _disk_logs(
    path: Path,
    disk_log: str | Path | None,
    written: list[str],
    output_dirs: Sequence[str | Path],
) -> list[Path]:
    """DiskLogger files to try, most specific first, each once."""
    found: list[Path] = []
    if disk_log is not None:
        found.append(Path(disk_log))
    for name in reversed(written):  # the last run's message first
        p = Path(name)
        found.append(p if p.is_absolute() else path.parent / p)
    for d in [*map(Path, output_dirs), path.parent]:
        found.extend(_newest_log(d))
    seen: set[Path] = set()
    out = []
    for p in found:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _newest_log(directory: Path) -> list[Path]:
    """The newest ``log_*.txt`` / ``log_*.jsonl`` in ``directory`` or its ``logs/``."""
    candidates: list[tuple[float, str, Path]] = []
    for d in (directory, directory / "logs"):
        try:
            entries = list(d.iterdir())
        except OSError:
            continue
        for p in entries:
            if p.name.startswith("log_") and p.suffix in (".txt", ".jsonl"):
                try:
                    if p.is_file():
                        candidates.append((p.stat().st_mtime, p.name, p))
                except OSError:
                    continue
    return [max(candidates)[2]] if candidates else []


def _read_disk_log(log: Path) -> list[tuple[int, float]]:
    """Per-step values from a DiskLogger file, txt or jsonl (OSError propagates).

    A txt log up to ``DISK_LOG_WHOLE`` bytes is read at once and its ``Step N | ...`` lines
    taken by one C-level search; anything else (jsonl, odd lines) one key at a time.
    """
    if log.stat().st_size <= DISK_LOG_WHOLE:
        data = log.read_bytes()
        scanned, _, _ = _scan_bytes(data)
        if scanned and len(scanned) == data.count(KEY):
            return scanned
    steps: list[tuple[int, float]] = []
    for hit in scan_hits(log, (KEY,), back=2048, forward=512):
        line = _line_around(hit.window, hit.before)
        found = _parse_step_line(line, hit.before - _line_start(hit.window, hit.before))
        if found is None:
            found = _parse_json_line(line)
        if found is not None:
            steps.append(found)
    return steps


def _parse_json_line(line: bytes) -> tuple[int, float] | None:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    step, value = obj.get("step"), obj.get(KEY.decode())
    if isinstance(value, list) and len(value) == 1:  # a one-element tensor's tolist()
        value = value[0]
    if isinstance(step, bool) or not isinstance(step, int):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return (step, value) if math.isfinite(value) else None


def _steady(steps: list[tuple[int, float]], source: str, warmup_steps: int | None) -> TokenRate:
    """Median of the per-step values after the warmup."""
    n = len(steps)
    drop = default_warmup(n) if warmup_steps is None else max(0, int(warmup_steps))
    kept = [v for _, v in steps[drop:]]
    if not kept:
        return TokenRate(
            None,
            None,
            source,
            excluded_warmup=min(drop, n),
            steps=tuple(steps),
            error=f"only {n} step(s) logged, all within the {drop}-step warmup",
        )
    return TokenRate(
        statistics.median(kept),
        "steady-median",
        source,
        samples=len(kept),
        excluded_warmup=drop,
        steps=tuple(steps),
    )
