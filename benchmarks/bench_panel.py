"""The live panel: what appending one entry costs with 4 entries before it, and with 4,999.

A panel is built (widgets, no browser) on a log that already holds 4 or 4,999 entries; then one
entry is appended through ``DesignLog.append`` and shown with ``panel.refresh()``, which is
what a magic does. The widgets talk to a stand-in for the kernel's comm that serialises every
message to JSON, as the kernel would before sending it, so the cost of what is sent (the
block's list of children, the header) is counted. The median over ``repeats`` fresh panels is
compared: the 5,000th entry should cost about what the 5th does (target ratio ≤ 1.5).

The logs are written on a RAM-backed filesystem (``/dev/shm``) when there is one: the append's
``fsync`` is the store's cost (measured by ``bench_core``), and on a shared disk its variance
would drown the panel's. Elsewhere they go under ``workdir``.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_core import sample_entry  # noqa: E402  (benchmarks/ is on sys.path)

from designlog_magics import DesignLog

TARGET_RATIO = 1.5


@contextmanager
def _serialising_comm():
    """Widgets get a comm that JSON-encodes each message (and counts the bytes)."""
    import comm as comm_module
    from comm import DummyComm

    counter = {"messages": 0, "bytes": 0}

    class SerialisingComm(DummyComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            encoded = json.dumps({"msg_type": msg_type, "data": data, "metadata": metadata})
            counter["messages"] += 1
            counter["bytes"] += len(encoded)

    original = comm_module.create_comm
    comm_module.create_comm = lambda *args, **kwargs: SerialisingComm(*args, **kwargs)
    try:
        yield counter
    finally:
        comm_module.create_comm = original


def _one_append(workdir: Path, existing: int, counter: dict) -> tuple[float, float, int, int]:
    """Seconds for append + refresh, seconds for refresh alone, messages, bytes sent."""
    from designlog_magics.panel import open_panel

    log_dir = workdir / f"log_{existing}"
    shutil.rmtree(log_dir, ignore_errors=True)
    log = DesignLog(log_dir)
    log.append_many(sample_entry(n) for n in range(existing))
    panel = open_panel(log, follow=False, display=False)
    assert len(panel.entries_shown()) == existing
    entry = sample_entry(existing)
    gc.collect()
    gc.disable()
    try:
        counter["messages"] = counter["bytes"] = 0
        began = time.perf_counter()
        log.append(entry)
        appended = time.perf_counter()
        panel.refresh()
        ended = time.perf_counter()
    finally:
        gc.enable()
    assert len(panel.entries_shown()) == existing + 1
    sent = (counter["messages"], counter["bytes"])
    panel.close()
    return ended - began, ended - appended, *sent


def _scratch(workdir: Path) -> tuple[Path, str]:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="bench_panel_", dir=shm)), "logs in /dev/shm"
    workdir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="bench_panel_", dir=workdir)), f"logs in {workdir}"


def run(workdir: Path, repeats: int = 5) -> list[dict]:
    # One append is a fraction of a millisecond: take enough samples for a stable median.
    repeats = max(15, repeats)
    scratch, where = _scratch(workdir)
    try:
        with _serialising_comm() as counter:
            _one_append(scratch, 4, counter)  # warm-up: imports, first widgets
            _one_append(scratch, 4_999, counter)
            small, large = [], []
            for _ in range(repeats):  # interleaved: drift in the machine hits both alike
                small.append(_one_append(scratch, 4, counter))
                large.append(_one_append(scratch, 4_999, counter))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    t5 = statistics.median(sample[0] for sample in small)
    t5000 = statistics.median(sample[0] for sample in large)
    r5 = statistics.median(sample[1] for sample in small)
    r5000 = statistics.median(sample[1] for sample in large)
    ratio = t5000 / t5
    return [
        {
            "case": "panel",
            "data": "entry 5,000 vs entry 5",
            "ours_s": t5000,
            "theirs_s": t5,
            "theirs": "entry 5",
            "ratio": ratio,
            "peak_rss_mb": None,
            "target": f"ratio ≤ {TARGET_RATIO}",
            "passed": ratio <= TARGET_RATIO,
            "notes": (
                f"append + refresh, median of {repeats}: {t5000 * 1000:.3f} ms vs "
                f"{t5 * 1000:.3f} ms (refresh alone {r5000 * 1000:.3f} ms vs "
                f"{r5 * 1000:.3f} ms; {where}); sent to the front end: "
                f"{large[0][2]} messages, {large[0][3]:,} bytes vs {small[0][2]} messages, "
                f"{small[0][3]:,} bytes"
            ),
        }
    ]


if __name__ == "__main__":
    for row in run(Path(__file__).resolve().parent / "data" / "bench_panel"):
        print(row)
