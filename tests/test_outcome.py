"""The outcome of an experiment: real and hand-written run outputs laid out as its run
directories, its plan and design log written by hand, and every verdict against its truth."""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from designlog_magics.exceptions import DesignLogError
from designlog_magics.outcome import (
    NOT_COMPARED,
    NOT_FOUND,
    OVER,
    RUNNING,
    UNDER,
    WITHIN,
    OutcomeError,
    check_entries,
    check_key,
    disk_usage,
    read_outcome,
    result_for,
)
from designlog_magics.store import DesignLog, read_log
from designlog_magics.textformat import parse, render_all
from tests.outcome_tree import DATA, add_output, entry, plan, time_estimate, write_experiment

REAL = DATA / "real_slurm"
OUTCOME = DATA / "outcome"


def truth(name: str) -> dict:
    return json.loads((REAL / f"{name}.truth.json").read_text())


def lines_by_run(report, key):
    return {line.run: line for line in report.check(key).lines}


# -- real SLURM outputs --------------------------------------------------------------------
@pytest.fixture
def real(tmp_path) -> Path:
    """The four real outputs as runs of one experiment, and a run that never started.

    Estimates: drift 15 s (took 16 s by tqdm: within), slow 10 s (took 18 s: under), newline
    30 s (took 12 s: over); timeout 1 min, the limit it really ran under (sbatch --time=1),
    and "gone" the 1 min of the first estimate, which covered every fine-tuned run.
    """
    exp = tmp_path / "real_2026-12-01"
    runs = [
        {"name": "drift", "parameters": {"lora_rank": 8, "epochs": 2}},
        {"name": "slow", "parameters": {"lora_rank": 8, "epochs": 1}},
        {"name": "newline", "parameters": {"lora_rank": 8, "epochs": 2}},
        {"name": "timeout", "parameters": {"lora_rank": 8, "epochs": 1}, "time": "0:01:00"},
        {"name": "gone", "parameters": {"lora_rank": 8}},
    ]
    log = time_estimate("2026-12-01 20:00:00", 1.0, "fine-tuned")
    log += time_estimate("2026-12-01 20:01:00", 0.25, "drift")
    log += time_estimate("2026-12-01 20:01:00", 10 / 60, "slow")
    log += time_estimate("2026-12-01 20:01:00", 0.5, "newline")
    log += entry(
        "2026-12-01 20:02:00",
        "EXTRACT_SPEED",
        "Analyzing drift for training speed",
        Command="designlog speed {scratch_dir}/drift/slurm-1.out",
        Result="Throughput after warmup: 6.28 it/s (78 steps in 12 s of training; tqdm's "
        "median rate 5.92 it/s; excluded 2 warmup)",
        Tokens="12,500 tokens/s per GPU (median of 78 steps after 2 warmup, from the output)",
    )
    write_experiment(exp, plan(exp, runs), log)
    for name in ("drift", "slow", "newline", "timeout"):
        add_output(exp, name, REAL / f"{name}.out", truth(name)["job_id"])
    return exp


def test_real_outputs_give_their_measured_times_and_verdicts(real):
    report = read_outcome(real)
    time = lines_by_run(report, "time")
    for name in ("drift", "slow", "newline", "timeout"):
        t = truth(name)
        wall_of_loops = t["train_seconds"] + sum(t["pause_seconds"])
        line = time[name]
        # tqdm prints whole seconds, rounded down: under a second off per epoch's bar
        assert abs(line.actual - wall_of_loops) < t["epochs_started"], name
        elapsed = sum(
            int(x) * 60**i for i, x in enumerate(reversed(t["slurm"]["elapsed"].split(":")))
        )
        assert line.actual <= elapsed, name  # never more than SLURM's start-to-end
        assert f"{name}/slurm-{t['job_id']}.out" in line.source
    assert (time["drift"].verdict, time["drift"].actual) == (WITHIN, 16.0)
    assert time["drift"].ratio == pytest.approx(16 / 15)
    assert (time["slow"].verdict, time["slow"].detail) == (UNDER, "more than 1.25 x the estimate")
    assert (
        time["newline"].verdict == OVER
        and "waited in the queue for nothing" in time["newline"].text()
    )
    killed = time["timeout"]
    assert killed.verdict == UNDER and killed.at_least
    assert killed.detail == "killed at its time limit 0:01:00"
    # at the pace it went, 1000 planned steps: the truth is 1000 steps of 0.504 s
    needed = truth("timeout")["train_seconds"] / truth("timeout")["steps"] * 1000
    assert killed.projected_ratio * 60 == pytest.approx(needed, rel=0.02)
    assert time["gone"].verdict == NOT_FOUND and time["gone"].ratio is None
    assert time["gone"].text() == "gone: estimated 1.00 min, actual unknown: not found"
    assert time["timeout"].text() == (
        "timeout: estimated 1.00 min, actual at least 1.40 min (at least 1.40 x): "
        "UNDER-ESTIMATED (killed at its time limit 0:01:00)"
    )


def test_real_outputs_speeds_against_their_truths(real):
    report = read_outcome(real)
    speed = lines_by_run(report, "speed")
    tokens = lines_by_run(report, "tokens")
    for name in ("drift", "slow", "newline", "timeout"):
        t = truth(name)
        assert speed[name].actual == pytest.approx(t["steps_per_second"], rel=0.03), name
        assert tokens[name].actual == pytest.approx(t["tokens_per_second"], rel=0.04), name
    assert speed["drift"].verdict == WITHIN and speed["newline"].verdict == WITHIN
    # slower than planned is an under-estimated time, even for a run killed at its limit
    assert speed["slow"].verdict == UNDER and speed["slow"].detail == "slower than planned"
    assert speed["timeout"].verdict == UNDER
    assert speed["gone"].verdict == NOT_FOUND
    assert tokens["drift"].estimated == 12_500


def test_report_views(real):
    report = read_outcome(real)
    text = report.render()
    for name in ("drift", "slow", "newline", "timeout", "gone"):
        assert any(row.strip().startswith(name) for row in text.splitlines())
    assert "UNDER-ESTIMATED: slow, timeout" in text
    data = json.loads(json.dumps(report.as_dict()))
    assert data["under_estimated"] == ["slow", "timeout"]
    assert [c["key"] for c in data["checks"]] == ["time", "speed", "tokens"]
    points = report.points()
    assert ("drift", 15.0, 16.0, WITHIN) in points
    assert {p[0] for p in points} == {"drift", "slow", "newline", "timeout"}


# -- hand-written runs ------------------------------------------------------------------------
@pytest.fixture
def handwritten(tmp_path) -> Path:
    """killed (1,260 s of 15 min, limit 0:22:00), several (the resubmission: 270 s against 4.3
    min, over its 0:04:00), running, oom (out of memory only), missing, and evaluations."""
    exp = tmp_path / "hand_2025-10-22"
    runs = [
        {"name": "killed", "parameters": {"lora_rank": 16}, "time": "0:22:00"},
        {"name": "several", "parameters": {"lora_rank": 8, "epochs": 1}, "time": "0:04:00"},
        {"name": "running", "parameters": {"lora_rank": 32}},
        {"name": "oom", "parameters": {"lora_rank": 8, "epochs": 1}},
        {"name": "missing", "parameters": {"lora_rank": 64}},
        {"name": "base", "type": "control"},
    ]
    log = time_estimate("2025-10-22 14:00:00", 15.0, "fine-tuned", limit=21.3)
    log += time_estimate("2025-10-22 14:01:00", 4.3, "several")
    log += entry(
        "2025-10-22 14:02:00",
        "CALCULATE_EVAL_TIME",
        "Evaluation time estimate",
        Input="eval_s=210",
        Calculation="eval_min = eval_s / 60 = 3.5",
        Result="About 4 minutes per evaluation",
        Estimate="eval_min = 3.50 min per run",
    )
    log += entry(
        "2025-10-22 14:03:00",
        "CALCULATE_DISK",
        "Checkpoint space",
        Result="About 40 GiB for 4 runs",
        Estimate="need_gib = 40.00 GiB",
    )
    write_experiment(exp, plan(exp, runs, epochs=2, eval_time="0:05:00"), log)
    add_output(exp, "killed", OUTCOME / "killed/slurm-123.out", 123)
    add_output(exp, "several", OUTCOME / "several/slurm-200.out", 200)
    add_output(exp, "several", OUTCOME / "several/slurm-201.out", 201)
    add_output(exp, "running", OUTCOME / "running/slurm-300.out", 300)
    add_output(exp, "oom", OUTCOME / "several/slurm-200.out", 250)
    add_output(exp, "several", OUTCOME / "eval-done/slurm-401.out", 401, where="eval/cap_epoch0")
    add_output(exp, "killed", OUTCOME / "eval-killed/slurm-402.out", 402, where="eval/cap_epoch1")
    (exp / "base").mkdir()
    return exp


def test_every_verdict_of_the_hand_written_runs(handwritten):
    report = read_outcome(handwritten)
    time = lines_by_run(report, "time")
    killed = time["killed"]
    assert (killed.verdict, killed.actual, killed.at_least) == (UNDER, 1260.0, True)
    assert killed.detail == "killed at its time limit 0:22:00"
    assert killed.projected_ratio == pytest.approx(1890 / 900)
    several = time["several"]
    assert several.actual == 270.0 and several.ratio == pytest.approx(270 / 258)
    assert (several.verdict, several.detail) == (UNDER, "would have hit compute.time 0:04:00")
    assert "the newest of 2 outputs (slurm-200.out, slurm-201.out)" in several.source
    assert time["running"].verdict == RUNNING and time["running"].ratio is None
    assert time["running"].text() == "running: estimated 15.00 min, actual unknown: still running"
    assert time["oom"].verdict == NOT_COMPARED and "out of memory" in time["oom"].detail
    assert (
        time["missing"].verdict == NOT_FOUND and "no directory missing/" in time["missing"].source
    )
    assert "base" not in time  # a control run: no training time estimate covers it
    evals = lines_by_run(report, "eval-time")
    assert evals["several/eval/cap_epoch0"].verdict == WITHIN
    assert evals["several/eval/cap_epoch0"].actual == 210.25
    assert evals["killed/eval/cap_epoch1"].verdict == UNDER
    assert evals["killed/eval/cap_epoch1"].detail == "killed at its time limit 0:05:00"
    for name in ("running", "oom", "missing", "base"):
        assert evals[f"{name}/eval"].verdict == NOT_FOUND
    disk = report.check("disk").lines[0]
    assert disk.verdict == RUNNING  # a run is still going: the space used is not final


def test_a_completed_run_within_its_limit_and_an_edited_margin(tmp_path):
    exp = tmp_path / "one_2025-10-22"
    runs = [{"name": "r8", "parameters": {"lora_rank": 8, "epochs": 2}, "time": "0:01:00"}]
    log = time_estimate("2025-10-22 14:00:00", 0.1, "r8")  # 6 s; the run took 6 s by tqdm
    write_experiment(exp, plan(exp, runs, epochs=2), log)
    add_output(exp, "r8", DATA / "torchtune/slurm-1001.out", 1001)
    line = read_outcome(exp).check("time").lines[0]
    assert (line.verdict, line.actual, line.ratio) == (WITHIN, 6.0, 1.0)
    # a later estimate of 4.8 s: 6 s is 1.25 x, the edge of the default margin
    with open(exp / "design-experiment.log", "a") as log:
        log.write(time_estimate("2025-10-22 14:05:00", 0.08, "r8"))
    line = read_outcome(exp).check("time").lines[0]
    assert (line.verdict, line.ratio) == (WITHIN, pytest.approx(1.25))
    assert read_outcome(exp, margin=(0.8, 1.2)).check("time").lines[0].verdict == UNDER


def test_disk_is_what_du_counts(handwritten):
    for name in ("running",):
        shutil.rmtree(handwritten / name)
    (handwritten / "oom" / "big.bin").write_bytes(b"x" * 300_000)
    os.link(handwritten / "oom" / "big.bin", handwritten / "oom" / "same.bin")
    os.symlink("/usr", handwritten / "oom" / "elsewhere")
    report = read_outcome(handwritten)
    disk = report.check("disk").lines[0]
    du = subprocess.run(["du", "-s", "-B1", str(handwritten)], capture_output=True, text=True)
    assert disk.actual == int(du.stdout.split()[0]) == disk_usage([handwritten])
    assert disk.verdict == OVER and disk.text().startswith(
        "experiment: estimated 40.00 GiB, actual "
    )


def test_upstream_layout_and_runs_root(tmp_path):
    exp = tmp_path / "up_2025-10-22"
    elsewhere = tmp_path / "scratch_runs"
    runs = [
        {"name": "r8", "parameters": {"lora_rank": 8, "epochs": 1}, "time": "0:10:00"},
    ]
    write_experiment(exp, plan(exp, runs), time_estimate("2025-10-22 14:00:00", 4.5, "r8"))
    # upstream's finetune.slurm: --output=<OUTPUT_DIR>slurm-%j.out, OUTPUT_DIR = {run}/artifacts/
    add_output(exp, "r8", OUTCOME / "several/slurm-201.out", 201, where="artifacts")
    add_output(exp, "r8", OUTCOME / "eval-done/slurm-401.out", 402, where="artifacts/epoch_0")
    line = read_outcome(exp).check("time").lines[0]
    assert (line.actual, line.verdict) == (270.0, WITHIN)
    assert "r8/artifacts/slurm-201.out" in line.source
    elsewhere.mkdir()
    with pytest.raises(OutcomeError):
        read_outcome(exp, runs_root=tmp_path / "nope")
    assert read_outcome(exp, runs_root=elsewhere).check("time").lines[0].verdict == NOT_FOUND
    add_output(elsewhere, "r8", OUTCOME / "several/slurm-201.out", 201)
    moved = read_outcome(exp, runs_root=elsewhere).check("time").lines[0]
    assert moved.actual == 270.0 and str(elsewhere / "r8" / "slurm-201.out") in moved.source


# -- SLURM accounting ------------------------------------------------------------------------
def fake_sacct(tmp_path: Path, rows: list[str]):
    """A ``sacct`` on PATH that prints ``rows`` (sacct -P -n lines) and keeps its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "sacct.out").write_text("".join(row + "\n" for row in rows))
    script = bin_dir / "sacct"
    args, answer = tmp_path / "sacct.args", tmp_path / "sacct.out"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {args}\ncat {answer}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("SLURM_CONF", None)
    return functools.partial(subprocess.run, env=env)


def test_sacct_finds_jobs_by_the_run_name(real, tmp_path):
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    shutil.move(real / "drift" / "slurm-1.out", workdir / "slurm-1.out")
    (real / "drift").rmdir()
    runner = fake_sacct(
        tmp_path,
        [
            f"1|drift|COMPLETED|0:0|00:00:19|{workdir}",
            f"4|timeout|TIMEOUT|0:0|00:01:26|{real / 'timeout'}",
            "9|gone|RUNNING|0:0|00:03:00|/nowhere",
            "7|gone|FAILED|1:0|00:00:03|/nowhere",
        ],
    )
    report = read_outcome(real, sacct=True, runner=runner)
    args = (tmp_path / "sacct.args").read_text().split("\n")
    assert args[args.index("--name") + 1] == "drift,slow,newline,timeout,gone"
    assert args[args.index("--starttime") + 1] == "2025-10-22"
    time = lines_by_run(report, "time")
    assert time["drift"].actual == 19.0  # SLURM's start to end, found through accounting
    assert "sacct Elapsed of job 1" in time["drift"].source
    assert time["timeout"].actual == 86.0 and time["timeout"].verdict == UNDER
    assert time["gone"].verdict == RUNNING  # job 9, the newest of its name, has not ended
    assert time["slow"].actual == 18.0  # not in accounting: tqdm's counters


def test_sacct_that_cannot_answer_is_one_line(real, tmp_path):
    runner = functools.partial(subprocess.run, env={"PATH": str(tmp_path)})
    with pytest.raises(DesignLogError) as info:
        read_outcome(real, sacct=True, runner=runner)
    assert "\n" not in str(info.value) and "sacct" in str(info.value)


# -- the log's side ------------------------------------------------------------------------
def command_for(experiment: Path):
    return lambda key: f"designlog outcome {experiment} --check {key}"


def test_check_entries_append_only_what_changed(handwritten):
    log = DesignLog(handwritten)
    first = check_entries(read_outcome(handwritten), log.entries, command_for(handwritten))
    assert [check_key(e) for e in first] == ["time", "eval-time", "disk"]
    log.append_many(first)
    written = read_log(handwritten).entries
    assert [e.action for e in written[-3:]] == ["CHECK_ESTIMATE"] * 3
    report = read_outcome(handwritten)
    for e in written[-3:]:
        assert e.get("Result") == result_for(report, check_key(e))
        assert e.get("Command") == f"designlog outcome {handwritten} --check {check_key(e)}"
    time_entry = written[-3]
    assert time_entry.get("Warning").startswith("UNDER-ESTIMATED: killed (killed at its time")
    assert "killed/slurm-123.out" in time_entry.get("Source")
    assert parse(render_all(written)).entries == written

    assert (
        check_entries(
            read_outcome(handwritten), read_log(handwritten).entries, command_for(handwritten)
        )
        == []
    )

    # the missing run finishes: only the time check says something new
    add_output(handwritten, "missing", OUTCOME / "several/slurm-201.out", 501)
    again = check_entries(
        read_outcome(handwritten), read_log(handwritten).entries, command_for(handwritten)
    )
    assert [check_key(e) for e in again] == ["time"]
    assert "missing: estimated 15.00 min, actual 4.50 min (0.30 x): over-estimated" in again[0].get(
        "Result"
    )


def test_result_for_an_unknown_key_is_one_line(handwritten):
    with pytest.raises(OutcomeError, match="no 'speed' estimate"):
        result_for(read_outcome(handwritten), "speed")


# -- bad input -------------------------------------------------------------------------------
def _one_line_error(path, match, **kwargs):
    with pytest.raises(DesignLogError, match=match) as info:
        read_outcome(path, **kwargs)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, OutcomeError)


def test_bad_input_is_one_line(handwritten, tmp_path):
    _one_line_error(tmp_path / "nope", "no such experiment directory")
    _one_line_error(handwritten, "a margin must hold 1", margin=(1.1, 1.3))

    no_log = tmp_path / "no_log"
    shutil.copytree(handwritten, no_log)
    (no_log / "design-experiment.log").unlink()
    _one_line_error(no_log, "no design log")

    no_plan = tmp_path / "no_plan"
    shutil.copytree(handwritten, no_plan)
    (no_plan / "experiment_summary.yaml").unlink()
    _one_line_error(no_plan, "no experiment_summary.yaml")

    edited = tmp_path / "edited"
    shutil.copytree(handwritten, edited)
    plan_file = edited / "experiment_summary.yaml"
    plan_file.write_text(plan_file.read_text() + "runs: [: bad\n")
    _one_line_error(edited, "YAML syntax error")

    plan_file.write_text(
        plan_file.read_text()
        .replace("runs: [: bad\n", "")
        .replace("name: killed", "name: ../killed")
    )
    _one_line_error(edited, "path characters")

    nothing = tmp_path / "nothing"
    shutil.copytree(handwritten, nothing)
    log = nothing / "design-experiment.log"
    log.write_text(log.read_text() + time_estimate("2025-10-22 15:00:00", 5.0, "r99"))
    _one_line_error(nothing, "covers r99, which no run")

    bare = tmp_path / "bare"
    shutil.copytree(handwritten, bare)
    (bare / "design-experiment.log").write_text(
        entry("2025-10-22 14:00:00", "START_DESIGN", "Starting", Result="Log started")
    )
    _one_line_error(bare, "no estimate to check")
