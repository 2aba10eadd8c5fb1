"""Calibration across experiments: a tree of experiments whose runs' actual/estimated ratios
are known, the factor that covers 90% of them, groups, ``like``, the fixed 1.5, and the factor
named in a real ``%%log_calc``'s ``Input:``."""

from __future__ import annotations

import json
import math
import pickle
import shutil

import pytest

from designlog_magics._demo import build_demo_data, finish_demo_runs, write_history
from designlog_magics._demo.history import FACTOR, FACTOR_1B, KILLED_AT_PACE, RATIOS
from designlog_magics.calibration import (
    Calibration,
    CalibrationError,
    calibrate,
    find_experiments,
    nearest_rank,
)
from designlog_magics.exceptions import DesignLogError
from designlog_magics.outcome import read_outcome
from designlog_magics.probes.calc import run_calculation
from tests.outcome_tree import DATA, add_output, entry, plan, write_experiment

REAL = DATA / "real_slurm"
ONE_B = "Llama-3.2-1B-Instruct"


def seconds_estimate(stamp: str, seconds: float, covers: str) -> str:
    return entry(
        stamp,
        "CALCULATE_TIME",
        "Training time estimate",
        Result=f"About {seconds:.0f} s per run",
        Estimate=f"total_s = {seconds:.2f} s per run",
        Covers=covers,
    )


def real_seconds(name: str) -> float:
    """What the real job's training loops took, checkpoint pauses included (its truth)."""
    truth = json.loads((REAL / f"{name}.truth.json").read_text())
    return truth["train_seconds"] + sum(truth["pause_seconds"])


# Each run: (experiment, run, output, job id, true seconds it took (or needed, at its pace,
# for a run killed at its limit), the ratio it is given, plan epochs, plan model, how far
# tqdm's counters may be from the truth: under a second per epoch's bar, whole seconds
# rounded down, times planned / done steps for a run counted at its pace).
TREE = [
    ("exp_a", "drift", REAL / "drift.out", 1, real_seconds("drift"), 1.10, 2, ONE_B, 2),
    ("exp_a", "drift2", REAL / "drift.out", 11, real_seconds("drift"), 0.90, 2, ONE_B, 2),
    ("exp_a", "slow", REAL / "slow.out", 2, real_seconds("slow"), 1.30, 1, ONE_B, 1),
    ("exp_a", "slow2", REAL / "slow.out", 12, real_seconds("slow"), 1.15, 1, ONE_B, 1),
    ("exp_a", "newline", REAL / "newline.out", 3, real_seconds("newline"), 0.95, 2, ONE_B, 2),
    # killed at 167 of 1,000 steps, each 0.504 s: it needed 504 s
    ("exp_a", "timeout", REAL / "timeout.out", 4, 84.196 / 167 * 1000, 1.68, 1, ONE_B, 6),
    ("exp_b", "r8", DATA / "torchtune/slurm-1001.out", 1001, 6.0, 1.20, 2, ONE_B, 2),
    ("exp_b", "r8b", DATA / "outcome/several/slurm-201.out", 201, 270.0, 1.05, 1, ONE_B, 1),
    # killed after 8 of 12 steps in 1,260 s: at that pace 1,890 s
    ("exp_b", "r16", DATA / "outcome/killed/slurm-123.out", 123, 1890.0, 1.575, 2, ONE_B, 1),
    ("exp_c", "full8b", DATA / "torchtune/slurm-2002.out", 2002, 47.0, 1.40, 1,
     "Llama-3.1-8B-Instruct", 1),
    # killed after 6 of 3 x 4 steps, 12 s by tqdm: 24 s at that pace
    ("exp_c", "qwen", DATA / "torchtune/slurm-3003.out", 3003, 24.0, 1.20, 3,
     "Qwen2.5-0.5B-Instruct", 4),
]  # fmt: skip


@pytest.fixture
def tree(tmp_path):
    """The experiments of TREE under tmp_path/scratch/ck-projects/p/, and three that must be
    skipped: one without a plan, one whose runs never ran, one with no time estimate."""
    root = tmp_path / "scratch"
    projects = root / "ck-projects" / "p"
    for name in ("exp_a", "exp_b", "exp_c"):
        rows = [r for r in TREE if r[0] == name]
        directory = projects / f"{name}_2025-10-01"
        models = tuple(dict.fromkeys(r[7] for r in rows))
        runs = [
            {"name": r[1], "model": r[7], "parameters": {"lora_rank": 8, "epochs": r[6]}}
            for r in rows
        ]
        log = "".join(seconds_estimate("2025-10-01 10:00:00", r[4] / r[5], r[1]) for r in rows)
        write_experiment(directory, plan(directory, runs, models=models, epochs=3), log)
        for r in rows:
            add_output(directory, r[1], r[2], r[3])
    lonely = root / "lonely_2025-09-01"
    lonely.mkdir(parents=True)
    (lonely / "design-experiment.log").write_text(seconds_estimate("2025-09-01 10:00:00", 60, "x"))
    waiting = projects / "waiting_2025-10-20"
    write_experiment(
        waiting,
        plan(waiting, [{"name": "r1"}]),
        seconds_estimate("2025-10-20 10:00:00", 60, "fine-tuned"),
    )
    speed_only = projects / "speed_only_2025-10-21"
    write_experiment(
        speed_only,
        plan(speed_only, [{"name": "r1"}]),
        entry("2025-10-21 10:00:00", "EXTRACT_SPEED", "Speed", Result="Throughput after "
              "warmup: 2.00 it/s (x)"),
    )  # fmt: skip
    add_output(speed_only, "r1", REAL / "slow.out", 2)
    return root


def test_nearest_rank():
    assert nearest_rank([3.0, 1.0, 2.0]) == 3.0  # fewer than ten: the largest
    assert nearest_rank([float(i) for i in range(1, 11)]) == 9.0
    assert nearest_rank([float(i) for i in range(1, 21)]) == 18.0
    assert nearest_rank([1.0, 2.0], 0.5) == 1.0
    with pytest.raises(ValueError):
        nearest_rank([])


def test_the_factor_of_a_tree_of_known_ratios(tree):
    report = calibrate(tree)
    counted = {(r.experiment, r.run): r for r in report.runs}
    assert len(counted) == len(TREE)
    for exp, run, _out, _job, seconds, ratio, _epochs, _model, off in TREE:
        got = counted[(f"{exp}_2025-10-01", run)].ratio
        estimate = round(seconds / ratio, 2)  # as the log has it
        assert abs(got * estimate - seconds) < off, run
    expected = nearest_rank([r[5] for r in TREE])  # the 10th of 11: the killed r16's 1.575
    assert expected == 1.575
    assert report.factor == pytest.approx(expected, rel=0.05)
    assert report.factor == pytest.approx(1890 / 1200)  # that run's figures are exact
    assert counted[("exp_b_2025-10-01", "r16")].killed
    cal = report.calibration
    assert isinstance(cal, float) and float(cal) == report.factor == cal.p90
    assert cal.count == 11
    assert cal.experiments == ("exp_a_2025-10-01", "exp_b_2025-10-01", "exp_c_2025-10-01")
    assert cal.source == (
        "p90 of actual/estimated over 11 runs in 3 experiments: "
        "exp_a_2025-10-01, exp_b_2025-10-01, exp_c_2025-10-01"
    )
    assert cal.median == pytest.approx(sorted(r[5] for r in TREE)[5], rel=0.05)
    skipped = dict(report.skipped)
    assert skipped["lonely_2025-09-01"].startswith("no experiment_summary.yaml")
    assert skipped["ck-projects/p/waiting_2025-10-20"] == (
        "no finished run with a time: r1 not found"
    )
    assert "no training time estimate" in skipped["ck-projects/p/speed_only_2025-10-21"]


def test_groups_by_model_and_recipe(tree):
    groups = {(g.model, g.recipe): g for g in calibrate(tree).groups}
    assert sorted((key, g.count) for key, g in groups.items()) == [
        (("Llama-3.1-8B-Instruct", "FullFinetuneRecipeDistributed"), 1),
        ((ONE_B, "LoRAFinetuneRecipeSingleDevice"), 3),
        ((ONE_B, "unknown recipe"), 6),  # the real outputs print no resolved config
        (("Qwen2.5-0.5B-Instruct", "LoRAFinetuneRecipeSingleDevice"), 1),
    ]
    lora = groups[(ONE_B, "LoRAFinetuneRecipeSingleDevice")]
    assert lora.median == pytest.approx(1.20, rel=0.05)
    assert lora.p90 == pytest.approx(1.575)
    real = groups[(ONE_B, "unknown recipe")]
    assert real.p90 == pytest.approx(1.68, rel=0.05)  # six runs: the largest
    assert real.median == pytest.approx((1.10 + 1.15) / 2, rel=0.05)


def test_like_keeps_runs_like_the_plan(tree):
    one_b = calibrate(tree, like={"model": ONE_B})
    assert len(one_b.runs) == 9 and {r.model for r in one_b.runs} == {ONE_B}
    assert one_b.calibration.source.endswith(f"like model {ONE_B}")
    unlike = dict(one_b.unlike)
    assert unlike["exp_c_2025-10-01/full8b"] == f"model Llama-3.1-8B-Instruct vs {ONE_B}"

    lora = calibrate(tree, like={"recipe": "lora_finetune_single_device"})
    assert sorted(r.run for r in lora.runs) == ["qwen", "r16", "r8", "r8b"]
    assert "recipe unknown" in dict(lora.unlike)["exp_a_2025-10-01/drift"]

    batch = calibrate(tree, like={"batch_size": "4"})  # config, else the plan's controls
    assert "qwen" not in {r.run for r in batch.runs}  # its resolved config: batch_size 8
    assert "full8b" not in {r.run for r in batch.runs}  # batch_size 2
    assert {"drift", "newline", "r8", "r8b", "r16"} <= {r.run for r in batch.runs}
    assert dict(batch.unlike)["exp_c_2025-10-01/full8b"] == "batch_size 2 vs 4"

    for like, message in [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"batch_size": "four"}, "must be a whole number"),
        ({"model": "Gemma-2-2B"}, "nothing to calibrate from"),
    ]:
        with pytest.raises(DesignLogError, match=message) as info:
            calibrate(tree, like=like)
        assert "\n" not in str(info.value) and isinstance(info.value, CalibrationError)


def test_the_fixed_factor_against_the_calibration(tree):
    report = calibrate(tree)
    assert report.fixed_covered == 9  # all but 1.575 and 1.68
    assert report.fixed_verdict().startswith("1.5 would have covered 9 of 11 runs (82%): too tight")
    loose = calibrate(tree, like={"recipe": "LoRAFinetuneRecipeSingleDevice", "batch_size": 4})
    assert [round(r.ratio, 2) for r in loose.runs] == [1.2, 1.05, 1.57]
    assert loose.factor == pytest.approx(1.575) and loose.fixed_covered == 2


def test_views(tree):
    report = calibrate(tree)
    text = report.render()
    assert "Recommended factor: 1.57" in text and "Skipped:" in text
    assert "exp_b_2025-10-01/r16: 1.57 (killed at its time limit: at its pace)" in text
    data = json.loads(json.dumps(report.as_dict()))
    assert data["count"] == 11 and data["factor"] == pytest.approx(1.575)
    assert len(data["groups"]) == 4 and len(data["skipped"]) == 3
    line = report.result_text()
    assert "\n" not in line
    assert line.startswith("Factor 1.57: p90 of actual/estimated over 11 runs in 3 experiments")
    assert "1.5 would have covered 9 of 11 runs (82%): too tight" in line


def test_nothing_to_calibrate_is_one_line(tmp_path):
    with pytest.raises(CalibrationError, match="no such directory"):
        calibrate(tmp_path / "nope")
    with pytest.raises(CalibrationError, match="nothing to calibrate from") as info:
        calibrate(tmp_path)
    assert "\n" not in str(info.value)


def test_find_experiments_stops_at_each_experiment(tree):
    found = [p.relative_to(tree).as_posix() for p in find_experiments(tree)]
    assert found == [
        "ck-projects/p/exp_a_2025-10-01",
        "ck-projects/p/exp_b_2025-10-01",
        "ck-projects/p/exp_c_2025-10-01",
        "ck-projects/p/speed_only_2025-10-21",
        "ck-projects/p/waiting_2025-10-20",
        "lonely_2025-09-01",
    ]


# -- the demo's past, and its experiment after the runs ---------------------------------------
def test_demo_history_gives_its_stated_factors(tmp_path):
    facts = write_history(tmp_path)
    assert [round(r.ratio, 2) for r in facts.runs if not r.written.killed] == [
        round(ratio, 2) for ratio in RATIOS.values() if ratio is not None
    ]
    report = calibrate(tmp_path)
    assert report.factor == pytest.approx(FACTOR) == pytest.approx(facts.factor())
    assert report.calibration.median == pytest.approx(1.195)
    assert report.fixed_covered == 11 and "too loose" in report.fixed_verdict()
    killed = [r for r in report.runs if r.killed]
    assert [r.run for r in killed] == ["3B_r16"]
    assert killed[0].ratio == pytest.approx(KILLED_AT_PACE)
    one_b = calibrate(tmp_path, like={"model": ONE_B})
    assert one_b.factor == pytest.approx(FACTOR_1B) == pytest.approx(facts.factor(ONE_B))
    assert one_b.calibration.median == pytest.approx(1.165)
    assert one_b.fixed_covered == 10
    assert {(g.model, g.recipe, g.count) for g in report.groups} == {
        (ONE_B, "LoRAFinetuneRecipeSingleDevice", 10),
        ("Llama-3.2-3B-Instruct", "LoRAFinetuneRecipeSingleDevice", 2),
    }


def test_demo_experiment_after_its_runs(tmp_path):
    """The demo's plan (r8, r16, r32, base; the limit from the calibration), its runs written
    by finish_demo_runs, and the outcome's verdicts as finished.py states them."""
    demo = build_demo_data(tmp_path / "demo")
    factor = calibrate(demo.scratch_dir, like={"model": ONE_B}).calibration
    assert float(factor) == pytest.approx(FACTOR_1B)
    exp = demo.scratch_dir / "cap_8L_lora_comparison_2025-10-22"
    estimate = 2 * 2000 / 4.34 / 60
    limit = math.ceil(estimate * factor)
    runs = [
        {"name": f"r{rank}", "parameters": {"lora_rank": rank}, "time": f"0:{limit:02d}:00"}
        for rank in (8, 16, 32)
    ] + [{"name": "base", "type": "control"}]
    log = entry(
        "2025-10-22 09:30:00",
        "CALCULATE_TIME",
        "Training time estimate",
        Result=f"Estimated {estimate:.0f} minutes per run",
        Estimate=f"total_min = {estimate:.2f} min per run",
        Limit=f"slurm_min = {estimate * factor:.2f} min per run",
    )
    log += entry(
        "2025-10-22 09:31:00",
        "CALCULATE_EVAL_TIME",
        "Evaluation time estimate",
        Result="About 4 minutes per evaluation",
        Estimate="eval_min = 4.18 min per run",
    )
    write_experiment(exp, plan(exp, runs, epochs=2), log)
    finished = finish_demo_runs(exp)
    report = read_outcome(exp)
    time = {line.run: line for line in report.check("time").lines}
    for name in ("r8", "r16", "r32"):
        run = finished.run(name)
        assert time[name].verdict == run.verdict, name
        assert time[name].actual == run.actual_seconds, name
    assert finished.run("r8").ratio == pytest.approx(1.06, abs=0.005)
    assert finished.run("r32").ratio == pytest.approx(0.50, abs=0.005)
    assert time["r16"].detail == f"killed at its time limit 0:{limit:02d}:00"
    assert finished.run("r16").written.killed and finished.run("r16").eval_path is None
    evals = {line.run: line for line in report.check("eval-time").lines}
    assert evals["r8/eval/capitalization_epoch1"].verdict == "within the margin"
    assert evals["base/eval/capitalization"].actual == finished.run("base").eval_seconds
    assert evals["r16/eval"].verdict == "not found"


# -- the factor in a calculation's Input ---------------------------------------------------
def demo_calibration(tmp_path) -> Calibration:
    write_history(tmp_path / "scratch")
    return calibrate(tmp_path / "scratch").calibration


SOURCE = (
    "p90 of actual/estimated over 12 runs in 2 experiments: "
    "cap_4L_lora_lr_sweep_2025-09-12, cap_6L_lora_rank_sweep_2025-10-02"
)


def test_calibration_is_a_float_that_names_its_source(tmp_path):
    cal = demo_calibration(tmp_path)
    assert cal.source == SOURCE and cal * 10 == pytest.approx(13.6)
    again = pickle.loads(pickle.dumps(cal))
    assert (float(again), again.source, again.count) == (float(cal), cal.source, 12)
    facts = run_calculation(
        "estimate_min = 15.36  # min\nsafety = calibration\nlimit_min = estimate_min * safety"
        "  # min\n",
        {"calibration": cal},
    )
    assert facts.input_text() == f"estimate_min=15.36min, safety=1.36 ({SOURCE})"
    assert facts.calculation_text() == "limit_min = estimate_min * safety ≈ 20.89min"


def test_log_calc_in_a_real_shell_names_the_factors_source(ip, resources, tmp_path):
    r = resources
    ip.run_line_magic(
        "designlog",
        f"start {r['experiment']} --paths models_dir={r['models']} repo_dir={r['repo']} "
        f"scratch_dir={r['scratch']} --no-panel",
    )
    ip.user_ns["calibration"] = demo_calibration(tmp_path)
    entry_written = ip.run_cell_magic(
        "log_calc",
        '"Time limit" --result "Ask for {limit_min:.0f} minutes"',
        "estimate_min = 15.36  # min\nsafety = calibration\nlimit_min = estimate_min * safety"
        "  # min\n",
    )
    assert entry_written.get("Input") == f"estimate_min=15.36min, safety=1.36 ({SOURCE})"
    assert entry_written.get("Result") == "Ask for 21 minutes"
    from designlog_magics import read_log

    assert read_log(r["experiment"]).entries[-1].get("Input") == entry_written.get("Input")
    shutil.rmtree(tmp_path / "scratch")
