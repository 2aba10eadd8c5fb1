"""%log_search and %log_speed in a real IPython shell, on outputs SLURM itself wrote."""

from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError

from designlog_magics import read_log

# one worker runs every test of the one cluster (make test runs pytest-xdist)
pytestmark = pytest.mark.slurm


@pytest.fixture
def shell(ip, slurm_env, slurm_runs, tmp_path):
    ip.run_line_magic(
        "designlog", f"start {tmp_path / 'exp'} --paths scratch_dir={slurm_runs.scratch} --no-panel"
    )
    return ip


def logged_speed(entry) -> float:
    return float(
        re.search(
            r"(?:Throughput|Average speed) after warmup: ([0-9.]+) it/s", entry.get("Result")
        ).group(1)
    )


def test_search_finds_exactly_the_runs_slurm_wrote(shell, slurm_runs):
    entry = shell.run_line_magic(
        "log_search", "{scratch_dir} --path '*/ck-out-*' --min-size +0 -o found"
    )
    expected = sorted(
        str(r.output)
        for r in slurm_runs.runs.values()
        if r.output.parent.name.startswith("ck-out-")
    )
    assert sorted(shell.user_ns["found"]) == expected
    assert entry.get("Command") == (
        'find {scratch_dir} -name "slurm-*.out" -path "*/ck-out-*" -size +0'
    )
    for run in ("fast", "medium", "slow", "broken", "cancelled"):
        assert f"ck-out-{run}" in entry.get("Result")


@pytest.mark.parametrize("run", ["fast", "medium", "slow", "sweep_1"])
def test_speed_from_the_output_file_matches_the_speed_the_job_was_given(shell, slurm_runs, run):
    job = slurm_runs[run]
    entry = shell.run_line_magic("log_speed", f"{job.output} -o speed")
    assert not entry.failed
    assert logged_speed(entry) == pytest.approx(job.it_per_s, rel=0.05)
    assert shell.user_ns["speed"] == pytest.approx(job.it_per_s, rel=0.05)
    assert entry.get("Command").startswith("designlog speed {scratch_dir}/")


def test_speed_by_job_id_resolves_the_output_through_the_scheduler(shell, slurm_runs):
    job = slurm_runs["logs"]  # its output is not slurm-<id>.out: sbatch -o logs/%x-%j.out
    entry = shell.run_line_magic("log_speed", job.job_id)
    assert logged_speed(entry) == pytest.approx(job.it_per_s, rel=0.05)
    assert entry.get("Command").endswith(f"/logs/{job.output.name}")
    assert entry.get("Command").startswith("designlog speed ")


def test_failed_job_is_a_logged_failure(shell, slurm_runs):
    entry = shell.run_line_magic("log_speed", str(slurm_runs["broken"].output))
    assert entry.failed and "no training progress" in entry.get("Error")


def test_sacct_search_lists_runs_and_keeps_failures_apart(shell, slurm_runs, tmp_path):
    since = slurm_runs.since.strftime("%Y-%m-%dT%H:%M:%S")
    entry = shell.run_line_magic("log_search", f"--sacct --since {since} -o jobs")
    result = entry.get("Result")
    usable, _, unusable = result.partition("not used for estimates")
    assert f"{slurm_runs['fast'].job_id} " in usable and "COMPLETED" in usable
    assert f"{slurm_runs['broken'].job_id} " in unusable and "FAILED" in unusable
    assert "CANCELLED" in unusable
    assert entry.get("Command").startswith("sacct -X -P -n --format=")
    jobs = shell.user_ns["jobs"]
    assert all(j.state == "COMPLETED" for j in jobs)
    fast = next(j for j in jobs if j.job_id == slurm_runs["fast"].job_id)
    # measured wall time from accounting feeds a calculation
    shell.user_ns["fast_elapsed"] = fast.elapsed_seconds
    calc = shell.run_cell_magic(
        "log_calc",
        '"Time from accounting" --result "{est_s} s"',
        "elapsed = fast_elapsed  # s\nest_s = elapsed * 2  # s\n",
    )
    assert calc.get("Input") == f"elapsed={fast.elapsed_seconds}s"
    assert [e.action for e in read_log(tmp_path / "exp").entries][-2:] == [
        "SEARCH_PRIOR_RUNS",
        "CALCULATE_TIME",
    ]


def test_without_slurm_the_sacct_forms_fail_with_one_line(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    ip.run_line_magic("designlog", f"start {tmp_path / 'exp'} --no-panel")
    with pytest.raises(UsageError, match="SLURM accounting is not available"):
        ip.run_line_magic("log_search", "--sacct")
    with pytest.raises(UsageError, match="job 123"):
        ip.run_line_magic("log_speed", "123")
