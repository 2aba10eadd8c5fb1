"""Replay on the demo's real log: every Command run by hand gives its Result, the log replays
with exit 0, and exit 1 once the dataset is gone and a new prior run has appeared; a hostile
log runs nothing."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from designlog_magics import read_log
from designlog_magics.probes.commands import CommandOutcome, summarize
from designlog_magics.probes.runs import describe_runs
from designlog_magics.probes.sizes import parse_size
from designlog_magics.replay import replay_log
from designlog_magics.session import last_bindings

BIN = str(Path(sys.executable).parent)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESIGNLOG_")}
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return env


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory) -> Path:
    """The log the demo notebook writes, run the way `make demo-headless` runs it."""
    workspace = tmp_path_factory.mktemp("replay") / "workspace"
    command = [sys.executable, "-m", "designlog_magics.demo", "run", "--workspace", str(workspace)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return next((workspace / "scratch").glob("*/design-experiment.log"))


def _bound(command: str, bindings: dict[str, str]) -> str:
    return re.sub(
        r"\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: shlex.quote(bindings[m.group(1)]), command
    )


def test_every_command_of_the_demo_log_run_by_hand_gives_its_result(demo_log):
    entries = read_log(demo_log).entries
    bindings = {**last_bindings(entries), "experiment_dir": str(demo_log.parent)}
    checked = set()
    for entry in entries:
        command, result = entry.get("Command"), entry.get("Result")
        if command is None:
            continue
        if command.startswith("Created "):
            assert Path(_bound(command.removeprefix("Created "), bindings).strip("'")).is_file()
            checked.add(entry.action)
            continue
        line = _bound(command, bindings)
        done = subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, timeout=120, env=_env()
        )
        assert done.returncode == 0, (line, done.stderr)
        if command.startswith("designlog "):
            assert done.stdout.splitlines()[0] == result, (line, done.stdout)
        elif command.startswith("find "):
            assert describe_runs(done.stdout.splitlines()) == result, line
        elif command.startswith("df -h"):
            outcome = CommandOutcome(line, 0, done.stdout, done.stderr, 0.0)
            shown = summarize(line, outcome)
            free = [parse_size(t.split()[0]) for t in (shown, result)]
            assert free[0] == pytest.approx(free[1], rel=0.05), (shown, result)
        else:
            outcome = CommandOutcome(line, 0, done.stdout, done.stderr, 0.0)
            assert summarize(line, outcome) == result, line
        checked.add(entry.action)
    assert {"VERIFY_MODEL", "VERIFY_DATASET", "SEARCH_PRIOR_RUNS", "EXTRACT_SPEED"} <= checked
    assert {"CHECK_DISK", "CREATE_SUMMARY"} <= checked


def _replay(location: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "designlog_magics", "replay", str(location), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )


def test_the_demo_log_replays_and_stands(demo_log):
    before = demo_log.read_bytes()
    done = _replay(demo_log.parent, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    status = {e["action"]: e["status"] for e in report["entries"]}
    for action in (
        "VERIFY_MODEL",
        "VERIFY_DATASET",
        "SEARCH_PRIOR_RUNS",
        "EXTRACT_SPEED",
        "CALCULATE_TIME",
        "CHECK_DISK",
        "CREATE_SUMMARY",
    ):
        assert status[action] == "reproduced", (action, report)
    assert status["DECIDE_NAMING"] == "not replayable"
    assert demo_log.read_bytes() == before  # replay never writes to the log


def test_replay_names_what_changed_once_the_dataset_is_gone_and_a_run_appeared(demo_log, tmp_path):
    workspace = demo_log.parents[2]
    copy = tmp_path / "workspace"
    shutil.copytree(workspace, copy, symlinks=True)
    log = copy / demo_log.relative_to(workspace)
    bindings = last_bindings(read_log(log).entries)
    moved = {name: value.replace(str(workspace), str(copy)) for name, value in bindings.items()}
    dataset = next(Path(moved["repo_dir"]).rglob("words_8L_80P_10000.json"))
    dataset.unlink()
    new_run = Path(moved["scratch_dir"]) / "ck-out-new-otter" / "slurm-999.out"
    new_run.parent.mkdir()
    shutil.copy(next(Path(moved["scratch_dir"]).glob("ck-out-happy-narwhal/slurm-*.out")), new_run)
    paths = [f"{name}={value}" for name, value in moved.items()]
    done = _replay(log, "--paths", *paths)
    assert done.returncode == 1, done.stdout + done.stderr
    changed = {
        line.split()[3].rstrip(":")
        for line in done.stdout.splitlines()
        if line.strip().startswith("changed")
    }
    assert changed == {"VERIFY_DATASET", "SEARCH_PRIOR_RUNS"}, done.stdout
    assert "Missing: path does not exist" in done.stdout
    assert "ck-out-new-otter" in done.stdout


def test_the_notebook_magic_replays_the_session_log(ip, demo_log):
    from IPython.utils.capture import capture_output

    ip.run_line_magic("designlog", f"start {demo_log.parent} --no-panel")
    with capture_output() as captured:
        ip.run_line_magic("designlog", "replay")
    html = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert "STANDS" in html and "reproduced" in html
    report = replay_log(demo_log)
    assert report.exit_status == 0


# -- a hostile log -------------------------------------------------------------------------------
HOSTILE = [
    "ls {d}; touch {canary}",
    "ls {d} && touch {canary}",
    "ls {d} || touch {canary}",
    "ls {d} | sh -c 'touch {canary}'",
    "ls {d} > {keep}",
    "ls $(touch {canary})",
    "ls `touch {canary}`",
    "ls {d}/*",
    "find {d} -name keep.txt -delete",
    "find {d} -exec rm {{}} ;",
    "find {d} -execdir rm {{}} +",
    "find {d} -ok rm {{}} ;",
    "find {d} -fprint {canary}",
    "env touch {canary}",
    'python -c \'open("{canary}", "w")\'',
    "bash -c 'touch {canary}'",
    "touch {canary}",
    "rm {keep}",
    "designlog add NOTE hi --log {d}",
    "designlog verify MODEL {d} --log {d}",
    "designlog attach {d}/x.ipynb",
    "FOO=1 touch {canary}",
    "./touch {canary}",
    "xargs touch {canary}",
]
# read verbs that must not end the replay itself (argparse exits on --help)
HARMLESS_BUT_NOT_CHECKS = ["designlog verify --help", "designlog speed --version"]


def test_a_hostile_log_runs_nothing_deletes_nothing_and_stays_as_it_was(tmp_path):
    from designlog_magics import DesignLog, new_entry

    data = tmp_path / "data"
    data.mkdir()
    keep = data / "keep.txt"
    keep.write_text("must survive\n")
    canary = tmp_path / "CANARY"
    experiment = tmp_path / "exp"
    log = DesignLog(experiment)
    for number, template in enumerate(HOSTILE):
        command = template.format(d=data, canary=canary, keep=keep)
        log.append(new_entry("VERIFY_MODEL", f"hostile {number}", command=command, result="x"))
    log.append(
        new_entry(
            "VERIFY_MODEL",
            "hostile multi-line",
            command=f"ls {data}\ntouch {canary}\nrm {keep}",
            result="x\nx\nx",
        )
    )
    for command in HARMLESS_BUT_NOT_CHECKS:
        log.append(new_entry("VERIFY_MODEL", "help", command=command, result="x"))
    before = log.path.read_bytes()
    tree = sorted((p, p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    report = replay_log(log.path)
    assert not canary.exists()
    assert keep.read_text() == "must survive\n"
    assert log.path.read_bytes() == before
    assert sorted((p, p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == tree
    statuses = [item.status for item in report.items]
    assert statuses[: len(HOSTILE)] == ["not replayable"] * len(HOSTILE), report.render()
    for item in report.items[len(HOSTILE) + 1 :]:
        assert item.status in ("changed", "not replayable"), item  # replay went on to the end
    multi = report.items[len(HOSTILE)]
    assert multi.status == "changed"  # its `ls` ran and gives another Result; the rest did not
    assert "touch" in multi.reason and "rm" in multi.reason
