"""The magics, driven in a real IPython shell against real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from IPython.core import oinspect
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from designlog_magics import read_log
from designlog_magics.magics import NO_SESSION


def start(ip, resources, extra=""):
    r = resources
    ip.run_line_magic(
        "designlog",
        f"start {r['experiment']} --paths models_dir={r['models']} repo_dir={r['repo']} "
        f"scratch_dir={r['scratch']} --no-panel {extra}",
    )
    return r["experiment"] / "design-experiment.log"


def entries(resources):
    return read_log(resources["experiment"]).entries


def html_of(captured) -> str:
    return "".join(o.data.get("text/html", "") for o in captured.outputs)


def text_of(captured) -> str:
    return captured.stdout + "".join(o.data.get("text/plain", "") for o in captured.outputs)


# -- loading ----------------------------------------------------------------------------
def test_load_registers_and_unload_removes_every_magic(ip):
    line = ip.magics_manager.magics["line"]
    cell = ip.magics_manager.magics["cell"]
    for name in [
        "designlog",
        "log_verify",
        "log_search",
        "log_speed",
        "log_calc",
        "log_disk",
        "log_decide",
        "log_complete",
        "log_entry",
    ]:
        assert name in line
    for name in ["log_verify", "log_search", "log_calc", "log_decide", "log_summary"]:
        assert name in cell
    ip.run_line_magic("unload_ext", "designlog_magics")
    assert "log_verify" not in ip.magics_manager.magics["line"]
    assert "log_summary" not in ip.magics_manager.magics["cell"]
    ip.run_line_magic("load_ext", "designlog_magics")
    assert "log_verify" in ip.magics_manager.magics["line"]


def test_help_is_real(ip, capsys):
    ip.run_cell("%log_verify?")
    out = capsys.readouterr().out
    assert "VERIFY_<KIND>" in out and "--explain" in out and "--no-log" in out
    for name in [
        "log_search",
        "log_speed",
        "log_calc",
        "log_disk",
        "log_decide",
        "log_summary",
        "log_complete",
        "log_entry",
        "designlog",
    ]:
        # what %name? shows (IPython asks the object's getdoc(), then its __doc__)
        doc = oinspect.getdoc(ip.find_line_magic(name) or ip.find_cell_magic(name))
        assert "usage:" in doc, name


@pytest.mark.parametrize(
    "source",
    [
        "%log_verify MODEL /x",
        "%%log_verify MODEL\nls /",
        "%log_search /x",
        "%log_speed /x",
        "%%log_calc\na = 1",
        "%log_calc a = 1",
        "%log_disk /",
        "%log_decide --decision a --reasoning b",
        "%%log_summary\n# plan",
        "%log_complete --status s --next n",
        "%log_entry NOTE brief",
        "%designlog status",
        "%designlog show",
    ],
)
def test_every_magic_needs_a_started_log(ip, source):
    with pytest.raises(UsageError, match="run %designlog start"):
        ip.run_cell(source)
    assert NO_SESSION.startswith("no design log")


# -- session ----------------------------------------------------------------------------
def test_start_records_directory_and_path_bindings_once(ip, resources):
    log_path = start(ip, resources)
    first = entries(resources)
    assert [e.action for e in first] == ["START_DESIGN"]
    assert first[0].get("Directory") == str(resources["experiment"])
    assert first[0].get("Paths") == (
        f"models_dir={resources['models']}\n"
        f"repo_dir={resources['repo']}\n"
        f"scratch_dir={resources['scratch']}"
    )
    before = log_path.read_bytes()
    # resuming with the same bindings (given again, or not at all) adds nothing
    start(ip, resources)
    ip.run_line_magic("designlog", f"start {resources['experiment']} --no-panel")
    assert log_path.read_bytes() == before
    # the bindings came back from the log: {models_dir} still works
    ip.run_line_magic("log_verify", "MODEL {models_dir}/Llama-3.2-1B-Instruct")
    assert (
        entries(resources)[-1].get("Command")
        == "designlog verify MODEL {models_dir}/Llama-3.2-1B-Instruct"
    )


def test_status_and_show(ip, resources, capsys):
    start(ip, resources)
    ip.run_line_magic("log_entry", 'NOTE "first note" Detail=one')
    ip.run_line_magic("log_entry", 'OTHER "second note"')
    with capture_output() as captured:
        ip.run_line_magic("designlog", "status")
    text = text_of(captured)
    assert "Entries: 3" in text and "Pending writes: 0" in text
    assert "[ ] model verified" in text
    with capture_output() as captured:
        ip.run_line_magic("designlog", "show --type NOTE --last 5")
    html = html_of(captured)
    assert "first note" in html and "second note" not in html


@pytest.mark.parametrize(
    "line, message",
    [
        ("start", "required: EXPERIMENT_DIR"),
        ("start /tmp/x --paths models_dir", "NAME=DIR"),
        ("start /tmp/x --paths 1bad=/x", "NAME=DIR"),
        ("start /tmp/x --panel nowhere", "invalid choice"),
        ("frobnicate", "unknown subcommand"),
        ('start "/tmp/x', "cannot split"),
    ],
)
def test_designlog_bad_input(ip, line, message):
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("designlog", line)


# -- %log_verify --------------------------------------------------------------------------
def test_verify_line_form_checks_the_path_itself(ip, resources):
    start(ip, resources)
    entry = ip.run_line_magic(
        "log_verify", 'MODEL {models_dir}/Llama-3.2-1B-Instruct -e "Verifying the model"'
    )
    assert entry.action == "VERIFY_MODEL"
    assert entry.brief == "Checking Llama-3.2-1B-Instruct"
    assert entry.get("Command") == "designlog verify MODEL {models_dir}/Llama-3.2-1B-Instruct"
    assert entry.get("Result").startswith(
        "Directory exists with 6 files (config.json, model.safetensors, "
    )
    assert entry.get("Explanation") == "Verifying the model"
    dataset = ip.run_line_magic(
        "log_verify", "DATASET {repo_dir}/data/green/capitalization/words_8L_80P_10000.json"
    )
    assert dataset.get("Command") == (
        "designlog verify DATASET {repo_dir}/data/green/capitalization/words_8L_80P_10000.json"
    )
    assert "10,000 records (train 8,000, validation 1,000, test 1,000)" in dataset.get("Result")
    assert entries(resources)[-2:] == [entry, dataset]


def test_verify_absolute_path_is_logged_with_its_path_name(ip, resources):
    start(ip, resources)
    entry = ip.run_line_magic("log_verify", f"MODEL {resources['model']}")
    assert entry.get("Command") == "designlog verify MODEL {models_dir}/Llama-3.2-1B-Instruct"


def test_verify_missing_path_is_a_logged_failure(ip, resources):
    start(ip, resources)
    entry = ip.run_line_magic("log_verify", "MODEL {models_dir}/Llama-9B")
    assert entry.failed
    assert entry.get("Result") == "Missing: path does not exist"
    assert entry.get("Error") == "No such file or directory"
    assert entries(resources)[-1] == entry


def test_verify_cell_runs_shell_commands_and_summarises(ip, resources):
    start(ip, resources)
    entry = ip.run_cell_magic(
        "log_verify", "MODEL Llama-3.2-1B-Instruct", "ls {models_dir}/Llama-3.2-1B-Instruct\n"
    )
    assert entry.get("Command") == "ls {models_dir}/Llama-3.2-1B-Instruct"
    assert entry.get("Result") == (
        "Directory exists with 6 files (config.json, model.safetensors, etc.)"
    )
    size = ip.run_cell_magic(
        "log_verify",
        "DATASET",
        "ls -lh {repo_dir}/data/green/capitalization/words_8L_80P_10000.json",
    )
    assert size.brief == "Checking words_8L_80P_10000.json"
    expected = subprocess.run(
        ["ls", "-lh", str(resources["dataset"])], capture_output=True, text=True
    ).stdout.split()[4]
    assert size.get("Result") == f"File exists, {expected}"
    du = ip.run_cell_magic("log_verify", "MODEL", "du -sh {models_dir}/Llama-3.2-1B-Instruct")
    expected = subprocess.run(
        ["du", "-sh", str(resources["model"])], capture_output=True, text=True
    ).stdout.split()[0]
    assert du.get("Result") == expected


def test_verify_cell_failure_and_timeout_are_logged_not_raised(ip, resources):
    start(ip, resources)
    failed = ip.run_cell_magic("log_verify", "MODEL", "ls {models_dir}/nope")
    assert failed.get("Result") == "Missing: path does not exist"
    assert "No such file or directory" in failed.get("Error")
    slow = ip.run_cell_magic("log_verify", "MODEL --timeout 0.5", "sleep 5")
    assert slow.get("Result") == "Failed: timed out after 1s" or "timed out" in slow.get("Result")
    assert "timed out" in slow.get("Error")
    assert entries(resources)[-2:] == [failed, slow]


def test_job_status_checks_are_run_and_shown_but_never_logged(ip, resources):
    log_path = start(ip, resources)
    before = log_path.read_bytes()
    with capture_output() as captured:
        result = ip.run_cell_magic("log_verify", "JOB", "squeue -u $USER\n")
    assert result is None
    assert "job status check" in text_of(captured)
    assert log_path.read_bytes() == before


def test_expansion_of_vars_exprs_and_path_names(ip, resources):
    start(ip, resources)
    ip.user_ns["model_name"] = "Llama-3.2-1B-Instruct"
    ip.user_ns["n"] = 2
    entry = ip.run_line_magic("log_verify", "MODEL {models_dir}/$model_name -e 'step {n+1}'")
    assert entry.get("Command") == "designlog verify MODEL {models_dir}/Llama-3.2-1B-Instruct"
    assert entry.get("Explanation") == "step 3"
    cell = ip.run_cell_magic(
        "log_verify", "MODEL", "ls {models_dir}/{model_name} | awk '{print $1}' | head -3\n"
    )
    assert cell.get("Command") == (
        "ls {models_dir}/Llama-3.2-1B-Instruct | awk '{print $1}' | head -3"
    )
    assert not cell.failed


def test_secrets_in_commands_are_masked(ip, resources):
    log_path = start(ip, resources)
    ip.run_cell_magic("log_verify", "MODEL", "HF_TOKEN=hf_abcdefghijklmnopqrstuvwx ls {models_dir}")
    text = log_path.read_text()
    assert "hf_abcdefghijklmnopqrstuvwx" not in text and "HF_TOKEN=****" in text


def test_output_is_escaped_and_truncated(ip, resources, tmp_path):
    start(ip, resources)
    evil = resources["models"] / "<img src=x onerror=alert(1)>.json"
    evil.write_text("{}")
    with capture_output() as captured:
        ip.run_cell_magic("log_verify", "DATASET", "ls {models_dir}")
    html = html_of(captured)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;.json" in html
    with capture_output() as captured:
        ip.run_cell_magic("log_verify", "LIST --no-log", "seq 1 5000")
    html = html_of(captured)
    assert "4,960 more lines hidden" in html
    assert "\n5000\n" not in html or "5000" in html  # the tail is kept


# -- %%log_calc ---------------------------------------------------------------------------
SPEC_CALC = """\
samples = 8000
batch_size = 4
speed = 4.34  # it/s
epochs = 2
steps_per_epoch = samples / batch_size
time_per_epoch = steps_per_epoch / speed  # s
total_min = time_per_epoch * epochs / 60  # min
"""


def test_calc_cell_logs_inputs_calculations_and_result(ip, resources):
    start(ip, resources)
    entry = ip.run_cell_magic(
        "log_calc",
        '"Training time estimate" --result "Estimated {total_min:.0f} minutes total"'
        ' -e "Calculated training time based on actual iteration speed from prior run"',
        SPEC_CALC,
    )
    assert entry.action == "CALCULATE_TIME" and entry.brief == "Training time estimate"
    assert entry.get("Input") == "samples=8000, batch_size=4, speed=4.34 it/s, epochs=2"
    assert entry.get("Calculation") == (
        "steps_per_epoch = samples / batch_size = 2000, "
        "time_per_epoch = steps_per_epoch / speed ≈ 461s, "
        "total_min = time_per_epoch * epochs / 60 ≈ 15.36min"
    )
    assert entry.get("Result") == "Estimated 15 minutes total"
    assert ip.user_ns["steps_per_epoch"] == 2000
    assert entries(resources)[-1] == entry


def test_calc_action_line_form_and_template_after_the_run(ip, resources):
    start(ip, resources)
    ip.user_ns.update(total_s=960.0)
    entry = ip.run_line_magic("log_calc", '-a CALCULATE_TIME -b "Minutes" total_min = total_s / 60')
    assert entry.get("Input") == "total_s=960"
    assert entry.get("Calculation") == "total_min = total_s / 60 = 16"
    assert ip.user_ns["total_min"] == 16
    disk = ip.run_cell_magic(
        "log_calc",
        'CALCULATE_DISK "Checkpoint space" --result "{need_gb} GB"',
        "per_ckpt_gb = 5  # GB\nckpts = 8\nneed_gb = per_ckpt_gb * ckpts  # GB\n",
    )
    assert disk.action == "CALCULATE_DISK" and disk.get("Result") == "40 GB"


@pytest.mark.parametrize(
    "cell, message",
    [
        ("x = 1 / 0", "line 1: ZeroDivisionError"),
        ("a = 1\nb = undefined_name", "line 2: NameError"),
        ("a = (", "syntax error"),
    ],
)
def test_calc_errors_are_one_line_and_log_nothing(ip, resources, cell, message):
    log_path = start(ip, resources)
    before = log_path.read_bytes()
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("log_calc", "", cell)
    with pytest.raises(UsageError, match="cannot format"):
        ip.run_cell_magic("log_calc", '--result "{nope:.0f}"', "a = 1")
    with pytest.raises(UsageError, match="assignment"):
        ip.run_line_magic("log_calc", "1 +")
    assert log_path.read_bytes() == before


# -- %log_disk ----------------------------------------------------------------------------
def test_disk_reports_available_space_and_need(ip, resources):
    start(ip, resources)
    entry = ip.run_line_magic("log_disk", "{scratch_dir}")
    df = (
        subprocess.run(["df", "-h", str(resources["scratch"])], capture_output=True, text=True)
        .stdout.splitlines()[-1]
        .split()[3]
    )
    assert entry.get("Command") == "df -h {scratch_dir}"
    assert entry.get("Result") == f"{df} available"
    short = ip.run_line_magic("log_disk", "{scratch_dir} --need 900P")
    assert short.warned and short.get("Warning").startswith("not enough space")
    ok = ip.run_line_magic("log_disk", "{scratch_dir} --need 1k")
    assert "enough for the" in ok.get("Result")
    assert ok.get("Explanation") == "Ensuring sufficient space for ~1k of checkpoints"
    missing = ip.run_line_magic("log_disk", "{scratch_dir}/nowhere")
    assert missing.failed and "No such file" in missing.get("Error")
    with pytest.raises(UsageError, match="not a size"):
        ip.run_line_magic("log_disk", "{scratch_dir} --need lots")


# -- %log_decide --------------------------------------------------------------------------
def test_decide_accepts_the_specification_name(ip, resources):
    start(ip, resources)
    entry = ip.run_line_magic(
        "log_decide",
        '--decision cap_8L_lora_comparison_2025-10-22 --reasoning "Capitalization'
        ' task (cap), 8-letter words (8L), comparing LoRA ranks, dated" -e "User confirmed"',
    )
    assert entry.action == "DECIDE_NAMING" and entry.brief == "Experiment name chosen"
    assert entry.get("Decision") == "cap_8L_lora_comparison_2025-10-22"
    assert entry.get("Warning") is None


@pytest.mark.parametrize(
    "name, problem",
    [
        ("Cap LoRA test", "characters other than"),
        ("cap_lora_comparison", "YYYY-MM-DD"),
        ("cap_LoRA_2025-10-22", "mixes case"),
        ("cap_lora_2025-13-45", "not a valid date"),
    ],
)
def test_decide_warns_on_names_that_break_the_convention(ip, resources, name, problem):
    start(ip, resources)
    entry = ip.run_line_magic("log_decide", f'--decision "{name}" --reasoning because')
    assert problem in entry.get("Warning")


def test_decide_cell_form_and_other_decisions(ip, resources):
    start(ip, resources)
    entry = ip.run_cell_magic(
        "log_decide",
        '-a DECIDE_RECIPE "Recipe selected"',
        "Decision: lora_finetune_single_device\n"
        "Reasoning: one GPU is enough for 1B\n"
        "  and LoRA keeps memory low\n"
        "Explanation: matches prior runs\n",
    )
    assert entry.action == "DECIDE_RECIPE"
    assert entry.get("Reasoning") == "one GPU is enough for 1B\nand LoRA keeps memory low"
    with pytest.raises(UsageError, match="--reasoning"):
        ip.run_line_magic("log_decide", "--decision x_2025-10-22")
    with pytest.raises(UsageError, match="--decision"):
        ip.run_line_magic("log_decide", "--reasoning why")


# -- %%log_summary and %log_complete -------------------------------------------------------
PLAN = """\
# cap_8L_lora_comparison_2025-10-22

| run | type | rank |
|-----|------|------|
| r8 | fine-tuned | 8 |
| r16 | fine-tuned | 16 |
| base | control | - |
| base-prompted | control | - |
"""


def test_summary_is_written_with_sections_from_the_log_and_never_overwritten(ip, resources):
    start(ip, resources)
    ip.run_line_magic("log_verify", "MODEL {models_dir}/Llama-3.2-1B-Instruct")
    entry = ip.run_cell_magic("log_summary", "--no-yaml", PLAN)
    target = resources["experiment"] / "experiment_summary.md"
    text = target.read_text()
    assert text.startswith(PLAN.rstrip())
    assert "### Resources verified" in text and "Directory exists with 6 files" in text
    assert entry.get("Command") == (
        "Created {scratch_dir}/cap_8L_lora_comparison_2025-10-22/experiment_summary.md"
    )
    assert entry.get("Result") == "File created with 4 runs (2 fine-tuned + 2 control)"
    with pytest.raises(UsageError, match="already exist.*; use --force"):
        ip.run_cell_magic("log_summary", "--no-yaml", "# other")
    assert target.read_text() == text
    ip.run_cell_magic("log_summary", "--force --no-yaml", "# other plan\n")
    assert target.read_text().startswith("# other plan")


def test_complete_shows_and_records_what_is_missing(ip, resources):
    start(ip, resources)
    ip.run_line_magic("log_verify", "MODEL {models_dir}/Llama-3.2-1B-Instruct")
    with capture_output() as captured:
        entry = ip.run_line_magic("log_complete", '--status "Plan approved" --next "scaffold"')
    assert "dataset verified" in entry.get("Warning")
    assert "model verified" not in entry.get("Warning")
    assert "dataset verified" in text_of(captured)


# -- %log_entry and --no-log ----------------------------------------------------------------
def test_log_entry_custom_type_and_fields(ip, resources):
    start(ip, resources)
    entry = ip.run_line_magic(
        "log_entry",
        'VERIFY_EVAL_TASK "Checking inspect task" Command="ls tasks/cap.py" '
        'result="File exists" next_steps="run eval"',
    )
    assert entry.fields == (
        ("Command", "ls tasks/cap.py"),
        ("Result", "File exists"),
        ("Next Steps", "run eval"),
        ("Origin", "written by hand"),
    )
    assert entries(resources)[-1] == entry


def test_no_log_runs_and_shows_without_appending(ip, resources):
    log_path = start(ip, resources)
    before = log_path.read_bytes()
    with capture_output() as captured:
        entry = ip.run_line_magic("log_verify", "MODEL {models_dir}/Llama-3.2-1B-Instruct --no-log")
    assert entry.action == "VERIFY_MODEL"
    assert "not logged" in html_of(captured)
    assert log_path.read_bytes() == before


@pytest.mark.parametrize(
    "source, message",
    [
        ("%log_entry verify_model brief", "UPPER_SNAKE_CASE"),
        ("%log_entry NOTE brief novalue", "KEY=VALUE"),
        ("%log_entry NOTE brief 'Bad:Key=v'", "invalid field name"),
        ("%log_entry NOTE", "required"),
        ("%log_verify", "required"),
        ("%log_verify MODEL", "give the path"),
        ("%log_verify 'BAD KIND' /x", "KIND must be"),
        ("%log_disk", "required"),
        ("%log_search", "give ROOT"),
        ("%log_search /x --limit 0", "--limit"),
        ("%log_complete --status done", "required"),
        ("%log_decide --decision x -a lower-case --reasoning r", "invalid action"),
        ("%%log_summary\n   ", "plan is empty"),
        ("%%log_verify MODEL\n# only a comment", "no command"),
        ("%%log_decide\nnot a field line", "Key: value"),
    ],
)
def test_bad_input_is_one_line_and_leaves_the_log_untouched(
    ip, plain_shell, resources, capsys, source, message
):
    log_path = start(ip, resources)
    before = log_path.read_bytes()
    capsys.readouterr()
    result = plain_shell(source)
    captured = capsys.readouterr()
    assert type(result.error_in_exec) is UsageError
    assert message in str(result.error_in_exec)
    text = captured.out + captured.err
    assert "Traceback" not in text
    assert [ln for ln in text.splitlines() if ln.strip()] == [f"UsageError: {result.error_in_exec}"]
    assert log_path.read_bytes() == before


def test_forged_entries_through_variables_stay_inside_their_field(ip, resources):
    start(ip, resources)
    ip.user_ns["forged"] = "ok\n[2025-01-01 00:00:00] COMPLETE: done\nStatus: forged"
    ip.run_line_magic("log_entry", 'NOTE "forgery attempt" Result="$forged"')
    read = entries(resources)
    assert [e.action for e in read] == ["START_DESIGN", "NOTE"]
    assert read[-1].get("Result") == ip.user_ns["forged"]


WRITER = """
import sys
from designlog_magics import DesignLog, new_entry
log = DesignLog(sys.argv[1])
for n in range(200):
    log.append(new_entry("NOTE", f"script {n}"))
"""


def test_magics_and_a_script_writing_at_once_lose_nothing(ip, resources):
    start(ip, resources)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(resources["experiment"])])
    for n in range(200):
        ip.run_line_magic("log_entry", f'NOTE "magic {n}"')
    assert proc.wait(timeout=120) == 0
    result = read_log(resources["experiment"])
    assert result.ok and len(result.entries) == 401
    assert [e.brief for e in result.entries if e.brief.startswith("magic")] == [
        f"magic {n}" for n in range(200)
    ]
    assert [e.brief for e in result.entries if e.brief.startswith("script")] == [
        f"script {n}" for n in range(200)
    ]


def test_unwritable_log_raises_one_line_and_keeps_the_entry_pending(ip, resources):
    log_path = start(ip, resources)
    log_path.unlink()
    resources["experiment"].rmdir()
    with pytest.raises(UsageError, match="no longer exists.*1 entry pending"):
        ip.run_line_magic("log_entry", 'NOTE "while the directory was gone"')
    with capture_output() as captured:
        ip.run_line_magic("designlog", "status")
    assert "Pending writes: 1" in text_of(captured)
    ip.run_line_magic("designlog", f"start {resources['experiment']} --no-panel")
    assert [e.brief for e in entries(resources)][0] == "while the directory was gone"


def test_returned_entry_is_shown_once(ip, resources):
    start(ip, resources)
    with capture_output() as captured:
        ip.run_cell("%log_entry NOTE 'shown once'")
    assert html_of(captured).count("shown once") == 1
    json.dumps(entries(resources)[-1].as_dict())


def test_restart_with_path_names_from_variables_binds_their_values(ip, resources):
    ip.user_ns["models_dir"] = str(resources["models"])
    for _ in range(2):
        ip.run_line_magic(
            "designlog",
            f"start {resources['experiment']} --paths models_dir={{models_dir}} --no-panel",
        )
    paths = [e.get("Paths") for e in entries(resources) if e.action == "START_DESIGN"]
    assert paths == [f"models_dir={resources['models']}"]


def test_kernel_interrupt_stops_a_slow_command_and_logs_nothing(ip, resources, tmp_path):
    import signal
    import time

    log_path = start(ip, resources)
    before = log_path.read_bytes()
    marker = tmp_path / "child.pid"

    def interrupt(*_):  # what a kernel interrupt does: KeyboardInterrupt in the main thread
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.5)
    began = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            ip.run_cell_magic("log_verify", "MODEL", f"echo $BASHPID > {marker}; sleep 60\n")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - began < 30
    assert log_path.read_bytes() == before
    pid = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the command's shell outlived the interrupt")


def test_what_no_log_shows_is_masked_as_the_log_would_be(ip, resources):
    start(ip, resources)
    with capture_output() as captured:
        shown = ip.run_line_magic(
            "log_entry",
            'NOTE "Downloading" command="HF_TOKEN=hf_abcdefghijklmnopqrstuvwx huggingface-cli '
            'download" result="ok" --no-log',
        )
    assert "hf_abcdefghijklmnopqrstuvwx" not in text_of(captured)
    assert shown.get("Command") == "HF_TOKEN=**** huggingface-cli download"


def test_outcome_of_another_experiment_is_refused_in_this_session(ip, resources, tmp_path):
    start(ip, resources)
    other = tmp_path / "another_experiment"
    other.mkdir()
    with pytest.raises(UsageError, match="is not this session's experiment"):
        ip.run_line_magic("designlog", f"outcome {other}")
    assert [e.action for e in read_log(resources["experiment"]).entries] == ["START_DESIGN"]
