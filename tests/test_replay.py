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
            for created in command.splitlines():  # the summary and the scaffolders' YAML
                path = _bound(created.strip().removeprefix("Created "), bindings).strip("'")
                assert Path(path).is_file(), path
            checked.add(entry.action)
            continue
        line = _bound(command, bindings)
        done = subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, timeout=120, env=_env()
        )
        assert done.returncode == 0, (line, done.stderr)
        if command.startswith("designlog "):
            assert done.stdout.startswith(result + "\n"), (line, done.stdout)  # Result first
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

    experiment = tmp_path / "exp"
    data = experiment / "data"  # inside the plan, so its reads may run
    data.mkdir(parents=True)
    keep = data / "keep.txt"
    keep.write_text("must survive\n")
    canary = tmp_path / "CANARY"
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


# -- a log received from someone else ---------------------------------------------------------
HF_SECRET = "hf_" + "Zq8XvT3mKp7LwR2nYb5cJd9HsF4gA1eU"
WANDB_SECRET = "9f2c" * 10
ELSEWHERE_SECRET = "elsewhere-" + "Vb7Nq2Lx"
INSIDE_SECRET = "hf_" + "abcdefghijklmnopqrstuvwxyz0123"
SECRETS = (HF_SECRET, WANDB_SECRET, ELSEWHERE_SECRET, INSIDE_SECRET)
CONTROL = "\x1b]0;TITLE\x07 cleared \x1b[2J"


def _forge(log: Path, entries) -> None:
    """Write entries as log text with nothing masked: a log as someone else may send it."""
    from designlog_magics.textformat import render

    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(render(entry) for entry in entries), encoding="utf-8")


def _check(action: str, brief: str, command: str, result: str = "x", **more: str):
    from designlog_magics import new_entry

    fields = [("Command", command), ("Result", result)]
    fields += [(key.replace("_", " ").title(), value) for key, value in more.items()]
    return new_entry(action, brief, fields)


@pytest.fixture
def received(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A home with a token and an API key, a directory beside the experiment with a secret,
    and an experiment directory holding a received log, symlinks out, and a secret of its own."""
    from designlog_magics import new_entry
    from designlog_magics.session import format_bindings

    home = tmp_path / "home"
    (home / ".cache" / "huggingface").mkdir(parents=True)
    token = home / ".cache" / "huggingface" / "token"
    token.write_text(HF_SECRET + "\n")
    (home / ".bashrc").write_text(f"export WANDB_API_KEY={WANDB_SECRET}\n")
    monkeypatch.setenv("HOME", str(home))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text(ELSEWHERE_SECRET + "\n")
    experiment = tmp_path / "exp"
    experiment.mkdir()
    (experiment / "notes.txt").write_text("model checked\n")
    (experiment / "env.txt").write_text(f"HF_TOKEN={INSIDE_SECRET}\n")
    (experiment / "link_out").symlink_to(token)
    (experiment / "cache").symlink_to(home / ".cache")
    canary = tmp_path / "CANARY"
    evil = f"{{__import__('os').system('touch {canary}')}}"
    start = new_entry(
        "START_DESIGN",
        "Experiment design started",
        [("Directory", str(experiment)), ("Paths", format_bindings({"home_dir": str(home)}))],
    )
    out = [
        _check("VERIFY_MODEL", "token", "head -n 3 ~/.cache/huggingface/token"),
        _check("VERIFY_MODEL", "keys", "grep -r API_KEY ~"),
        _check("VERIFY_MODEL", "shadow", "head -n 5 /etc/shadow"),
        _check("VERIFY_MODEL", "link", "head -n 1 {experiment_dir}/link_out"),
        _check("VERIFY_MODEL", "climb", "head -n 1 {experiment_dir}/../elsewhere/secret.txt"),
        _check("VERIFY_MODEL", "parent", "grep -r secret {experiment_dir}/.."),
        _check("VERIFY_MODEL", "follow", "find -L {experiment_dir} -name token"),
        _check("VERIFY_DATASET", "verb", "designlog verify DATASET {experiment_dir}/link_out"),
        _check("VERIFY_MODEL", "bound home", "head -n 1 {home_dir}/.cache/huggingface/token"),
    ]
    refused = [
        _check("VERIFY_MODEL", "cwd", "head -n 1 secret.txt", working_directory=str(elsewhere)),
        _check("VERIFY_MODEL", "eval", f"designlog verify MODEL '{evil}'"),
        _check("VERIFY_MODEL", "eval cwd", "ls", working_directory=evil),
        new_entry("CREATE_SUMMARY", "eval summary", [("Command", f"Created {evil}")]),
    ]
    inside = [
        _check("VERIFY_MODEL", "inside", "head -n 1 {experiment_dir}/notes.txt", "model checked"),
        _check("VERIFY_MODEL", "inside secret", "head -n 1 env.txt", f"HF_TOKEN={INSIDE_SECRET}"),
        _check("VERIFY_MODEL", CONTROL, "head -n 1 notes.txt", "\x1b[31mred"),
    ]
    _forge(experiment / "design-experiment.log", [start, *out, *refused, *inside])
    return {"experiment": experiment, "canary": canary, "out": len(out), "refused": len(refused)}


def _assert_safe(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "\x1b" not in text and "\x07" not in text  # no raw ESC or BEL


def test_a_received_log_reads_only_its_plan_and_shows_no_secret(received):
    report = replay_log(received["experiment"])
    statuses = [item.status for item in report.items]
    out, refused = received["out"], received["refused"]
    assert statuses[0] == "not replayable"  # START_DESIGN: nothing to run
    for item in report.items[1 : 1 + out]:
        assert item.status == "not replayable", item
        command = item.commands[0]
        assert item.reason.startswith(f"`{command}`: reads outside the plan's paths: "), item
    follow = report.items[7]
    assert "`find -L` follows every symlink" in follow.reason
    for item in report.items[1 + out : 1 + out + refused]:
        assert item.status == "not replayable", item
    assert report.items[1 + out].reason.startswith("Working Directory: reads outside")
    assert not received["canary"].exists()  # no {expression} was evaluated
    plain, secret, control = report.items[-3:]
    assert plain.status == "reproduced", plain
    assert secret.status == "reproduced" and secret.now == "HF_TOKEN=****", secret
    assert control.status == "changed" and control.now == "model checked"
    # the log's own home binding is not a root
    assert any("home_dir=" in text and "home directory" in text for text in report.left_out)
    assert str(received["experiment"]) in report.roots
    text = report.render()
    html = report._repr_html_()
    dumped = json.dumps(report.as_dict())
    for shown in (text, html, dumped):
        _assert_safe(shown)
    assert "\\x1b]0;TITLE\\x07 cleared \\x1b[2J" in text  # shown, not obeyed
    assert "logged: \\x1b[31mred" in text
    assert "HF_TOKEN=****" in text or "HF_TOKEN=****" in dumped


def test_the_command_line_replays_a_received_log_safely(received):
    before = (received["experiment"] / "design-experiment.log").read_bytes()
    text = subprocess.run(
        [sys.executable, "-m", "designlog_magics", "replay", str(received["experiment"])],
        capture_output=True,
        timeout=300,
        env=_env(),
    )
    as_json = _replay(received["experiment"], "--json")
    assert text.returncode == 1 and as_json.returncode == 1  # the control entry changed
    for output in (text.stdout, text.stderr):
        _assert_safe(output.decode("utf-8", errors="replace"))
        assert b"\x1b" not in output and b"\x07" not in output
    _assert_safe(as_json.stdout + as_json.stderr)
    report = json.loads(as_json.stdout)
    reasons = [e["reason"] for e in report["entries"]]
    assert sum("`: reads outside the plan's paths: " in r for r in reasons) == received["out"]
    assert [e["status"] for e in report["entries"][-3:]] == ["reproduced", "reproduced", "changed"]
    assert b"reads outside the plan's paths" in text.stdout
    assert not received["canary"].exists()
    assert (received["experiment"] / "design-experiment.log").read_bytes() == before


def test_the_notebook_replay_masks_and_escapes(ip, received):
    from IPython.utils.capture import capture_output

    ip.run_line_magic("designlog", f"start {received['experiment']} --no-panel")
    with capture_output() as captured:
        ip.run_line_magic("designlog", "replay")
    html = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert "reads outside the plan&#x27;s paths" in html
    _assert_safe(html + captured.stdout)
    assert not received["canary"].exists()


def test_a_custom_masker_applies_to_everything_replay_returns(received):
    from designlog_magics.masking import SecretMasker

    masker = SecretMasker.from_patterns([r"model (?P<secret>checked)"])
    report = replay_log(received["experiment"], masker=masker)
    plain = report.items[-3]
    assert plain.status == "reproduced" and plain.now == "model ****"
    assert "checked" not in report.render() and "checked" not in json.dumps(report.as_dict())


@pytest.mark.timeout(120)
def test_a_log_of_hanging_commands_ends_within_its_budget(tmp_path, monkeypatch):
    experiment = tmp_path / "exp"
    experiment.mkdir()
    os.mkfifo(experiment / "fifo")  # never written: reading it waits forever
    fake = tmp_path / "bin"  # a sacct whose accounting daemon never answers
    fake.mkdir()
    (fake / "sacct").write_text("#!/bin/sh\nwhile :; do sleep 1; done\n")
    (fake / "sacct").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    hanging = [_check("SEARCH_PRIOR_RUNS", "verb", "designlog search --sacct --since 2025-01-01")]
    hanging += [
        _check("VERIFY_MODEL", f"fifo {n}", "head -n 1 {experiment_dir}/fifo") for n in range(5)
    ]
    _forge(experiment / "design-experiment.log", hanging)
    report = replay_log(experiment, timeout=3, command_timeout=1)
    statuses = [item.status for item in report.items]
    assert statuses[0] == "failed" and "timed out" in report.items[0].reason
    spent = statuses.index("not replayable")
    assert set(statuses[:spent]) == {"failed"} and set(statuses[spent:]) == {"not replayable"}
    for item in report.items[spent:]:
        assert item.reason == "the replay's time budget (3 s) was spent"
    assert report.budget_spent and report.exit_status == 1
    assert "CHANGED: 0 reproduced" in report.render()
    assert _processes_reading(str(tmp_path)) == []  # the verb, its sacct and every head


@pytest.mark.timeout(120)
def test_the_command_line_timeout_is_the_whole_replays_budget(tmp_path):
    experiment = tmp_path / "exp"
    experiment.mkdir()
    os.mkfifo(experiment / "fifo")
    entries = [
        _check("VERIFY_MODEL", f"fifo {n}", "head -n 1 {experiment_dir}/fifo") for n in range(3)
    ]
    _forge(experiment / "design-experiment.log", entries)
    done = _replay(experiment, "--json", "--timeout", "2")
    assert done.returncode == 1, done.stderr
    entries = json.loads(done.stdout)["entries"]
    assert entries[0]["status"] == "failed"
    assert entries[0]["reason"].endswith("the replay's time budget (2 s) was spent")
    assert [e["status"] for e in entries[1:]] == ["not replayable"] * 2
    assert _processes_reading(str(experiment)) == []


def _processes_reading(prefix: str) -> list[int]:
    """Processes with an argument under ``prefix`` (a killed group's members may take a moment
    to go)."""
    import time

    deadline = time.monotonic() + 5
    while True:
        found = []
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    words = handle.read().split(b"\0")
            except OSError:
                continue
            if any(w.startswith(prefix.encode()) for w in words) and pid.isdigit():
                found.append(int(pid))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_two_different_failures_of_a_disk_check_are_not_the_same_result():
    from designlog_magics.replay import CHANGED, REPRODUCED, _judge_need

    assert _judge_need("Failed: path does not exist", "garbage")[0] == CHANGED
    assert _judge_need("Failed: path does not exist", "Failed: path does not exist")[0] == (
        REPRODUCED
    )
    assert _judge_need("73G available, enough for the 40G needed", "70G available, enough for "
                       "the 40G needed")[0] == REPRODUCED  # fmt: skip
