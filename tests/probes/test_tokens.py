"""tokens/s per GPU from torchtune's metric loggers, on hand-written fixtures (see the README)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from designlog_magics.probes.hits import scan_hits
from designlog_magics.probes.tokens import TokenRate, default_warmup, read_tokens_per_second

DATA = Path(__file__).resolve().parents[1] / "data" / "tokens"


def close_to(measured: float | None, truth: float, tolerance: float = 0.03) -> bool:
    return measured is not None and abs(measured / truth - 1) <= tolerance


def test_stdout_plain_floats() -> None:
    r = read_tokens_per_second(DATA / "stdout-plain" / "slurm-1001.out")
    assert close_to(r.tokens_per_s, 2400.6)
    assert (r.kind, r.source, r.samples, r.excluded_warmup) == ("steady-median", "stdout", 11, 1)
    assert r.steps[0] == (1, 812.3) and r.steps[-1] == (12, 2396.2)
    assert r.error is None


def test_stdout_tensor_values() -> None:
    r = read_tokens_per_second(DATA / "stdout-tensor" / "slurm-1002.out")
    assert close_to(r.tokens_per_s, 3113.8328)
    assert (r.samples, r.excluded_warmup) == (18, 2)
    assert dict(r.steps)[12] == 3124.2  # tensor(3.1242e+03, ...)
    assert [s for s, _ in r.steps] == list(range(1, 21))


def test_glued_to_tqdm_bar() -> None:
    r = read_tokens_per_second(DATA / "tqdm-glued" / "slurm-1003.out")
    assert close_to(r.tokens_per_s, 1815.3)
    assert r.source == "stdout" and r.samples == 7
    assert [s for s, _ in r.steps] == list(range(1, 9))


def test_disk_log_named_by_writing_logs_to() -> None:
    out = DATA / "disk-written" / "slurm-1004.out"
    r = read_tokens_per_second(out)
    log = out.parent / "output" / "logs" / "log_1718000000.txt"
    assert close_to(r.tokens_per_s, 2950.15)
    assert r.source == f"disk-log {log}"
    assert (r.samples, r.excluded_warmup) == (26, 2)
    assert r.steps[0] == (5, 1203.4) and r.steps[-1][0] == 140


def test_disk_log_jsonl_found_under_output_dir() -> None:
    out = DATA / "disk-outdir" / "slurm-1005.out"
    moved = DATA / "disk-outdir-output"
    r = read_tokens_per_second(out, output_dirs=[moved])
    assert close_to(r.tokens_per_s, 2209.6)
    assert r.source == f"disk-log {moved / 'logs' / 'log_1718100000.jsonl'}"
    assert r.samples == 9
    # without the output dir: the printed path is gone, and nothing else says a rate
    missing = read_tokens_per_second(out)
    assert missing.tokens_per_s is None
    assert "/gone/scratch/run-7/logs/log_1718100000.jsonl" in (missing.error or "")


def test_disk_log_in_the_outputs_own_directory(tmp_path: Path) -> None:
    src = DATA / "disk-written" / "output" / "logs" / "log_1718000000.txt"
    (tmp_path / "logs").mkdir()
    older = tmp_path / "logs" / "log_1700000000.txt"
    older.write_text("Step 1 | loss:3.0 tokens_per_second_per_gpu:10.0 \n" * 5)
    shutil.copy(src, tmp_path / "logs" / src.name)
    older_mtime = src.stat().st_mtime - 1000
    os.utime(older, (older_mtime, older_mtime))
    out = tmp_path / "slurm-9.out"
    out.write_text("INFO:torchtune.utils._logging:Dataset and Sampler are initialized.\n")
    r = read_tokens_per_second(out)
    assert close_to(r.tokens_per_s, 2950.15)  # the newest log, not the older run's
    assert r.source == f"disk-log {tmp_path / 'logs' / src.name}"
    # an explicit disk log wins over the search
    r = read_tokens_per_second(out, disk_log=older)
    assert r.tokens_per_s == 10.0


def test_wandb_summary_only_is_the_last_step() -> None:
    r = read_tokens_per_second(DATA / "wandb-summary" / "slurm-1006.out")
    assert close_to(r.tokens_per_s, 2876.54321)
    assert (r.kind, r.source, r.samples, r.steps) == ("last-step", "wandb-summary", 1, ())


def test_stdout_lines_win_over_disk_and_wandb(tmp_path: Path) -> None:
    text = (DATA / "wandb-summary" / "slurm-1006.out").read_text()
    text += (DATA / "stdout-plain" / "slurm-1001.out").read_text()
    out = tmp_path / "slurm-1.out"
    out.write_text(text)
    r = read_tokens_per_second(out)
    assert r.source == "stdout" and close_to(r.tokens_per_s, 2400.6)


def test_default_warmup_rule() -> None:
    assert [default_warmup(n) for n in (0, 1, 5, 19, 20, 55, 199, 200, 5000)] == [
        0,
        1,
        1,
        1,
        2,
        5,
        19,
        20,
        20,
    ]


def test_explicit_warmup_and_all_warmup(tmp_path: Path) -> None:
    out = DATA / "stdout-plain" / "slurm-1001.out"
    r = read_tokens_per_second(out, warmup_steps=0)
    assert r.samples == 12 and r.excluded_warmup == 0
    assert r.tokens_per_s == (2399.9 + 2400.6) / 2  # the slow first step now counts
    one = tmp_path / "slurm-2.out"
    one.write_text("Step 1 | loss:2.0 lr:3e-05 tokens_per_second_per_gpu:900.0 \n")
    r = read_tokens_per_second(one)
    assert r.tokens_per_s is None and r.steps == ((1, 900.0),)
    assert "warmup" in (r.error or "")


def test_other_keys_and_non_numbers_are_not_taken(tmp_path: Path) -> None:
    out = tmp_path / "slurm-3.out"
    out.write_text(
        "Step 1 | tokens_per_second_per_gpu_ppo:5.0 tokens_per_second_per_gpu_trajectory:6.0 \n"
        "Step 2 | loss:nan tokens_per_second_per_gpu:nan \n"
        "tokens_per_second_per_gpu:7.0 (no Step prefix)\n"
        "wandb: tokens_per_second_per_gpu ▁▂▃\n"
    )
    r = read_tokens_per_second(out)
    assert r.tokens_per_s is None and r.steps == () and r.error


def test_missing_file() -> None:
    for path in (DATA / "no-such" / "slurm-0.out", "bad\x00name"):
        r = read_tokens_per_second(path)
        assert isinstance(r, TokenRate) and r.tokens_per_s is None and "cannot read" in r.error


def test_large_output_streams_across_chunks(tmp_path: Path) -> None:
    """0.9 MB of bar prints glued before each log line, 9 MB in all: several 4 MiB reads."""
    bar = "\r1|5|Loss: 2.0:  50%|█████     | 5/10 [00:05<00:05,  1.00it/s]"
    out = tmp_path / "slurm-4.out"
    with out.open("w") as fh:
        for step in range(1, 11):
            fh.write(bar * (9_000_000 // len(bar) // 10 + step))
            fh.write(f"Step {step} | loss:2.0 lr:3e-05 tokens_per_second_per_gpu:{1000 + step} \n")
    r = read_tokens_per_second(out)
    assert [s for s, _ in r.steps] == list(range(1, 11))
    assert r.tokens_per_s == 1006.0  # median of 1002..1010


def test_scan_hits_same_with_any_chunk_size() -> None:
    path = DATA / "stdout-tensor" / "slurm-1002.out"
    whole = path.read_bytes()
    truth = [i for i in range(len(whole)) if whole.startswith(b"tokens_per_second_per_gpu", i)]
    for chunk in (1, 7, 300, 5000, 1 << 20):
        hits = list(
            scan_hits(path, (b"tokens_per_second_per_gpu",), back=64, forward=40, chunk=chunk)
        )
        assert [h.offset for h in hits] == truth
        for h in hits:
            assert h.window == whole[max(0, h.offset - 64) : h.offset + 25 + 40]


FRAGMENTS = [
    b"Step 3 | ",
    b"tokens_per_second_per_gpu:",
    b"tensor(",
    b"12.5",
    b"1e999",
    b"\r",
    b"\n",
    b"Writing logs to ",
    b"/\x00",
    b"log_1.txt",
    b"wandb: tokens_per_second_per_gpu ",
    b'{"step": 1, "tokens_per_second_per_gpu": [1.0]}',
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=64), st.sampled_from(FRAGMENTS)), max_size=40))
def test_random_bytes_never_raise(parts: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "slurm-5.out"
        out.write_bytes(b"".join(parts))
        (Path(d) / "log_2.jsonl").write_bytes(b"".join(reversed(parts)))
        r = read_tokens_per_second(out, output_dirs=[Path(d)])
        assert isinstance(r, TokenRate)
        assert r.tokens_per_s is not None or r.error


def _big_stdout_output(path: Path, steps: int, *, wandb: bool = False) -> None:
    """StdoutLogger's ``Step N | k:v `` lines (``training/metric_logging.py``) glued after a
    tqdm print, every step; 20 warmup steps at 1000 tokens/s, then 2990 and 3010 in turn
    (truth: 3000). Over 4 MiB, so ``mode="sampled"`` samples it."""
    parts = ["Writing logs to /gone/logs/log_1.txt\n"]
    for step in range(1, steps + 1):
        value = 1000.0 if step <= 20 else (2990.0 if step % 2 else 3010.0)
        parts.append(
            f"\r1|{step}|Loss: 1.25:  50%|█████     | {step}/{steps} [00:10<00:10,  3.33it/s]"
            f"Step {step} | loss:1.25 lr:0.0003 tokens_per_second_per_gpu:{value} "
            "peak_memory_alloc:21.47 \n"
        )
    if wandb:
        parts.append("wandb: Run summary:\nwandb: tokens_per_second_per_gpu 2222.5\n")
    path.write_text("".join(parts))


def test_sampled_mode_gives_the_full_median_from_parts(tmp_path):
    path = tmp_path / "slurm-77.out"
    _big_stdout_output(path, 40_000)
    assert path.stat().st_size > 4 << 20
    full = read_tokens_per_second(path)
    sampled = read_tokens_per_second(path, mode="sampled")
    assert full.tokens_per_s == 3000.0 and full.samples == 40_000 - 20
    assert sampled.tokens_per_s == 3000.0 and sampled.kind == "steady-median"
    assert sampled.excluded_warmup == 20
    assert 0 < sampled.samples < full.samples / 4  # read in parts
    assert sampled.source == "stdout"


def test_sampled_mode_small_file_reads_whole(tmp_path):
    path = tmp_path / "slurm-78.out"
    _big_stdout_output(path, 100, wandb=True)
    assert read_tokens_per_second(path, mode="sampled") == read_tokens_per_second(path)
    with pytest.raises(ValueError):
        read_tokens_per_second(path, mode="fast")


# -- real tqdm and StdoutLogger lines printed under the real SLURM test cluster ----------------
REAL_SLURM = Path(__file__).resolve().parents[1] / "data" / "real_slurm"


@pytest.mark.parametrize("name", ["drift", "slow", "newline", "timeout"])
def test_real_slurm_outputs_give_their_measured_tokens_per_second(name):
    import json

    truth = json.loads((REAL_SLURM / f"{name}.truth.json").read_text())
    rate = read_tokens_per_second(REAL_SLURM / f"{name}.out")
    assert rate.kind == "steady-median" and rate.source == "stdout"
    # truth: the tokens the job made over the seconds it measured for its steps
    assert rate.tokens_per_s == pytest.approx(truth["tokens_per_second"], rel=0.03)
