"""The speed probe on real files: every trap of torchtune's SLURM outputs, both ways of reading."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designlog_magics._demo.synthetic import (
    write_failed_out,
    write_torchtune_out,
    write_unrelated_out,
)
from designlog_magics.probes.speed import SpeedReport, extract_speed
from designlog_magics.probes.speed import reading as speed_module

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example-slurm.out"
MODES = ("auto", "full", "sampled")

# small runs (read in full by default) with one trap each, then all at once
QUIET = dict(
    warmup_steps=0,
    validation_every=None,
    noise_lines=False,
    position1_epochs=False,
    jitter=0.03,
)
TRAPS = {
    "none": {},
    "warmup": dict(warmup_steps=150, warmup_factor=4.0),
    "validation": dict(validation_every=40),
    "noise lines": dict(noise_lines=True),
    "position 1 epochs": dict(position1_epochs=True),
    "jitter": dict(jitter=0.15),
    "seconds per iteration": dict(steady_its=0.45),
    "around 1 it/s": dict(steady_its=1.0, jitter=0.12),
    "fast": dict(steady_its=40.0),
    "killed": dict(killed=True),
    "all": dict(
        warmup_steps=120,
        warmup_factor=3.5,
        validation_every=45,
        noise_lines=True,
        position1_epochs=True,
        jitter=0.08,
        killed=True,
    ),
}


def close_to(measured: float | None, truth: float, tolerance: float = 0.02) -> bool:
    return measured is not None and abs(measured / truth - 1) <= tolerance


def last_grep_rate(path: Path) -> float:
    """What ``grep -E "[0-9.]+it/s" FILE | tail`` ends with (the last rate in the file)."""
    data = path.read_bytes()
    found = re.findall(rb"([0-9.]+)(it/s|s/it)", data)
    value, unit = found[-1]
    return float(value) if unit == b"it/s" else 1 / float(value)


@pytest.mark.parametrize("trap", list(TRAPS))
@pytest.mark.parametrize("mode", MODES)
def test_each_trap_gives_the_steady_speed(tmp_path, trap, mode):
    params = {**QUIET, "steady_its": 4.34, "epochs": 3, "steps_per_epoch": 400, **TRAPS[trap]}
    facts = write_torchtune_out(tmp_path / "slurm-4100001.out", seed=11, **params)

    report = extract_speed(facts.path, mode=mode)

    assert report.ok, report.error
    assert close_to(report.speed_its, facts.steady_its), (report.speed_its, facts.steady_its)
    assert [e.epoch for e in report.epochs] == list(range(1, facts.epochs_started + 1))
    for epoch, truth in zip(report.epochs, facts.epoch_its, strict=True):
        assert close_to(epoch.speed_its, truth, 0.03), (epoch, truth)
    assert report.excluded["epoch-average"] == facts.final_bars


def test_warmup_is_left_out_and_counted(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "w.out", steady_its=3.0, steps_per_epoch=600, warmup_steps=200, seed=3
    )
    report = extract_speed(facts.path)
    assert close_to(report.speed_its, 3.0)
    # the taper ends at 200; tqdm's smoothing carries it a few updates further
    assert 185 <= report.excluded["warmup"] <= 240
    assert report.epochs[0].excluded["warmup"] == report.excluded["warmup"]


def test_validation_bars_and_the_dip_after_them_are_left_out(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "v.out",
        steady_its=2.0,
        epochs=2,
        steps_per_epoch=500,
        validation_every=25,
        validation_steps=80,
        seed=4,
    )
    report = extract_speed(facts.path)
    assert facts.validation_runs == 38  # not at the end of an epoch
    assert report.excluded["validation"] > 10 * facts.validation_runs  # their updates
    assert report.excluded["after validation"] >= 5 * facts.validation_runs
    assert close_to(report.speed_its, 2.0, 0.01)
    # keeping the dips would have pulled the median down
    data = Path(facts.path).read_bytes()
    everything = [
        float(v) for v in re.findall(rb"\|Loss: [^\r\n,]*, +([0-9.]+)it/s\]", data) if float(v)
    ]
    everything.sort()
    assert everything[len(everything) // 2] < 0.97 * facts.steady_its


def test_the_final_bar_average_is_not_the_speed(tmp_path):
    """What grep's tail shows (the epoch average) is far off; the probe is not."""
    facts = write_torchtune_out(
        tmp_path / "slurm-7.out",
        steady_its=4.34,
        epochs=2,
        steps_per_epoch=300,
        warmup_steps=60,
        validation_every=60,
        seed=7,
    )
    tail_rate = last_grep_rate(Path(facts.path))
    assert tail_rate == pytest.approx(facts.final_bar_its[-1], abs=0.01)
    assert not close_to(tail_rate, facts.steady_its, 0.05)
    report = extract_speed(facts.path)
    assert close_to(report.speed_its, facts.steady_its)
    assert report.excluded["epoch-average"] == 2


def test_seconds_per_iteration_are_converted(tmp_path):
    facts = write_torchtune_out(tmp_path / "slow.out", steady_its=0.4, steps_per_epoch=200)
    assert b"s/it]" in Path(facts.path).read_bytes()
    report = extract_speed(facts.path)
    assert close_to(report.speed_its, 0.4)
    assert "0.40 it/s (2.50 s/it)" in report.summary()


def test_a_run_near_one_iteration_per_second_flips_units(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "flip.out", steady_its=1.0, jitter=0.15, steps_per_epoch=400, seed=9
    )
    training = re.findall(
        rb"\|Loss: [^\r\n,]*, +[0-9.]+(it/s|s/it)\]", Path(facts.path).read_bytes()
    )
    assert b"it/s" in training and b"s/it" in training
    assert close_to(extract_speed(facts.path).speed_its, 1.0)


def test_epochs_at_different_speeds(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "e.out",
        steady_its=3.0,
        epochs=3,
        epoch_its=[3.0, 3.3, 2.7],
        steps_per_epoch=500,
        validation_every=70,
        seed=5,
    )
    for mode in MODES:
        report = extract_speed(facts.path, mode=mode)
        speeds = [e.speed_its for e in report.epochs]
        assert all(close_to(s, t) for s, t in zip(speeds, facts.epoch_its, strict=True)), speeds
        assert 2.7 < report.speed_its < 3.3
        assert re.search(r"^epoch 2: 3\.[23]\d it/s \([\d,]+ updates", report.detail(), re.M)


def test_large_output_is_sampled_and_agrees_with_the_full_pass(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "slurm-big.out",
        steady_its=4.34,
        epochs=3,
        epoch_its=[4.34, 4.5, 4.2],
        target_bytes=24_000_000,
        warmup_steps=300,
        warmup_factor=4.0,
        validation_every=400,
        jitter=0.06,
        seed=21,
    )
    sampled = extract_speed(facts.path)
    full = extract_speed(facts.path, mode="full")
    assert sampled.mode == "sampled" and full.mode == "full"
    assert sampled.bytes_read < facts.bytes_written / 3
    assert full.bytes_read >= facts.bytes_written
    for report in (sampled, full):
        for epoch, truth in zip(report.epochs, facts.epoch_its, strict=True):
            assert close_to(epoch.speed_its, truth), (report.mode, epoch, truth)
        assert 290 <= report.excluded["warmup"] <= 400
        assert report.excluded["epoch-average"] == 3
    assert full.updates > 4 * sampled.updates
    assert " sampled steps in " in sampled.summary()
    assert close_to(sampled.throughput_its, full.throughput_its, 0.01)


def test_a_long_slow_warmup_in_a_large_output(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "long-warmup.out",
        steady_its=3.0,
        epochs=2,
        target_bytes=12_000_000,
        warmup_steps=3000,
        warmup_factor=5.0,
        validation_every=25,
        seed=2,
    )
    for mode in MODES:
        report = extract_speed(facts.path, mode=mode)
        assert close_to(report.speed_its, 3.0), (mode, report.summary())
        # the last steps of the taper are within the noise of the steady rate
        assert 2700 <= report.excluded["warmup"] <= 3200, (mode, report.excluded)


def test_killed_run(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "slurm-killed.out", steady_its=2.5, epochs=2, steps_per_epoch=300, killed=True
    )
    text = Path(facts.path).read_text()
    assert "DUE TO TIME LIMIT ***" in text.splitlines()[-1]
    report = extract_speed(facts.path)
    assert report.ok and close_to(report.speed_its, 2.5)
    assert report.excluded["epoch-average"] == 1  # the last epoch never finished
    assert any("cancelled" in note for note in report.notes)


def test_failed_run_has_no_progress(tmp_path):
    path = tmp_path / "slurm-failed.out"
    write_failed_out(path, seed=2)
    for mode in MODES:
        report = extract_speed(path, mode=mode)
        assert not report.ok
        assert report.speed_its is None
        assert report.error == f"no training progress found in {path}"
        assert report.summary() == f"Failed: no training progress found in {path}"


def test_unrelated_output(tmp_path):
    path = tmp_path / "slurm-prep.out"
    write_unrelated_out(path, seed=5)
    report = extract_speed(path)
    assert not report.ok and report.error and report.updates == 0


def test_empty_file(tmp_path):
    path = tmp_path / "slurm-empty.out"
    path.write_bytes(b"")
    report = extract_speed(path)
    assert not report.ok and report.bytes_read == 0


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        extract_speed(tmp_path / "nope.out")


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        extract_speed(EXAMPLE, mode="fast")


def test_the_real_example_output(tmp_path):
    """A real job's output (plain tqdm bars, ``epoch N`` descriptions, 20 steps each)."""
    copy = tmp_path / "slurm-1.out"
    shutil.copy(EXAMPLE, copy)
    report = extract_speed(copy)
    assert report.ok
    assert [e.epoch for e in report.epochs] == [0, 1]
    assert 8.0 <= report.speed_its <= 8.3  # its updates run 7.2-8.3, mostly above 8
    assert report.excluded["epoch-average"] == 2  # 7.79 and 8.16, printed by close()
    assert report.updates == 40
    # 19 steps after the first in each epoch, timed from tqdm's rates (2.45 s and 2.33 s):
    # close() printed the epochs' averages with the first step, 7.79 and 8.16 it/s
    assert [round(e.throughput_its, 2) for e in report.epochs] == [7.76, 8.16]
    assert report.summary().startswith("Throughput after warmup: 7.9")
    assert "tqdm's median rate 8.1" in report.summary()


def test_summary_wording(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "s.out", steady_its=4.34, epochs=2, steps_per_epoch=300, validation_every=50
    )
    report = extract_speed(facts.path)
    assert re.fullmatch(
        r"Throughput after warmup: \d+\.\d\d it/s \([\d,]+ steps in [\d,]+ s of training; "
        r"tqdm's median rate 4\.3\d it/s; excluded [\d,]+ warmup, 10 validation\)",
        report.summary(),
    ), report.summary()
    detail = report.detail().splitlines()
    assert detail[0].startswith("epoch 1: 4.3")
    assert re.match(r"median of [\d,]+ tqdm rates after warmup: 4\.3\d it/s \(excluded ", detail[2])
    assert detail[3].endswith(" read (every byte)")


def test_report_is_frozen(tmp_path):
    report = extract_speed(EXAMPLE)
    assert isinstance(report, SpeedReport)
    with pytest.raises(AttributeError):
        report.speed_its = 1.0  # type: ignore[misc]


def test_progress_is_reported_and_interrupts_propagate(tmp_path, monkeypatch):
    facts = write_torchtune_out(
        tmp_path / "p.out", steady_its=5.0, target_bytes=14_000_000, validation_every=300
    )
    expected = extract_speed(facts.path, mode="full")
    monkeypatch.setattr(speed_module, "PROGRESS_EVERY", 0.0)
    calls: list[tuple[int, int]] = []
    report = extract_speed(facts.path, mode="full", progress=lambda d, t: calls.append((d, t)))
    assert len(calls) >= 3
    assert all(total == facts.bytes_written for _, total in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert report == expected

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_speed(facts.path, mode="full", progress=interrupt)
    assert extract_speed(facts.path, mode="full") == expected  # nothing left behind


def test_progress_is_rate_limited(tmp_path, monkeypatch):
    facts = write_torchtune_out(tmp_path / "q.out", steady_its=5.0, target_bytes=14_000_000)
    monkeypatch.setattr(speed_module, "PROGRESS_EVERY", 3600.0)
    calls: list[int] = []
    extract_speed(facts.path, mode="full", progress=lambda d, t: calls.append(d))
    assert calls == []  # none before the interval has passed


PEAK = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_kb(code: str) -> int:
    """Peak RSS of a fresh interpreter running ``code`` (the only child of a small parent)."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK, textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return int(done.stdout.split()[-1])


@pytest.mark.slow
def test_memory_stays_bounded_on_one_giant_line(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "slurm-giant.out",
        steady_its=6.0,
        epochs=1,
        target_bytes=200_000_000,
        warmup_steps=100,
        noise_lines=False,
        position1_epochs=False,
        seed=1,
    )
    data_head = Path(facts.path).read_bytes()[:100_000]
    assert facts.bytes_written > 180_000_000
    assert data_head.count(b"\n") < 60  # the header; then one line of \r-joined updates

    baseline = peak_rss_kb("import designlog_magics.probes.speed")
    for mode in ("auto", "full"):
        peak = peak_rss_kb(
            f"""
            from designlog_magics.probes.speed import extract_speed
            report = extract_speed({facts.path!r}, mode={mode!r})
            assert abs(report.speed_its / 6.0 - 1) < 0.02, report.summary()
            """
        )
        assert peak - baseline < 64 * 1024, (mode, peak, baseline)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steady=st.floats(0.3, 30.0),
    epochs=st.integers(1, 3),
    steps=st.integers(200, 400),
    warmup=st.integers(0, 40),
    factor=st.floats(1.0, 4.0),
    every=st.one_of(st.none(), st.integers(40, 120)),
    jitter=st.floats(0.0, 0.1),
    killed=st.booleans(),
    noise=st.booleans(),
    position1=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_any_small_run(
    tmp_path, steady, epochs, steps, warmup, factor, every, jitter, killed, noise, position1, seed
):
    if every is not None:  # tqdm needs some 20 updates of its own to forget a validation
        every = max(every, int(8 * steady))
    facts = write_torchtune_out(
        tmp_path / f"h-{seed}.out",
        steady_its=steady,
        epochs=epochs,
        steps_per_epoch=steps,
        warmup_steps=warmup,
        warmup_factor=factor,
        validation_every=every,
        jitter=jitter,
        killed=killed,
        noise_lines=noise,
        position1_epochs=position1,
        seed=seed,
    )
    for mode in ("auto", "sampled"):
        report = extract_speed(facts.path, mode=mode)
        assert close_to(report.speed_its, facts.steady_its), (mode, report.summary(), facts)
        assert len(report.epochs) == facts.epochs_started


# -- throughput, on outputs of the real tqdm (tests/data/tqdm, see its README) --------------
TQDM = Path(__file__).resolve().parents[1] / "data" / "tqdm"
sys.path.insert(0, str(TQDM))
import make_fixtures  # noqa: E402  (the real tqdm on a clock of our own)


def truth(name: str) -> dict:
    return json.loads((TQDM / f"{name}.truth.json").read_text())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["steady-cr", "steady-lines", "steady-mixed"])
def test_one_print_per_line_reads_like_the_carriage_returns(name, mode):
    expected = truth(name)
    report = extract_speed(TQDM / f"{name}.out", mode=mode)
    assert report.ok, report.error
    assert close_to(report.throughput_its, expected["throughput_its"], 0.03), report.summary()
    assert close_to(report.speed_its, 5.0, 0.03)
    assert report.plan_its == report.throughput_its
    assert report.left_out["pause"] == 0 and report.left_out["validation"] == 0
    if mode != "sampled":
        assert report.steps_counted >= expected["steps"] - 10
    if name == "steady-lines":
        assert b"\r" not in (TQDM / f"{name}.out").read_bytes()
        cr = extract_speed(TQDM / "steady-cr.out", mode=mode)
        assert (report.throughput_its, report.steps_counted, report.speed_its) == (
            cr.throughput_its,
            cr.steps_counted,
            cr.speed_its,
        )


@pytest.mark.parametrize("mode", ("auto", "full"))
def test_a_drifting_run_plans_with_the_throughput_not_the_median(mode):
    expected = truth("drift")["throughput_its"]  # 8 it/s, then 6 it/s: about 6.9
    report = extract_speed(TQDM / "drift.out", mode=mode)
    assert close_to(report.throughput_its, expected, 0.01), report.summary()
    assert not close_to(report.speed_its, expected, 0.05)  # the median is some 10% high
    assert report.plan_its == report.throughput_its
    assert report.summary().startswith(f"Throughput after warmup: {report.throughput_its:.2f} it/s")
    assert f"tqdm's median rate {report.speed_its:.2f} it/s" in report.summary()


@pytest.mark.parametrize("mode", MODES)
def test_validation_and_checkpoint_pauses_are_left_out(mode):
    expected = truth("pauses")
    report = extract_speed(TQDM / "pauses.out", mode=mode)
    assert close_to(report.throughput_its, expected["throughput_its"], 0.03), report.summary()
    # kept in, the 40 s validation and the 45 s save would have cost some 40%
    assert report.training_seconds < expected["training_seconds"] + 10
    assert report.left_out["validation"] == 1  # the bar
    assert report.left_out["pause"] == 1  # the save within the epoch (the one between: 2 bars)
    assert [e.epoch for e in report.epochs] == [1, 2]
    kinds = {p.kind for p in report.points}
    assert {"warmup", "steady", "validation", "pause", "epoch-average"} <= kinds
    pause = next(p for p in report.points if p.kind == "pause")
    assert pause.n == 301  # the first step after the save


STRETCH_STEPS = 3000


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pauses=st.dictionaries(
        st.integers(400, STRETCH_STEPS - 5), st.integers(8, 300), max_size=4
    ).filter(lambda found: all(abs(a - b) > 2 for a in found for b in found if a != b))
)
def test_every_pause_within_one_long_stretch_is_found(tmp_path, pauses):
    """One epoch of plain training after its warmup is one stretch between events: the saves
    inside it (no bar of their own, only a jump in elapsed) are found wherever they fall.
    The prints are tqdm's own ``format_meter`` at 5 it/s, with torchtune's description
    (``f"{epoch}|{step}|Loss: {loss}"``) after each update, as in tests/data/tqdm."""
    from tqdm import tqdm

    parts = ["\r" + tqdm.format_meter(0, STRETCH_STEPS, 0)]
    clock = 0.0
    for step in range(1, STRETCH_STEPS + 1):
        clock += 0.2 + pauses.get(step, 0)  # a save before this step: elapsed jumps
        before = f"1|{step - 1}|Loss: 1.25" if step > 1 else ""
        for desc in (before, f"1|{step}|Loss: 1.25"):
            meter = tqdm.format_meter(step, STRETCH_STEPS, clock, prefix=desc, rate=5.0)
            parts.append("\r" + meter)
    path = tmp_path / f"slurm-{len(pauses)}.out"
    path.write_text("".join(parts) + "\n")
    for mode in ("full", "auto"):
        report = extract_speed(path, mode=mode)
        assert report.left_out["pause"] == len(pauses), (mode, sorted(pauses))
        found = sorted(p.n for p in report.points if p.kind == "pause")
        assert found == sorted(pauses)  # the first step after each save
        assert close_to(report.throughput_its, 5.0, 0.02)


def test_seconds_per_iteration():
    expected = truth("slow")["throughput_its"]  # 0.57 it/s
    report = extract_speed(TQDM / "slow.out")
    assert b"s/it]" in (TQDM / "slow.out").read_bytes()
    assert close_to(report.throughput_its, expected, 0.03)
    assert re.match(r"Throughput after warmup: 0\.57 it/s \(1\.75 s/it\) \(", report.summary())


def test_a_short_run_with_a_slow_first_step():
    """14 steps at 0.8 it/s after a 5 s first step: tqdm's smoothed rate still lags."""
    report = extract_speed(TQDM / "smoke-14.out")
    assert truth("smoke-14")["throughput_its"] == 0.8
    assert close_to(report.throughput_its, 0.8, 0.03), report.summary()
    assert report.speed_its < 0.78  # the median of the lagging rates
    assert report.plan_its == report.throughput_its
    assert "0.80 it/s (1.25 s/it)" in report.summary()


def test_a_large_output_sampled_agrees_with_the_full_pass(tmp_path):
    path = tmp_path / "slurm-large.out"
    expected = make_fixtures.large_run(path, steps=15_000)
    assert path.stat().st_size > 8 << 20
    sampled = extract_speed(path)
    full = extract_speed(path, mode="full")
    assert sampled.mode == "sampled" and full.mode == "full"
    assert sampled.bytes_read < 0.6 * path.stat().st_size
    assert close_to(full.throughput_its, expected["throughput_its"], 0.01), full.summary()
    assert close_to(sampled.throughput_its, full.throughput_its, 0.01), sampled.summary()
    assert full.left_out["validation"] == 27  # every 1,500 steps, 3 epochs
    for report in (sampled, full):
        assert 0 < len(report.points) <= 2000
        assert [p.order for p in report.points] == sorted(p.order for p in report.points)
        assert sum(p.kind == "epoch-average" for p in report.points) == 3


def test_plan_its_falls_back_on_the_median(tmp_path):
    """Without elapsed times to go by (every print in the same second), the median."""
    path = tmp_path / "slurm-9.out"
    path.write_text(
        "".join(f"\r{i * 5}%|  | {i}/20 [00:00<00:01, 40.00it/s]" for i in range(1, 21)) + "\n"
    )
    report = extract_speed(path)
    assert report.ok and report.throughput_its is None
    assert report.plan_its == report.speed_its == 40.0
    assert report.summary().startswith("Average speed after warmup: 40.00 it/s")


def test_points_are_bounded_and_marked(tmp_path):
    facts = write_torchtune_out(
        tmp_path / "p.out", steady_its=5.0, target_bytes=14_000_000, validation_every=300
    )
    for mode in ("auto", "full"):
        report = extract_speed(facts.path, mode=mode)
        assert 100 < len(report.points) <= 2000
        assert {p.kind for p in report.points} <= {
            "warmup",
            "steady",
            "validation",
            "pause",
            "epoch-average",
        }
        steady = [p.rate_its for p in report.points if p.kind == "steady"]
        assert close_to(sorted(steady)[len(steady) // 2], 5.0, 0.03)


# -- real SLURM outputs (tests/data/real_slurm: the job measured its own training seconds) ---
REAL = Path(__file__).resolve().parents[1] / "data" / "real_slurm"


@pytest.mark.parametrize("mode", ("auto", "full"))
@pytest.mark.parametrize("name", ["drift", "newline", "slow", "timeout"])
def test_real_slurm_outputs_give_the_measured_throughput(name, mode):
    measured = json.loads((REAL / f"{name}.truth.json").read_text())
    truth = measured["steps"] / measured["train_seconds"]
    report = extract_speed(REAL / f"{name}.out", mode=mode)
    assert report.ok, report.error
    assert close_to(report.plan_its, truth, 0.03), (report.summary(), truth)
    assert report.plan_its == report.throughput_its
    if name in ("drift", "newline"):  # the speed fell mid-epoch: the median is further off
        assert abs(report.speed_its / truth - 1) > 2 * abs(report.throughput_its / truth - 1)
    if name == "newline":
        assert b"\r" not in (REAL / "newline.out").read_bytes()  # one print per line


def test_the_probes_import_no_private_name_across_modules_and_no_circle():
    """One module per idea: each imports only what the others export, and none imports a
    module that imports it back (at any depth)."""
    import ast

    root = Path(__file__).resolve().parents[2] / "designlog_magics" / "probes"
    graph: dict[str, set[str]] = {}
    private: list[str] = []
    for source in sorted(root.rglob("*.py")):
        parts = source.relative_to(root.parent).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__")
        package = name if source.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = set()
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{target}.{alias.name}"
                graph[name].add(
                    full
                    if (root.parent / full.replace(".", "/")).exists()
                    or (root.parent / (full.replace(".", "/") + ".py")).exists()
                    else target
                )
                if alias.name.startswith("_"):
                    private.append(f"{name}: {target}.{alias.name}")
    assert private == []
    assert {"probes.speed.rates", "probes.speed.epochs", "probes.prior_run"} <= set(graph)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and (seen.add(nxt) or reaches(nxt, goal, seen))):
                return True
        return False

    circles = [m for m in graph if reaches(m, m, set())]
    assert circles == []
