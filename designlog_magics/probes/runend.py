"""How a torchtune run ended and how far it got, read from its output's tail.

Why: a design step that cites a prior run ("the r8 run timed out in epoch 2") should state
how it ended from the run's own output, not from memory.

What the tail holds: SLURM's ``slurmstepd: error: *** JOB 123 ON node CANCELLED AT <time> DUE
TO TIME LIMIT ***`` (src/slurmd/slurmstepd/req.c), a CUDA OOM (``torch.OutOfMemoryError: CUDA
out of memory``) or SLURM's cgroup OOM (``Detected 1 oom_kill event in StepId=...``), a
Python traceback or torchrun's ``ChildFailedError``, or torchtune's end of training:
``Saving final epoch checkpoint.`` and ``Model checkpoint of size X GiB saved to
<output_dir>/epoch_<N>/...`` (training/checkpointing/_checkpointer.py), ``Checkpoint saved in
X seconds.`` (the recipes), the last epoch's bar at 100%. Progress: each optimizer step sets
the bar description ``f"{curr_epoch + 1}|{global_step}|Loss: {loss}"``
(recipes/lora_finetune_single_device.py), so the last prints carry the epoch and the global
step; the bar's total is the epoch's step count. Prints may be joined by ``\\r`` (tqdm into a
file) or one per line.

Which end wins, when the tail shows several: a CUDA/cgroup OOM after the last training step
(a distributed run that OOMs on one rank may then hang until its time limit: the OOM is why
it ended), then SLURM's cancel line (time limit -> ``timeout``; preemption, requeue, a
signal or a plain ``CANCELLED AT ... ***`` -> ``cancelled``; node or task failure ->
``failed``), then a traceback after the last step and after any completion sign
(``failed``), then completion. With none of these, a file written within ``stale_after``
seconds of ``now`` is ``running``; an older one is ``unknown`` (it stopped without saying why).
"""

from __future__ import annotations

import bisect
import datetime as _dt
import re
import time
from dataclasses import dataclass

from .clipping import one_line

STALE_AFTER = 30 * 60.0  # seconds without a write after which a run is not "running"
STATES = ("completed", "timeout", "cancelled", "oom", "failed", "running", "unknown")


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, and how far it got."""

    state: str  # one of STATES
    detail: str | None  # the line that showed it
    epochs_done: int | None
    steps_done: int | None  # the last global step seen
    epochs_planned: int | None
    steps_per_epoch: int | None = None  # the last bar's total

    def describe(self) -> str:
        """``timeout: 1 of 3 epochs done, step 8``."""
        if self.epochs_done is None:
            done = "epochs done unknown"
        elif self.epochs_planned is not None:
            done = f"{self.epochs_done} of {self.epochs_planned} epochs done"
        else:
            done = f"{self.epochs_done} epochs done"
        step = f", step {self.steps_done}" if self.steps_done is not None else ""
        return f"{self.state}: {done}{step}"


# SLURM, src/slurmd/slurmstepd/req.c: error("*** %s ON %s CANCELLED AT %s DUE TO TIME LIMIT ***")
# and its siblings (PREEMPTION, NODE FAILURE..., JOB REQUEUE, "DUE to SIGNAL %s", TASK FAILURE);
# older releases printed a plain "*** JOB %u ON %s CANCELLED AT %s ***" for scancel.
_SLURM_CANCEL = re.compile(
    r"(?:slurmstepd: error: )?\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT \S+"
    r"(?: DUE (?:TO|to) ([^*\r\n]*?))? \*\*\*"
)
_SLURM_FAILED = re.compile(r"\*\*\* (?:JOB|STEP) \S+ ON \S+ FAILED \(non-zero exit code")
_OOM = re.compile(
    r"(?:OutOfMemoryError: |CUDA out of memory|Detected \d+ oom[-_]kill event|"
    r"oom-kill|Exceeded (?:job|step) memory limit|task \d+: Out Of Memory)"
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):")
_CHILD_FAILED = re.compile(r"ChildFailedError")
_RANK_PREFIX = re.compile(r"^\[(?:rank|default)\d+\]:\s?")
# The line that closes a traceback: an exception's (dotted) name, then ": message" or nothing.
_EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(?::\s|:$|$)")
MAX_TRACEBACKS = 20  # the last ones are enough to name the error
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# tqdm's status line, "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [...", with
# torchtune's description "{epoch}|{global_step}|Loss: {loss}".
# Bounded repeats: a hostile file cannot make a search quadratic in a long line.
_TT_BAR = re.compile(
    r"(\d{1,9})\|(\d{1,12})\|Loss: [^\r\n]{0,200}?: *\d{1,3}%\|[^|\r\n]{0,400}\|"
    r" *(\d{1,12})/(\d{1,12}) \["
)
_ANY_BAR = re.compile(r"\d{1,3}%\|[^|\r\n]{0,400}\| *(\d{1,12}/(?:\d{1,12}|\?)) \[")
# torchtune: log.info("Starting checkpoint save...") / "Checkpoint saved in {:.2f} seconds."
_SAVE_START = re.compile(r"Starting checkpoint save\.\.\.")
# torchtune checkpointers: "Model checkpoint of size {:.2f} GiB saved to {output_path}",
# the same for "Adapter", and (HF at HEAD) f"Model checkpoint saved to {ckpt_output_dir}".
_WEIGHTS_SAVED = re.compile(r"(?:Model|Adapter) checkpoint (?:of size [\d.]+ GiB )?saved to (\S+)")
_EPOCH_DIR = re.compile(r"(?:^|[/\\])epoch_(\d+)(?:[/\\]|$)")
_FINAL_SAVE = re.compile(r"Saving final epoch checkpoint\.")


def _line_at(text: str, pos: int) -> str:
    """The print (between ``\\r``/``\\n``) around ``pos``, cleaned for showing."""
    start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    glued = None  # a tqdm print that the line was written after, without a newline
    for glued in _ANY_BAR.finditer(text, start, pos):  # noqa: B007 - the last one is wanted
        pass
    if glued is not None:
        close = text.find("]", glued.end(), pos)
        start = close + 1 if close != -1 else start
    ends = [e for e in (text.find("\n", pos), text.find("\r", pos)) if e != -1]
    end = min(ends) if ends else len(text)
    return one_line(_RANK_PREFIX.sub("", _ANSI.sub("", text[start:end])))


def _exception_line(text: str, header_pos: int) -> str | None:
    """The exception line closing the traceback that starts at ``header_pos``."""
    offset = text.find("\n", header_pos)
    if offset == -1:
        return None
    for line in text[offset + 1 : offset + 1 + (64 << 10)].split("\n")[:400]:
        clean = _RANK_PREFIX.sub("", line.rstrip("\r"))
        if clean and not clean[0].isspace() and _EXCEPTION.match(clean):
            return one_line(clean)
    return None


def _failure_detail(text: str, headers: list[int]) -> str | None:
    """The most telling exception line: a child's error rather than torchrun's wrapper."""
    lines = [found for h in headers[-MAX_TRACEBACKS:] if (found := _exception_line(text, h))]
    plain = [line for line in lines if not _CHILD_FAILED.search(line)]
    if plain:
        return plain[-1]
    return lines[-1] if lines else None


@dataclass
class _Progress:
    steps_done: int | None = None
    epochs_done: int | None = None
    steps_per_epoch: int | None = None
    end: int = 0  # where training last moved on: the first print of the last step
    last_bar: int | None = None  # the last tqdm print


def _progress(text: str) -> _Progress:
    got = _Progress()
    max_epoch = None
    complete: set[int] = set()
    for m in _TT_BAR.finditer(text):
        epoch, step, n, total = (int(g) for g in m.groups())
        if got.steps_done is None or step > got.steps_done:
            got.steps_done, got.end = step, m.start()
        if max_epoch is None or epoch >= max_epoch:
            max_epoch = epoch
            got.steps_per_epoch = total
        if total and n >= total:
            complete.add(epoch)
    # Without torchtune descriptions: training last moved on where the bar first showed its
    # final count (a bar re-printed as the process exits does not move it on).
    state = None
    for m in _ANY_BAR.finditer(text):
        got.last_bar = m.start()
        if m.group(1) != state:
            state = m.group(1)
            if got.steps_done is None:
                got.end = m.start()
    if got.steps_per_epoch is None and state is not None and state.split("/")[1].isdigit():
        got.steps_per_epoch = int(state.split("/")[1])
    if max_epoch is not None:
        got.epochs_done = max_epoch if max_epoch in complete else max_epoch - 1
    return got


def _epoch_end_saves(text: str) -> list[tuple[int, int]]:
    """(epoch number, position) of weights saved between ``Starting checkpoint save...``
    and the next bar: saves at an epoch's end, not intermediate step saves."""
    found = []
    starts = [m.end() for m in _SAVE_START.finditer(text)]
    bars = [m.start() for m in _ANY_BAR.finditer(text)]
    for m in _WEIGHTS_SAVED.finditer(text):
        epoch = _EPOCH_DIR.search(m.group(1))
        i = bisect.bisect_right(starts, m.start())
        if epoch is None or i == 0:
            continue
        begun = starts[i - 1]
        if bisect.bisect_left(bars, begun) < bisect.bisect_left(bars, m.start()):
            continue  # a bar moved on after "Starting checkpoint save..."
        found.append((int(epoch.group(1)), m.start()))
    return found


def _to_timestamp(now: float | _dt.datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, _dt.datetime):
        return now.timestamp()
    return float(now)


def classify_outcome(
    tail: str,
    *,
    epochs_planned: int | None = None,
    whole: bool = True,
    mtime: float | None = None,
    now: float | _dt.datetime | None = None,
    stale_after: float = STALE_AFTER,
) -> RunOutcome:
    """How the run whose output ends with ``tail`` ended (see the module's rules).

    ``whole``: ``tail`` is the entire output, so "no step seen" means none was made.
    """
    prog = _progress(tail)
    epochs_done = prog.epochs_done
    saves = _epoch_end_saves(tail)
    if saves:
        by_saves = max(e for e, _ in saves) + 1
        epochs_done = by_saves if epochs_done is None else max(epochs_done, by_saves)
    steps_done = prog.steps_done
    if whole:
        steps_done = 0 if steps_done is None else steps_done
        epochs_done = 0 if epochs_done is None else epochs_done

    # Completion signs, and where the last one is.
    done_at: int | None = None
    done_line: str | None = None
    for m in _FINAL_SAVE.finditer(tail):
        done_at, done_line = m.start(), _line_at(tail, m.start())
    if epochs_planned is not None:
        for epoch, pos in saves:
            if epoch + 1 >= epochs_planned and (done_at is None or pos > done_at):
                done_at, done_line = pos, _line_at(tail, pos)
    last_epoch_finished = (
        epochs_planned is not None and epochs_done is not None and epochs_done >= epochs_planned
    )

    def outcome(state: str, detail: str | None) -> RunOutcome:
        done = epochs_done
        if state == "completed" and epochs_planned is not None and done is None:
            done = epochs_planned
        return RunOutcome(state, detail, done, steps_done, epochs_planned, prog.steps_per_epoch)

    after = max(prog.end, done_at if done_at is not None else -1)
    ooms = [m for m in _OOM.finditer(tail) if m.start() >= after]
    if ooms:
        return outcome("oom", _line_at(tail, ooms[0].start()))

    tracebacks = [m.start() for m in _TRACEBACK.finditer(tail) if m.start() >= after]
    cancels = list(_SLURM_CANCEL.finditer(tail))
    if cancels:
        m = cancels[-1]
        reason = (m.group(1) or "").strip().upper()
        line = one_line(m.group(0))
        if reason == "TIME LIMIT":
            return outcome("timeout", line)
        if reason.startswith(("NODE FAILURE", "TASK FAILURE")):
            return outcome("failed", _failure_detail(tail, tracebacks) or line)
        return outcome("cancelled", line)
    slurm_failed = list(_SLURM_FAILED.finditer(tail))
    child = [m for m in _CHILD_FAILED.finditer(tail) if m.start() >= after]
    if tracebacks or child or (slurm_failed and slurm_failed[-1].start() >= after):
        detail = _failure_detail(tail, tracebacks)
        if detail is None:  # a traceback cut off before its exception line, or only SLURM's
            shown = [*(m.start() for m in child), *(m.start() for m in slurm_failed), *tracebacks]
            detail = _line_at(tail, max(shown))
        return outcome("failed", detail)

    if done_at is not None:
        return outcome("completed", done_line)
    recent = mtime is not None and _to_timestamp(now) - mtime <= stale_after
    if last_epoch_finished and not recent:
        return outcome("completed", _line_at(tail, prog.end))
    if recent:
        detail = _line_at(tail, prog.last_bar) if prog.last_bar is not None else None
        return outcome("running", detail)
    return outcome("unknown", "no end of run in the output")
