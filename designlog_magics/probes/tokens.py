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

KEY = b"tokens_per_second_per_gpu"
WRITING = b"Writing logs to "
WARMUP_FRACTION = 0.10
WARMUP_MIN, WARMUP_MAX = 1, 20

_NUMBER = rb"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf)"
# value of the key in a ``Step N | k:v`` line: a float, or a tensor repr around one
_VALUE = re.compile(rb"tokens_per_second_per_gpu:\s*(?:tensor\(\s*)?(" + _NUMBER + rb")")
# the last ``Step N | `` before the key on the same physical line
_STEP = re.compile(rb"Step (\d+) \| ")
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
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
) -> TokenRate:
    """The steady tokens/s per GPU of the run whose SLURM output is ``path``.

    Looks, in order, at the ``Step N | ...`` lines in the output itself; at a DiskLogger file
    (``disk_log`` if given, else the one named by ``Writing logs to`` in the output, else the
    newest ``log_*.txt`` / ``log_*.jsonl`` in each of ``output_dirs`` and the output's own
    directory, or their ``logs/`` subdirectory); at wandb's run summary. ``warmup_steps``
    overrides ``default_warmup``. Bad or missing content gives an ``error``, never raises.
    """
    path = Path(path)
    try:
        stdout_steps, written, wandb_last = _scan_output(path)
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        return TokenRate(None, None, None, error=f"cannot read {path}: {why}")
    if stdout_steps:
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
    """Per-step values from a DiskLogger file, txt or jsonl (OSError propagates)."""
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
