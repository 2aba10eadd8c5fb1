"""The accounting probe against a real single-node SLURM cluster and real tqdm output."""

from __future__ import annotations

import datetime as dt
import functools
import re
import shlex
import subprocess
import time

import pytest

from designlog_magics.probes.slurm import (
    OutputNotFound,
    SlurmUnavailable,
    ensure_slurm,
    parse_elapsed,
    query_jobs,
    resolve_output,
    slurm_available,
)

# one worker runs every test of the one cluster (make test runs pytest-xdist)
pytestmark = pytest.mark.slurm

TRAINING_RUNS = ("fast", "medium", "slow", "broken", "cancelled", "logs")
COMPLETED_RUNS = ("fast", "medium", "slow", "logs", "sweep_1", "sweep_2")
# a tqdm refresh: "EPOCH|STEP|Loss: X:  NN%|bar| n/total [elapsed<left,  rate]"
BAR_RE = re.compile(
    r"(?P<epoch>\d+)\|(?P<step>\d+)\|Loss: (?P<loss>[0-9.]+):\s+\d+%\|[^|]*\| "
    r"(?P<n>\d+)/(?P<total>\d+) \[[0-9:]+<[0-9:?]+,\s+(?P<rate>[0-9.]+)(?P<unit>it/s|s/it)\]"
)


def _forgetful(runner):
    """A runner for which scontrol has forgotten every job, as after MinJobAge."""

    def run(argv, **kwargs):
        if argv[0] == "scontrol":
            return subprocess.CompletedProcess(
                argv, 1, "", "slurm_load_jobs error: Invalid job id specified\n"
            )
        return runner(argv, **kwargs)

    return run


def _rates(text: str) -> list[float]:
    """it/s of every bar refresh in the text (s/it turned into it/s)."""
    rates = []
    for m in BAR_RE.finditer(text):
        rate = float(m["rate"])
        rates.append(rate if m["unit"] == "it/s" else 1.0 / rate)
    return rates


def test_cluster_answers(slurm_cluster):
    assert slurm_available(runner=slurm_cluster.runner)
    ensure_slurm(runner=slurm_cluster.runner)
    node = slurm_cluster.run("sinfo", "-h", "-o", "%t").stdout.split()
    assert node and node[0] in {"idle", "mix", "alloc"}


@pytest.mark.parametrize("conf", ["unset", "missing"])
def test_without_a_configuration_accounting_is_unavailable(slurm_cluster, conf):
    env = {k: v for k, v in slurm_cluster.env.items() if k != "SLURM_CONF"}
    if conf == "missing":
        env["SLURM_CONF"] = str(slurm_cluster.state_dir / "no-such.conf")
    runner = functools.partial(subprocess.run, env=env)
    started = time.monotonic()
    assert not slurm_available(runner=runner)
    with pytest.raises(SlurmUnavailable) as info:
        query_jobs(runner=runner)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert message.startswith("SLURM accounting is not available on this machine: ")
    assert ("SLURM_CONF" in message) and "\n" not in message


def test_runs_ended_as_planned(slurm_runs):
    assert {r.run: r.final_state for r in slurm_runs.runs.values()} == {
        r.run: r.expected_state for r in slurm_runs.runs.values()
    }


def test_query_jobs_finds_the_runs_with_their_states(slurm_runs, slurm_cluster):
    query = query_jobs(name="train", since=slurm_runs.since, runner=slurm_cluster.runner)
    assert query.command.startswith("sacct -X -P -n --format=JobID,JobName,State,")
    assert "--name train" in query.command
    by_id = {job.job_id: job for job in query.jobs}
    expected = {slurm_runs[r].job_id: slurm_runs[r].expected_state for r in TRAINING_RUNS}
    assert {jid: job.state for jid, job in by_id.items()} == expected
    assert {j.job_id for j in query.usable} == {
        slurm_runs[r].job_id for r in ("fast", "medium", "slow", "logs")
    }
    assert {j.job_id for j in query.unusable} == {
        slurm_runs[r].job_id for r in ("broken", "cancelled")
    }
    assert query.timed_out == ()
    broken = by_id[slurm_runs["broken"].job_id]
    assert broken.exit_code == "1:0"
    for run in TRAINING_RUNS:
        assert by_id[slurm_runs[run].job_id].workdir == str(slurm_runs[run].workdir)
        assert by_id[slurm_runs[run].job_id].name == "train"

    summary = query.summary()
    assert summary.startswith("Found 6 prior runs in accounting: ")
    assert "\n" not in summary
    head, _, tail = summary.partition("; not used for estimates: ")
    assert f"{slurm_runs['fast'].job_id} train (COMPLETED, " in head
    assert f"{slurm_runs['broken'].job_id} train (FAILED, " in tail
    assert f"{slurm_runs['cancelled'].job_id} train (CANCELLED, " in tail


def test_query_jobs_filters_by_name_and_includes_array_tasks(slurm_runs, slurm_cluster):
    sweep = query_jobs(name="sweep", since=slurm_runs.since, runner=slurm_cluster.runner)
    assert sorted(j.job_id for j in sweep.jobs) == sorted(
        slurm_runs[r].job_id for r in ("sweep_1", "sweep_2")
    )
    assert all(j.usable for j in sweep.jobs)
    everything = query_jobs(since=slurm_runs.since, runner=slurm_cluster.runner)
    # other modules' jobs may have run in the same window: keep those of slurm_runs' tree
    ours = {j.job_id for j in everything.jobs if j.workdir.startswith(f"{slurm_runs.scratch}/")}
    assert ours == set(slurm_runs.job_ids.values())
    nothing = query_jobs(name="no-such-run", since=slurm_runs.since, runner=slurm_cluster.runner)
    assert nothing.jobs == ()
    assert nothing.summary() == "Found no prior runs in accounting."


def test_elapsed_times_are_plausible(slurm_runs, slurm_cluster):
    query = query_jobs(since=slurm_runs.since, runner=slurm_cluster.runner)
    by_id = {job.job_id: job for job in query.jobs}
    for run in COMPLETED_RUNS:
        job = by_id[slurm_runs[run].job_id]
        assert job.elapsed_seconds == parse_elapsed(job.elapsed)
        # sacct truncates to whole seconds; Python start-up adds a little
        expected = slurm_runs[run].train_seconds
        assert expected - 1.5 <= job.elapsed_seconds <= expected + 3, (run, job)
    assert by_id[slurm_runs["broken"].job_id].elapsed_seconds <= 3
    assert by_id[slurm_runs["cancelled"].job_id].elapsed_seconds < 20


def test_query_jobs_output_path_is_the_default_file(slurm_runs, slurm_cluster):
    query = query_jobs(since=slurm_runs.since, runner=slurm_cluster.runner)
    by_id = {job.job_id: job for job in query.jobs}
    for run in slurm_runs.runs.values():
        expected = None if run.run == "logs" else str(run.output)
        assert by_id[run.job_id].output_path == expected, run.run


def test_sacct_row_agrees_with_query_jobs(slurm_runs, slurm_cluster):
    query = query_jobs(since=slurm_runs.since, runner=slurm_cluster.runner)
    by_id = {job.job_id: job for job in query.jobs}
    for run in slurm_runs.runs.values():
        row = slurm_cluster.sacct_row(run.job_id)
        job = by_id[run.job_id]
        assert (row["State"].split()[0], row["Elapsed"], row["WorkDir"]) == (
            job.state,
            job.elapsed,
            job.workdir,
        )


@pytest.mark.parametrize("forgotten", [False, True], ids=["scontrol", "accounting"])
def test_resolve_output_finds_every_output(slurm_runs, slurm_cluster, forgotten):
    runner = _forgetful(slurm_cluster.runner) if forgotten else slurm_cluster.runner
    for run in slurm_runs.runs.values():
        assert resolve_output(run.job_id, runner=runner) == str(run.output), run.run
        assert run.output.is_file()


def test_resolve_output_of_a_whole_array_asks_for_a_task(slurm_runs, slurm_cluster):
    array_id = slurm_runs["sweep_1"].job_id.split("_")[0]
    for runner in (slurm_cluster.runner, _forgetful(slurm_cluster.runner)):
        with pytest.raises(OutputNotFound, match=r"job array with tasks .*_1, .*_2"):
            resolve_output(array_id, runner=runner)


def test_resolve_output_of_an_unknown_job(slurm_cluster):
    with pytest.raises(OutputNotFound) as info:
        resolve_output("987654", runner=slurm_cluster.runner)
    message = str(info.value)
    assert "scontrol no longer knows the job" in message
    assert "sacct does not know the job" in message
    assert "\n" not in message


def test_resolve_output_when_the_file_is_gone(slurm_runs, slurm_cluster, tmp_path):
    # an #SBATCH --output inside the script is invisible to accounting
    run = slurm_runs["fast"]
    moved = tmp_path / "moved.out"
    run.output.rename(moved)
    try:
        with pytest.raises(OutputNotFound, match="give the file's path"):
            resolve_output(run.job_id, runner=_forgetful(slurm_cluster.runner))
    finally:
        moved.rename(run.output)


def test_outputs_hold_the_torchtune_style_bar(slurm_runs):
    for name in COMPLETED_RUNS:
        run = slurm_runs[name]
        text = run.output.read_bytes().decode("utf-8")
        assert "\r" in text, name
        bars = list(BAR_RE.finditer(text))
        assert bars, name
        last = bars[-1]
        assert int(last["epoch"]) == run.epochs
        assert int(last["step"]) == run.steps * run.epochs
        assert (int(last["n"]), int(last["total"])) == (run.steps, run.steps)
        assert {int(m["epoch"]) for m in bars} == set(range(1, run.epochs + 1))
        assert f"Training finished: {run.steps * run.epochs} steps" in text
        # once warmup is over, tqdm's smoothed rate comes close to the steady speed
        # (the closing refresh shows the average over the bar, warmup included)
        measured = max(_rates(text))
        assert run.it_per_s * 0.8 <= measured <= run.it_per_s * 1.02, (name, measured)
    fast = slurm_runs["fast"].output.read_bytes().decode("utf-8")
    assert "Validation: 100%" in fast
    slow = slurm_runs["slow"].output.read_bytes().decode("utf-8")
    assert re.search(r"\d\.\d\ds/it\]", slow)


def test_failed_and_cancelled_outputs(slurm_runs):
    broken = slurm_runs["broken"].output.read_bytes().decode("utf-8")
    assert "Traceback (most recent call last):" in broken
    assert "FileNotFoundError: checkpoint directory" in broken
    assert not BAR_RE.search(broken)
    cancelled = slurm_runs["cancelled"].output.read_bytes().decode("utf-8")
    bars = list(BAR_RE.finditer(cancelled))
    assert bars and int(bars[-1]["n"]) < int(bars[-1]["total"])
    assert "CANCELLED" in cancelled


def test_default_runner_with_slurm_env(slurm_env, slurm_runs):
    # what the magics do: no runner given, SLURM_CONF from the environment
    assert slurm_available()
    query = query_jobs(name="train", since=slurm_runs.since)
    assert len(query.usable) == 4 and len(query.unusable) == 2
    fast = slurm_runs["fast"]
    assert resolve_output(fast.job_id) == str(fast.output)


def test_a_glob_name_finds_the_runs_whose_names_match(slurm_cluster, tmp_path):
    # sacct --name compares whole names: the pattern is matched by the probe instead
    script = tmp_path / "quick.sbatch"
    script.write_text("#!/bin/bash\n#SBATCH --time=00:01:00\nsleep 1\n")
    since = dt.datetime.now().replace(microsecond=0) - dt.timedelta(seconds=2)
    ids = {}
    for name in ("ck-out-a", "ck-out-b", "other"):
        ids[name] = slurm_cluster.submit(script, tmp_path, f"--job-name={name}")
    for job_id in ids.values():
        slurm_cluster.wait(job_id)
        slurm_cluster.sacct_row(job_id)
    # sacct -j shows an ended job at once, a --starttime window only a little later
    # (seen: a few seconds after a long job's end): wait for the window to list all three
    deadline = time.monotonic() + 30
    while not set(ids.values()) <= {
        j.job_id for j in query_jobs(since=since, runner=slurm_cluster.runner).jobs
    }:
        assert time.monotonic() < deadline, "sacct --starttime did not list the jobs"
        time.sleep(0.5)
    raw = slurm_cluster.run(
        "sacct",
        "-X",
        "-P",
        "-n",
        "--starttime",
        since.isoformat(),
        "--name",
        "ck-out-*",
        "--format=JobID",
    )
    assert raw.stdout.strip() == ""  # what passing the pattern through found
    query = query_jobs(name="ck-out-*", since=since, runner=slurm_cluster.runner)
    assert sorted((j.job_id, j.name) for j in query.jobs) == sorted(
        (ids[n], n) for n in ("ck-out-a", "ck-out-b")
    )
    assert "--name" not in query.command
    assert query.listed is not None and query.listed >= 3
    # the logged command, run again, lists the jobs the pattern was applied to
    rerun = slurm_cluster.run(*shlex.split(query.command))
    listed = {ln.split("|")[1] for ln in rerun.stdout.splitlines() if ln}
    assert {"ck-out-a", "ck-out-b", "other"} <= listed
    assert "whose job name matches ck-out-* (names filtered by the pattern" in query.summary()
    exact = query_jobs(name="ck-out-a", since=since, runner=slurm_cluster.runner)
    assert [j.job_id for j in exact.jobs] == [ids["ck-out-a"]]
    assert "--name ck-out-a" in exact.command
