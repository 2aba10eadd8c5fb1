"""A prior run's output read once: the same facts as the probes asked one by one, each part of
the file read from disk once, on real SLURM outputs with their measured truths."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from designlog_magics._demo.synthetic import TorchtuneConfig, write_torchtune_out
from designlog_magics.probes import regions as regions_module
from designlog_magics.probes.evals import read_eval_run
from designlog_magics.probes.prior_run import PriorRun, read_prior_run
from designlog_magics.probes.runfacts import HEAD_BYTES, TAIL_BYTES, read_run_facts
from designlog_magics.probes.speed import extract_speed
from designlog_magics.probes.speed import reading as speed_reading
from designlog_magics.probes.tokens import read_tokens_per_second

DATA = Path(__file__).resolve().parents[1] / "data"
REAL = sorted((DATA / "real_slurm").glob("*.out"))


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_real_outputs_give_what_each_probe_gives_and_the_measured_truth(path):
    truth = json.loads(path.with_suffix(".truth.json").read_text())
    prior = read_prior_run(path)
    assert isinstance(prior, PriorRun) and not prior.is_eval
    assert prior.speed == extract_speed(path)
    assert prior.facts == read_run_facts(path)
    assert prior.tokens == read_tokens_per_second(path, mode="sampled")
    # the figures the job measured of itself (README beside the outputs)
    assert prior.speed.plan_its == pytest.approx(truth["steps_per_second"], rel=0.04)
    assert prior.tokens.tokens_per_s == pytest.approx(truth["tokens_per_second"], rel=0.04)
    assert prior.bytes_read == prior.file_size == path.stat().st_size  # small: read whole, once


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("large") / "slurm-7.out"
    facts = write_torchtune_out(
        path,
        steady_its=3.2,
        epochs=2,
        target_bytes=12_000_000,
        validation_every=400,
        config=TorchtuneConfig(),
        seed=7,
    )
    return path, facts


def test_a_large_output_reads_its_head_and_tail_from_disk_once(large, monkeypatch):
    path, facts = large
    reads: list[tuple[int, int]] = []
    real = os.pread

    def spy(fd: int, length: int, offset: int) -> bytes:
        data = real(fd, length, offset)
        reads.append((offset, offset + len(data)))
        return data

    monkeypatch.setattr(regions_module.os, "pread", spy)
    prior = read_prior_run(path)
    size = path.stat().st_size
    head = [r for r in reads if r[0] < HEAD_BYTES]
    tail = [r for r in reads if r[1] > size - TAIL_BYTES]
    assert head == [(0, HEAD_BYTES)]  # the config, the first steps, the first epoch's start
    assert len(tail) == 1 and tail[0][1] == size  # how it ended, the last steps
    assert prior.bytes_read == sum(end - start for start, end in reads) < size / 2
    # what the probes would read one by one: at least both heads and tails once more each
    assert prior.speed.bytes_read + HEAD_BYTES + TAIL_BYTES > prior.bytes_read
    assert prior.speed.plan_its == pytest.approx(facts.steady_its, rel=0.02)
    assert prior.tokens.tokens_per_s == pytest.approx(facts.tokens_per_s, rel=0.03)
    assert prior.facts.config is not None and prior.facts.outcome.state == "completed"


def test_full_reads_every_byte_for_the_speed_and_reports_progress(large, monkeypatch):
    path, facts = large
    monkeypatch.setattr(speed_reading, "PROGRESS_EVERY", 0.0)
    calls: list[tuple[int, int]] = []
    prior = read_prior_run(path, full=True, progress=lambda d, t: calls.append((d, t)))
    assert prior.speed.mode == "full" and prior.speed.bytes_read >= facts.bytes_written
    assert prior.speed == extract_speed(path, mode="full")
    assert calls and all(total == facts.bytes_written for _, total in calls)


def test_an_inspect_eval_output_is_its_summary_only():
    path = DATA / "inspect" / "one-model.out"
    prior = read_prior_run(path)
    assert prior.is_eval and prior.eval_run == read_eval_run(path)
    assert prior.speed is None and prior.tokens is None
    assert prior.eval_run.total_seconds is not None


def test_what_cannot_be_read_raises_oserror_and_a_fifo_does_not_hang(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_prior_run(tmp_path / "slurm-404.out")
    with pytest.raises(OSError, match="not a regular file"):
        read_prior_run(tmp_path)
    fifo = tmp_path / "slurm-5.out"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            read_prior_run(fifo)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and outcome and "not a regular file" in str(outcome[0])


def test_an_output_without_training_is_facts_not_an_error(tmp_path):
    path = tmp_path / "slurm-9.out"
    path.write_text("srun: error: gpu-node-07: task 0: Out Of Memory\n")
    prior = read_prior_run(path)
    assert not prior.speed.ok and prior.speed.error.startswith("no training progress found")
    assert prior.tokens.tokens_per_s is None and prior.tokens.error
    assert prior.facts.config is None
