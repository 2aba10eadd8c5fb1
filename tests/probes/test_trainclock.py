"""Training time from tqdm's counters, on outputs the package did not write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from designlog_magics.probes import trainclock
from designlog_magics.probes.trainclock import read_train_clock
from tests.budget import at_most

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize("name", ["drift", "slow", "newline", "timeout"])
def test_real_slurm_outputs_against_their_measured_time(name):
    truth = json.loads((DATA / "real_slurm" / f"{name}.truth.json").read_text())
    clock = read_train_clock(DATA / "real_slurm" / f"{name}.out")
    loops = truth["train_seconds"] + sum(truth["pause_seconds"])
    assert len(clock.epochs) == truth["epochs_started"]
    assert abs(clock.seconds - loops) < truth["epochs_started"]  # whole seconds, rounded down
    assert clock.last_step == truth["steps"]


@pytest.mark.parametrize(
    "path, epochs, last_step",
    [
        ("outcome/killed/slurm-123.out", ((1, 960), (2, 300)), 8),
        ("outcome/several/slurm-201.out", ((1, 270),), 4),
        ("torchtune/slurm-3003.out", ((1, 11), (2, 1)), 6),
        ("tqdm/pauses.out", ((1, 250), (2, 165)), 800),
    ],
)
def test_hand_written_and_tqdm_outputs(path, epochs, last_step):
    clock = read_train_clock(DATA / path)
    assert (clock.epochs, clock.last_step) == (epochs, last_step)
    assert clock.seconds == sum(s for _, s in epochs)


def test_no_bar_and_no_file():
    oom = read_train_clock(DATA / "outcome/several/slurm-200.out")
    assert oom.seconds is None and "no torchtune training bar" in oom.error
    missing = read_train_clock(DATA / "nope.out")
    assert missing.seconds is None and "cannot read" in missing.error


@at_most(500)
@given(st.integers(min_value=60, max_value=50_000), st.integers(min_value=1, max_value=20_000))
def test_any_block_and_part_size_gives_the_same_clock(block, part):
    """Blocks read and parts halved (where the epoch changes) of any size: the same figures."""
    expected = {
        name: read_train_clock(DATA / name)
        for name in ("real_slurm/drift.out", "tqdm/pauses.out", "outcome/killed/slurm-123.out")
    }
    saved = trainclock.BLOCK, trainclock.SCAN
    trainclock.BLOCK, trainclock.SCAN = block, part
    try:
        for name, clock in expected.items():
            assert read_train_clock(DATA / name) == clock, name
    finally:
        trainclock.BLOCK, trainclock.SCAN = saved


def test_hours_in_the_elapsed_time(tmp_path):
    # tqdm's format_interval: '{0:d}:{1:02d}:{2:02d}' once there are hours
    path = tmp_path / "slurm-9.out"
    path.write_bytes(
        "\r1|5000|Loss: 0.4: 100%|██████████| 5000/5000 [1:23:20<00:00,  1.00it/s]"
        "\n\r2|7000|Loss: 0.3:  40%|████      | 2000/5000 [10:00:05<?, ?it/s]".encode()
    )
    clock = read_train_clock(path)
    assert clock.epochs == ((1, 5000), (2, 36005)) and clock.seconds == 41005
