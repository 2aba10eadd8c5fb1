"""The ``designlog`` command, run as real processes (``python -m`` and the console script)."""

from __future__ import annotations

import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest

from designlog_magics import DesignLog, new_entry, read_log, render
from designlog_magics.record import METADATA_KEY
from tests.cli_process import CONSOLE_SCRIPT, assert_one_line_error, environment, run_designlog
from tests.notebooks_util import (
    SESSION,
    SPEC_CALCULATION,
    START,
    copy_session,
    executed_session,
    session_entries,
    write_log,
)

COMMANDS = ["show", "tail", "audit", "attach", "export", "add", "demo-data"]
run = run_designlog


@pytest.fixture
def experiment(tmp_path) -> Path:
    directory = tmp_path / "exp"
    write_log(directory, session_entries())
    return directory


# -- help ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("script", [False, True], ids=["python-m", "console-script"])
def test_help_for_the_command_and_every_subcommand(script):
    assert CONSOLE_SCRIPT.exists()
    top = run("--help", script=script)
    assert top.returncode == 0 and top.stderr == ""
    for name in COMMANDS:
        assert name in top.stdout
    for name in COMMANDS:
        sub = run(name, "--help", script=script)
        assert sub.returncode == 0, sub.stderr
        assert sub.stdout.startswith(f"usage: designlog {name}")
    assert run("--version", script=script).stdout.startswith("designlog 0.")


# -- show ----------------------------------------------------------------------------------------
def test_show_prints_the_exact_entries(experiment):
    result = run("show", experiment, script=True)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == (experiment / "design-experiment.log").read_text()


def test_show_filters_by_type_time_and_count(experiment):
    entries = session_entries()
    result = run("show", experiment, "--type", "verify_model,check_disk", "--type", "COMPLETE")
    assert result.stdout == "".join(
        render(e) for e in entries if e.action in ("VERIFY_MODEL", "CHECK_DISK", "COMPLETE")
    )
    since = (START + timedelta(seconds=15 * 6)).strftime("%Y-%m-%d %H:%M:%S")
    assert run("show", experiment, "--since", since).stdout == "".join(
        render(e) for e in entries[6:]
    )
    assert run("show", experiment, "--last", "2").stdout == "".join(render(e) for e in entries[-2:])
    assert run("show", experiment, "--last", "0").stdout == ""
    data = json.loads(run("show", experiment, "--json", "--last", "1").stdout)
    assert data == [entries[-1].as_dict()]


def test_show_finds_the_log_from_the_environment_or_the_current_directory(experiment, tmp_path):
    text = (experiment / "design-experiment.log").read_text()
    assert run("show", env=environment(DESIGNLOG_DIR=str(experiment))).stdout == text
    assert run("show", cwd=experiment).stdout == text
    assert_one_line_error(run("show", cwd=tmp_path), "no design log at", "DESIGNLOG_DIR")


def test_show_warns_once_about_unreadable_parts(experiment):
    with open(experiment / "design-experiment.log", "a") as handle:
        handle.write("garbage outside any entry\n\n")
    result = run("show", experiment)
    assert result.returncode == 0 and result.stdout.count("\n[") == len(SESSION) - 1
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("designlog: warning: 1 part(s)") and "designlog audit" in warning


# -- tail ----------------------------------------------------------------------------------------
def test_tail_prints_the_last_entries(experiment):
    entries = session_entries()
    assert run("tail", experiment, "-n", "3").stdout == "".join(render(e) for e in entries[-3:])
    assert run("tail", experiment / "design-experiment.log").stdout == "".join(
        render(e) for e in entries[-10:]
    )


def _read_until(process, needle: str, deadline: float) -> str:
    seen = ""
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {needle!r}; saw {seen!r}"
        ready, _, _ = select.select([process.stdout], [], [], left)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536).decode()
            assert chunk, f"tail ended early; saw {seen!r}"
            seen += chunk
    return seen


def test_tail_follows_appends_from_other_writers_and_stops_on_ctrl_c(experiment):
    process = subprocess.Popen(
        [sys.executable, "-m", "designlog_magics", "tail", "-f", "-n", "1", str(experiment)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
    )
    try:
        deadline = time.monotonic() + 30
        first = _read_until(process, "COMPLETE: Experiment design finished", deadline)
        assert first == render(session_entries()[-1])
        # another writer (a notebook, a script) appends while tail follows
        log = DesignLog(experiment)
        log.append(new_entry("NOTE", "first follow-up", detail="one"))
        seen = _read_until(process, "NOTE: first follow-up", deadline)
        add = run("add", "NOTE", "second follow-up", "--log", experiment)
        assert add.returncode == 0
        seen += _read_until(process, "NOTE: second follow-up", deadline)
        assert [e.brief for e in read_log(experiment).entries[-2:]] == [
            "first follow-up",
            "second follow-up",
        ]
        assert seen.count("\n[") + seen.startswith("[") == 2
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "Traceback" not in stderr.decode() and "KeyboardInterrupt" not in stderr.decode()


def test_tail_follow_with_a_timeout_ends_by_itself_and_waits_for_a_new_log(tmp_path):
    (tmp_path / "exp").mkdir()
    result = run("tail", "-f", tmp_path / "exp", "--timeout", "0.6", "--interval", "0.1")
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.startswith("designlog: warning: ") and "waiting for it" in result.stderr
    assert_one_line_error(run("tail", "-f", tmp_path / "nowhere" / "deeper"), "no experiment")


# -- audit ---------------------------------------------------------------------------------------
def test_audit_passes_on_a_complete_session(experiment):
    result = run("audit", experiment, script=True)
    assert result.returncode == 0, result.stdout
    assert "PASSED: 0 errors, 0 warnings; 9 entries checked" in result.stdout


@pytest.mark.parametrize(
    "skip, change, reason",
    [
        (["CHECK_DISK"], None, "disk checked: no successful entry before COMPLETE"),
        (["COMPLETE"], None, "no COMPLETE (or COMPLETE_DESIGN) entry"),
        (
            [],
            {
                "CALCULATE_TIME": [
                    ("Calculation", SPEC_CALCULATION.replace("= 2000,", "= 2500,")),
                    ("Result", "x"),
                ]
            },
            "8000/4 = 2500 is wrong: it is 2000",
        ),
    ],
)
def test_audit_fails_naming_the_reason(tmp_path, skip, change, reason):
    write_log(tmp_path, session_entries(skip=skip, change=change))
    result = run("audit", tmp_path)
    assert result.returncode == 1
    assert "FAILED" in result.stdout and reason in result.stdout
    data = json.loads(run("audit", tmp_path, "--json").stdout)
    assert data["passed"] is False
    assert any(reason in f["message"] for f in data["findings"])


def test_audit_of_notebooks_through_the_command(tmp_path_factory, tmp_path):
    notebook = executed_session(tmp_path_factory.getbasetemp())
    assert run("audit", notebook).returncode == 0
    copy = copy_session(notebook, tmp_path / "nb")
    DesignLog(copy.parent / "exp").append(new_entry("NOTE", "not in the notebook"))
    result = run("audit", copy, "--json")
    assert result.returncode == 1
    (finding,) = [f for f in json.loads(result.stdout)["findings"] if f["severity"] == "error"]
    assert finding["code"] == "notebook-missing"
    assert finding["check"] == "notebook agrees with the log file"


# -- attach and export ---------------------------------------------------------------------------
def test_attach_and_export_a_notebook(tmp_path_factory, tmp_path):
    notebook = copy_session(executed_session(tmp_path_factory.getbasetemp()), tmp_path / "nb")
    log_path = notebook.parent / "exp" / "design-experiment.log"
    attached = run("attach", notebook, script=True)
    assert attached.returncode == 0, attached.stderr
    assert attached.stdout.startswith(f"attached {log_path} (10 entries")
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata[METADATA_KEY]["text"] == log_path.read_text()
    out = tmp_path / "record.html"
    exported = run("export", notebook, "--to", "html", "-o", out)
    assert exported.returncode == 0 and exported.stderr == "", exported.stderr
    assert "<script" not in out.read_text().lower()
    assert "Experiment design finished" in out.read_text()
    markdown = run("export", notebook, "--to", "markdown")
    assert markdown.returncode == 0
    assert log_path.read_text().rstrip("\n") in notebook.with_suffix(".md").read_text()


# -- add -----------------------------------------------------------------------------------------
def test_add_appends_with_field_names_and_masking(tmp_path):
    result = run(
        "add",
        "COMPLETE",
        "Experiment design finished",
        "status=Plan approved",
        "next_steps=Run scaffold-experiment",
        "Command=HF_TOKEN=hf_abcdefghijklmnopqrstuvwx huggingface-cli download",
        "--log",
        tmp_path / "exp",
        script=True,
    )
    assert result.returncode == 0, result.stderr
    (entry,) = read_log(tmp_path / "exp").entries
    assert entry.fields == (
        ("Status", "Plan approved"),
        ("Next Steps", "Run scaffold-experiment"),
        ("Command", "HF_TOKEN=**** huggingface-cli download"),
        ("Origin", "written by hand"),
    )
    assert result.stdout == render(entry)
    # a log file path works as well as its directory; the default is $DESIGNLOG_DIR
    run("add", "NOTE", "by file", "--log", tmp_path / "exp" / "design-experiment.log")
    run("add", "NOTE", "by env", env=environment(DESIGNLOG_DIR=str(tmp_path / "exp")))
    assert [e.brief for e in read_log(tmp_path / "exp").entries[1:]] == ["by file", "by env"]


def test_concurrent_adds_lose_nothing_and_never_interleave(tmp_path):
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "designlog_magics",
                "add",
                "NOTE",
                f"writer {n}",
                f"Detail={'x' * 5000}\n{n}",
                "--log",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in range(8)
    ]
    for process in processes:
        assert process.wait(timeout=60) == 0
    result = read_log(tmp_path)
    assert result.diagnostics == []
    assert sorted(e.brief for e in result.entries) == [f"writer {n}" for n in range(8)]
    for entry in result.entries:
        assert entry.get("Detail") == "x" * 5000 + "\n" + entry.brief.split()[-1]


# -- bad input -----------------------------------------------------------------------------------
def _bad_inputs(tmp_path: Path, experiment: Path) -> list[tuple[list, list[str]]]:
    not_json = tmp_path / "broken.ipynb"
    not_json.write_text("{ not json")
    return [
        ([], ["the following arguments are required: COMMAND"]),
        (["frobnicate"], ["invalid choice: 'frobnicate'"]),
        (["show", tmp_path / "nowhere"], ["no design log at"]),
        (["show", experiment, "--last", "-1"], ["must be 0 or more", "designlog show --help"]),
        (["show", experiment, "--since", "yesterday-ish"], ["cannot read 'yesterday-ish'"]),
        (["show", tmp_path / "x.ipynb"], ["is a notebook"]),
        (["tail", tmp_path / "nowhere"], ["no design log at"]),
        (["tail", "-f", experiment, "--timeout", "soon"], ["not a number of seconds"]),
        (["audit", tmp_path / "nowhere"], ["no design log at"]),
        (["audit", not_json], ["is not a readable notebook"]),
        (["audit", tmp_path / "missing.ipynb"], ["no notebook at"]),
        (["attach", not_json], ["is not a readable notebook"]),
        (["attach", tmp_path / "missing.ipynb"], ["no notebook at"]),
        (["export", tmp_path / "missing.ipynb", "--to", "html"], ["no notebook at"]),
        (["export", not_json, "--to", "pdf"], ["invalid choice: 'pdf'"]),
        (["export", not_json], ["--to"]),
        (["add", "verify model", "brief", "--log", experiment], ["invalid action type"]),
        (["add", "NOTE", "brief", "novalue", "--log", experiment], ["KEY=VALUE"]),
        (["add", "NOTE", "brief", "9bad=1", "--log", experiment], ["invalid field name"]),
        (["add", "NOTE"], ["required: BRIEF"]),
    ]


def test_bad_input_is_one_line_and_a_non_zero_status(tmp_path, experiment):
    before = (experiment / "design-experiment.log").read_bytes()
    for args, fragments in _bad_inputs(tmp_path, experiment):
        result = run(*args, cwd=tmp_path)
        try:
            assert_one_line_error(result, *fragments)
        except AssertionError as exc:
            raise AssertionError(f"designlog {' '.join(map(str, args))}: {exc}") from None
    assert (experiment / "design-experiment.log").read_bytes() == before


def test_an_unwritable_log_is_one_line(tmp_path):
    if os.geteuid() == 0:
        target = Path("/proc/designlog-cannot-exist")  # not writable even for root
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
    result = run("add", "NOTE", "brief", "--log", target)
    assert_one_line_error(result, "cannot write")


def test_demo_data_is_built_or_clearly_missing(tmp_path):
    result = run("demo-data", tmp_path / "demo")
    if importlib.util.find_spec("designlog_magics._demo") is None:
        assert_one_line_error(result, "demo data is not available", "designlog_magics._demo")
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"built demo data in {tmp_path / 'demo'}")
        assert any((tmp_path / "demo").iterdir())


def test_what_a_log_holds_reaches_the_terminal_visible_never_obeyed(tmp_path):
    # a forged log: a title change, a screen clear and a colour in a brief, a Result and an
    # unreadable line; every command that prints from it shows them as escapes
    log = tmp_path / "design-experiment.log"
    log.write_bytes(
        b"[2026-01-01 10:00:00] VERIFY_MODEL: Checking \x1b]0;TITLE\x07 x\n"
        b"Command: ls /tmp\nResult: \x1b[31mPASS\x1b[0m\n\n"
        b"\x1b[2J a line that is no entry\n\n"
        b"[2026-01-01 10:00:01] COMPLETE: done \x1b[2J\nStatus: ok\nNext Steps: none\n\n"
        b"[2026-01-01 10:00:02] NOTE: a lone surrogate \\ud800 written escaped\nResult: ok\n\n"
    )
    for words in (["show"], ["tail"], ["audit"], ["replay"], ["audit", "--json"]):
        result = run(*words, tmp_path)
        assert result.returncode in (0, 1), (words, result.stderr)  # no crash on what it prints
        printed = result.stdout + result.stderr
        assert printed.strip(), words
        assert "\x1b" not in printed and "\x07" not in printed, (words, printed)
    shown = run("show", tmp_path).stdout
    assert "Checking \\x1b]0;TITLE\\x07 x" in shown and "Result: \\x1b[31mPASS" in shown
    assert "a lone surrogate \\ud800 written escaped" in run("audit", tmp_path).stdout + shown


def test_a_read_of_an_outcome_creates_nothing(tmp_path):
    missing = tmp_path / "not" / "there"
    result = run("outcome", missing, "--check", "time")
    assert_one_line_error(result, "no such experiment directory")
    assert not (tmp_path / "not").exists()
