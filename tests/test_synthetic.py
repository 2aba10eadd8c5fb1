"""The synthetic SLURM outputs look like the real thing: tqdm's own formatting and every trap."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tqdm import tqdm

from designlog_magics._demo.synthetic import (
    format_bar,
    format_interval,
    format_rate,
    write_failed_out,
    write_torchtune_out,
    write_unrelated_out,
)

PRINT = re.compile(
    rb"(\n?)\r(?:([^\r\n]*?): )?([ \d]{2}\d%\|[^|\r\n]*\| )(\d+)/(\d+) "
    rb"\[([\d:]+)<([\d:?]+), +(\?|[\d.]+)(it/s|s/it)\]( *)(\x1b\[A)?"
)


def prints(path: str | Path) -> list[re.Match[bytes]]:
    return list(PRINT.finditer(Path(path).read_bytes()))


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 5000),
    extra=st.integers(1, 5000),
    elapsed=st.floats(0, 200_000),
    its=st.one_of(st.none(), st.floats(0.01, 500)),
    desc=st.sampled_from(["", "Validation", "1|23|Loss: 2.345678901234", "epoch 0"]),
)
def test_format_bar_is_tqdms(n, extra, elapsed, its, desc):
    total = n + extra
    ours = format_bar(n, total, elapsed, its, desc)
    theirs = tqdm.format_meter(n, total, elapsed, rate=its, prefix=desc)
    assert ours == theirs


def test_rate_and_clock_formats():
    assert format_rate(4.3449) == " 4.34it/s"
    assert format_rate(0.8) == " 1.25s/it"
    assert format_rate(123.456) == "123.46it/s"
    assert format_rate(None) == "?it/s"
    assert format_interval(59.9) == "00:59"
    assert format_interval(3600 * 26 + 61) == "26:01:01"


def test_same_seed_same_bytes(tmp_path):
    params = dict(steady_its=3.0, epochs=2, steps_per_epoch=150, validation_every=40)
    a = write_torchtune_out(tmp_path / "a.out", seed=5, **params)
    b = write_torchtune_out(tmp_path / "b.out", seed=5, **params)
    c = write_torchtune_out(tmp_path / "c.out", seed=6, **params)
    assert Path(a.path).read_bytes() == Path(b.path).read_bytes()
    assert Path(a.path).read_bytes() != Path(c.path).read_bytes()
    assert a.final_bar_its == b.final_bar_its


def test_every_print_is_formatted_like_tqdm(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "slurm-1.out",
        steady_its=4.34,
        epochs=3,
        steps_per_epoch=250,
        validation_every=60,
        seed=1,
    )
    found = prints(facts.path)
    assert len(found) > 2 * 3 * 250
    for match in found:
        n, total = int(match[4]), int(match[5])
        bar = format_bar(n, total, 0, None)
        assert match[3].decode() == bar[: bar.index(f"{n}/{total}")], match[0]
        if match[8] != b"?":
            assert re.fullmatch(rb" ?\d+\.\d\d", match[8].rjust(5)), match[0]
        if match[11]:  # position 1: "\n\r...\x1b[A"
            assert match[1] == b"\n"


def test_torchtune_prints_each_step_twice(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "t.out", steady_its=2.0, steps_per_epoch=100, warmup_steps=5, seed=2
    )
    training = [m for m in prints(facts.path) if m[2] and b"|Loss: " in m[2]]
    ns = [int(m[4]) for m in training]
    # the update (old description) and the re-render (new one), same rate
    for first, second in zip(training[1:-2:2], training[2:-1:2], strict=True):
        assert first[4] == second[4] and first[8] == second[8]
        old_step = int(first[2].split(b"|")[1])
        new_step = int(second[2].split(b"|")[1])
        assert new_step == old_step + 1 == int(second[4])
    assert ns == sorted(ns)


def test_the_traps_are_there(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "all.out",
        steady_its=4.0,
        epochs=3,
        steps_per_epoch=400,
        warmup_steps=50,
        warmup_factor=3.0,
        validation_every=100,
        noise_lines=True,
        position1_epochs=True,
        killed=True,
        seed=3,
    )
    data = Path(facts.path).read_bytes()
    # one \r-joined line for the first epoch, \n\r...\x1b[A prints for the second
    assert data.count(b"\x1b[A") > 2 * 400
    assert facts.position1_epochs == 1
    # validation bars with faster rates, then the dip
    assert b"\rValidation:   0%|          | 0/25 [00:00<?, ?it/s]" in data
    assert facts.validation_runs == 8  # 3 + 3 + 2 before the time limit
    # log lines glued to a bar
    assert re.search(rb"it/s\] *INFO:torchtune.utils._logging:Saving checkpoint", data)
    assert facts.noise_lines > 0
    # finished bars re-printed with the epoch average; none for the killed epoch
    assert facts.final_bars == 2
    for average in facts.final_bar_its:
        assert average < 0.8 * 4.0
        assert f"{average:5.2f}it/s]\n".encode() in data
    assert data.rstrip().endswith(b"DUE TO TIME LIMIT ***")
    assert facts.killed and facts.epochs_started == 3
    # warmup: the first rates are far below the steady speed
    first = [m for m in prints(facts.path) if m[2] and b"|Loss: " in m[2]][:6]
    assert all(m[9] == b"s/it" or float(m[8]) < 0.7 * 4.0 for m in first)


def test_switches_turn_traps_off(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "quiet.out",
        steady_its=4.0,
        epochs=3,
        steps_per_epoch=300,
        validation_every=None,
        noise_lines=False,
        position1_epochs=False,
        seed=4,
    )
    data = Path(facts.path).read_bytes()
    assert b"\x1b[A" not in data and b"Validation" not in data
    assert not re.search(rb"\]INFO|\] +INFO", data)
    assert facts.position1_epochs == 0 and facts.validation_runs == 0
    assert facts.noise_lines == 0
    assert facts.final_bars == 3


def test_slow_runs_print_seconds_per_iteration(tmp_path):
    facts = write_torchtune_out(tmp_path / "slow.out", steady_its=0.5, steps_per_epoch=50)
    rates = [m[9] for m in prints(facts.path) if m[8] != b"?"]
    assert rates.count(b"s/it") > 0.9 * len(rates)


def test_target_size(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "big.out",
        steady_its=4.34,
        epochs=3,
        target_bytes=8_000_000,
        validation_every=300,
        seed=8,
    )
    assert 0.9 * 8_000_000 <= facts.bytes_written <= 1.1 * 8_000_000
    assert Path(facts.path).stat().st_size == facts.bytes_written


def test_epoch_speeds_and_facts(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "e.out",
        steady_its=3.0,
        epochs=3,
        epoch_its=[3.0, 3.5, 2.5],
        steps_per_epoch=100,
        killed=True,
    )
    assert facts.epoch_its == (3.0, 3.5, 2.5)
    assert facts.steady_its == 3.0
    assert facts.steps_written == 200 + 66
    with pytest.raises(ValueError):
        write_torchtune_out(tmp_path / "x.out", steady_its=3.0, epochs=2, epoch_its=[1.0])


def test_failed_and_unrelated_outputs(tmp_path):
    failed = tmp_path / "failed.out"
    write_failed_out(failed, seed=1)
    text = failed.read_text()
    assert "Traceback (most recent call last):" in text
    assert "CUDA out of memory" in text
    assert not re.search(r"[0-9.]+(it/s|s/it)", text)
    unrelated = tmp_path / "prep.out"
    write_unrelated_out(unrelated, seed=1)
    assert "rows/s" in unrelated.read_text() and "|" not in unrelated.read_text()
