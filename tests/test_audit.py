"""The audit, as an auditor reads a design log: steps, failures, arithmetic, time, agreement."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from designlog_magics import DesignLog, new_entry, read_log, render
from designlog_magics.audit import (
    CHECK_OF_CODE,
    DESIGN_STEPS,
    AuditReport,
    audit_entries,
    audit_notebook,
    audit_path,
    missing_fields,
    recheck_calculation,
    steps_done,
)
from designlog_magics.record import (
    METADATA_KEY,
    RECORD_MIMETYPE,
    LogSnapshot,
    attach_log,
    record_bundle,
)
from tests.notebooks_util import (
    SESSION,
    SPEC_CALCULATION,
    START,
    copy_session,
    executed_session,
    session_entries,
    write_log,
)

REQUIRED = [step for step in DESIGN_STEPS if step.required]
SPEC_INPUT = ("Input", "8000 samples, batch_size=4, speed=4.34 it/s, epochs=2")


def audit_of(tmp_path, entries):
    write_log(tmp_path, entries)
    return audit_path(tmp_path)


def codes(report: AuditReport, severity: str = "error") -> list[str]:
    return [f.code for f in report.findings if f.severity == severity]


def calc_fields(calculation: str) -> list[tuple[str, str]]:
    return [SPEC_INPUT, ("Calculation", calculation), ("Result", "16 minutes"), ("Explanation", "")]


# -- a complete session --------------------------------------------------------------------------
def test_the_specification_example_passes(tmp_path):
    report = audit_of(tmp_path, session_entries())
    assert report.passed, report.render()
    assert report.findings == []
    assert report.entries == len(SESSION)
    assert report.checked == [
        "entries well-formed",
        "required steps before COMPLETE",
        "failures settled",
        "calculations recomputed",
        "timestamps in order",
    ]
    assert "PASSED: 0 errors, 0 warnings; 9 entries checked" in report.render()


@pytest.mark.parametrize("step", REQUIRED, ids=[s.key for s in REQUIRED])
def test_a_missing_required_step_fails_naming_it(tmp_path, step):
    report = audit_of(tmp_path, session_entries(skip=[step.action]))
    assert not report.passed
    (finding,) = [f for f in report.findings if f.code == "missing-step"]
    assert finding.message == f"{step.label}: no successful entry before COMPLETE"
    assert finding.line == read_log(tmp_path).entry_lines[-1]  # the COMPLETE entry
    assert f"FAIL  required steps before COMPLETE\n        ERROR: line {finding.line}: " in (
        report.render()
    )


@pytest.mark.parametrize("step", REQUIRED, ids=[s.key for s in REQUIRED])
def test_a_step_that_only_failed_or_came_after_complete_does_not_count(tmp_path, step):
    entries = session_entries(skip=[step.action])
    failed = new_entry(step.action, "tried", result="Failed: not found", timestamp=START)
    late = new_entry(step.action, "too late", result="ok", timestamp=START + timedelta(hours=1))
    report = audit_of(tmp_path, [failed, *entries, late])
    assert any(f.code == "missing-step" and step.label in f.message for f in report.findings)


def test_a_preliminary_estimate_stands_in_for_the_prior_run_search(tmp_path):
    preliminary = {
        "CALCULATE_TIME": [
            SPEC_INPUT,
            ("Calculation", SPEC_CALCULATION),
            ("Result", "Preliminary: about 16 minutes (no prior run to compare with)"),
            ("Explanation", "Estimate to be replaced once a similar run exists"),
        ]
    }
    skip = ["SEARCH_PRIOR_RUNS", "EXTRACT_SPEED"]
    assert audit_of(tmp_path / "a", session_entries(skip=skip, change=preliminary)).passed
    report = audit_of(tmp_path / "b", session_entries(skip=skip))
    assert [f.message for f in report.findings if f.code == "missing-step"] == [
        "prior runs searched: no successful entry before COMPLETE"
    ]


def test_without_complete_the_design_is_not_finished(tmp_path):
    report = audit_of(tmp_path, session_entries(skip=["COMPLETE"]))
    assert codes(report) == ["not-complete"]


def test_an_empty_log_fails_on_every_step(tmp_path):
    (tmp_path / "design-experiment.log").write_text("")
    report = audit_path(tmp_path)
    assert codes(report) == ["not-complete"] + ["missing-step"] * len(REQUIRED)


# -- failures ------------------------------------------------------------------------------------
def _with_failure_then(tmp_path, *later, action="VERIFY_EVAL_TASK"):
    """The session with a failed check after its first entry, then ``later`` entries."""
    entries = session_entries()
    failure = new_entry(
        action,
        "Checking the eval task",
        command="ls tasks/capitalization_eval.py",
        result="Not found: no such file",
        timestamp=START + timedelta(seconds=5),
    )
    return audit_of(tmp_path, [entries[0], failure, *later, *entries[1:]])


def test_an_unsettled_failure_fails(tmp_path):
    report = _with_failure_then(tmp_path)
    (finding,) = report.findings
    assert finding.code == "unsettled-failure"
    assert finding.line == 6  # the failed entry's header
    assert "VERIFY_EVAL_TASK failed (Not found: no such file)" in finding.message


def test_a_later_resolution_settles_a_failure(tmp_path):
    resolution = new_entry(
        "DECIDE_EVAL",
        "Evaluating without the task file",
        decision="built-in accuracy metric",
        resolution="VERIFY_EVAL_TASK failed; the built-in metric is used instead",
        timestamp=START + timedelta(seconds=10),
    )
    assert _with_failure_then(tmp_path, resolution).findings == []


def test_a_later_success_settles_a_failure(tmp_path):
    # the session's own VERIFY_DATASET comes after the failed one
    report = _with_failure_then(tmp_path, action="VERIFY_DATASET")
    assert report.passed and codes(report) == []


# -- calculations --------------------------------------------------------------------------------
def test_the_specification_calculation_rechecks():
    entry = new_entry("CALCULATE_TIME", "Training time estimate", calc_fields(SPEC_CALCULATION))
    assert recheck_calculation(entry) == []


def test_a_tampered_calculation_fails_naming_its_line(tmp_path):
    tampered = SPEC_CALCULATION.replace("= 2000,", "= 2500,")
    report = audit_of(tmp_path, session_entries(change={"CALCULATE_TIME": calc_fields(tampered)}))
    (finding,) = report.errors
    assert finding.code == "calculation"
    assert "8000/4 = 2500 is wrong: it is 2000" in finding.message
    lines = (tmp_path / "design-experiment.log").read_text().split("\n")
    assert lines[finding.line - 1] == f"Calculation: {tampered}"
    assert f"line {finding.line}: CALCULATE_TIME 'Training time estimate': 8000/4" in (
        report.render()
    )


@pytest.mark.parametrize(
    "calculation, problem",
    [
        ("steps_per_epoch = 8000/4 = 2000, time_per_epoch = 2000/4.34 ≈ 600s", "2000/4.34 ≈ 600s"),
        ("total = 2 * 8 = 18 min", "2 * 8 = 18 min"),
        ("disk = 4 * 10.5 = 42.5 GiB", "4 * 10.5 = 42.5 GiB"),
    ],
)
def test_wrong_arithmetic_is_found(calculation, problem):
    entry = new_entry("CALCULATE_TIME", "estimate", calc_fields(calculation))
    (found,) = recheck_calculation(entry)
    assert found.startswith(problem)


def test_words_and_rounded_values_are_not_arithmetic_to_recheck():
    entry = new_entry(
        "CALCULATE_DISK",
        "checkpoints",
        calculation="4 runs x ~10 GiB each = about 40 GiB, per epoch ≈ 8min",
    )
    assert recheck_calculation(entry) == []


# -- time and form -------------------------------------------------------------------------------
def test_timestamps_going_backwards_fail_with_the_line(tmp_path):
    entries = session_entries()
    entries[4] = new_entry(
        entries[4].action, entries[4].brief, entries[4].fields, timestamp=START - timedelta(days=1)
    )
    report = audit_of(tmp_path, entries)
    (finding,) = report.errors
    assert finding.code == "time-order"
    assert finding.line == read_log(tmp_path).entry_lines[4]


def test_malformed_lines_are_findings_with_line_numbers(tmp_path):
    text = "".join(render(e) for e in session_entries())
    text += "[22/10/2025 14:30] NOTE: a header in another format\nstray text\n\n"
    text += "[2025-10-22 14:40:00] NOTE: cut"  # no newline: the writer was interrupted
    (tmp_path / "design-experiment.log").write_text(text)
    report = audit_path(tmp_path)
    errors = [(f.code, f.line) for f in report.errors]
    lines = text.split("\n")
    assert errors == [
        ("malformed", lines.index("[22/10/2025 14:30] NOTE: a header in another format") + 1)
    ]
    assert [f.code for f in report.warnings] == ["malformed"]
    assert "incomplete" in report.warnings[0].message


def test_missing_usual_fields_are_warnings_not_failures(tmp_path):
    change = {"CHECK_DISK": [("Result", "2.1T available")]}
    report = audit_of(tmp_path, session_entries(change=change))
    assert report.passed
    assert [f.message for f in report.warnings] == [
        "CHECK_DISK: no Command: field",
        "CHECK_DISK: no Explanation: field",
    ]
    assert missing_fields(new_entry("CUSTOM_THING", "")) == []
    assert missing_fields(new_entry("COMPLETE", "", status="x", next_steps="y")) == [
        "no brief description after the action type",
        "no Explanation: field",
    ]


# -- reports ---------------------------------------------------------------------------------------
def test_report_as_json_and_as_text(tmp_path):
    tampered = SPEC_CALCULATION.replace("≈ 461s", "≈ 900s")
    report = audit_of(
        tmp_path,
        session_entries(skip=["CHECK_DISK"], change={"CALCULATE_TIME": calc_fields(tampered)}),
    )
    data = json.loads(json.dumps(report.as_dict()))
    assert data["passed"] is False and data["errors"] == 2 and data["entries"] == 8
    assert data["log_path"] == str(tmp_path / "design-experiment.log")
    assert {c["check"]: c["passed"] for c in data["checks"]} == {
        "entries well-formed": True,
        "required steps before COMPLETE": False,
        "failures settled": True,
        "calculations recomputed": False,
        "timestamps in order": True,
    }
    assert {f["code"]: f["check"] for f in data["findings"]} == {
        "missing-step": "required steps before COMPLETE",
        "calculation": "calculations recomputed",
    }
    text = report.render()
    assert text.startswith(f"Audit of {tmp_path / 'design-experiment.log'}\nFAILED: 2 errors")
    assert "  FAIL  calculations recomputed\n        ERROR: line " in text
    assert "  ok    timestamps in order\n" in text
    assert set(CHECK_OF_CODE.values()) >= set(report.checked)


def test_audit_path_takes_a_file_a_directory_or_nothing(tmp_path):
    log_path = write_log(tmp_path / "exp", session_entries())
    assert audit_path(log_path).passed and audit_path(tmp_path / "exp").passed
    with pytest.raises(FileNotFoundError, match="no design log at"):
        audit_path(tmp_path / "nowhere")


# -- notebooks -----------------------------------------------------------------------------------
def _notebook(tmp_path, log_path, *, shown=None, record=True, attach=False):
    """A notebook (no kernel) whose outputs show ``shown`` entries and a record of the log."""
    outputs = [
        new_output("display_data", data={"text/plain": render(e), "text/html": "<div/>"})
        for e in shown or []
    ]
    if record:
        outputs.append(new_output("display_data", data=record_bundle(log_path)))
    nb = new_notebook(cells=[new_code_cell(f"%designlog start {log_path.parent}", outputs=outputs)])
    path = tmp_path / "design.ipynb"
    nbformat.write(nb, path)
    if attach:
        attach_log(path, log_path)
    return path


def test_an_executed_notebook_agrees_with_its_log(tmp_path_factory):
    notebook = executed_session(tmp_path_factory.getbasetemp())
    report = audit_path(notebook)
    assert report.passed, report.render()
    assert report.findings == []
    assert report.checked[-1] == "notebook agrees with the log file"
    assert report.source == str(notebook)
    assert report.log_path == str(notebook.parent / "exp" / "design-experiment.log")


def test_an_executed_notebook_whose_outputs_were_edited_fails(tmp_path_factory, tmp_path):
    notebook = copy_session(executed_session(tmp_path_factory.getbasetemp()), tmp_path / "nb")
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("%log_entry CHECK_DISK"))
    output = cell.outputs[0]
    output["data"]["text/plain"] = output["data"]["text/plain"].replace(
        "2.1T available", "9.9T available"
    )
    nbformat.write(nb, notebook)
    report = audit_path(notebook)
    assert not report.passed
    assert codes(report) == ["notebook-extra"]
    (finding,) = report.errors
    number = nb.cells.index(cell) + 1
    assert finding.message.startswith(
        f"cell {number} (In [{cell.execution_count}]), in an output, shows an entry"
    )
    assert "CHECK_DISK: Verifying available disk space" in finding.message


def test_a_log_that_grew_after_the_notebook_ran_fails_listing_the_entries(
    tmp_path_factory, tmp_path
):
    notebook = copy_session(executed_session(tmp_path_factory.getbasetemp()), tmp_path / "nb")
    DesignLog(notebook.parent / "exp").append(new_entry("NOTE", "written after the record"))
    report = audit_path(notebook)
    (finding,) = report.errors
    assert finding.code == "notebook-missing"
    assert finding.message.endswith("NOTE: written after the record")
    assert finding.line == read_log(notebook.parent / "exp").entry_lines[-1]


def test_a_rewritten_log_file_disagrees_on_both_sides(tmp_path):
    log_path = write_log(tmp_path / "exp", session_entries())
    notebook = _notebook(tmp_path, log_path, shown=session_entries())
    text = log_path.read_text().replace("2.1T available", "900G available")
    log_path.write_text(text)
    report = audit_path(notebook)
    assert sorted(codes(report)) == ["notebook-extra", "notebook-missing"]
    extra = next(f for f in report.errors if f.code == "notebook-extra")
    assert "cell 1, in an output, shows an entry the log file lacks" in extra.message
    assert "notebook agrees with the log file" in report.render()


def test_embedded_metadata_is_compared_and_a_stale_copy_is_a_warning(tmp_path):
    log_path = write_log(tmp_path / "exp", session_entries())
    notebook = _notebook(tmp_path, log_path, record=False, attach=True)
    assert audit_path(notebook).findings == []
    # outputs now show a newer record; the metadata lags behind
    DesignLog(log_path.parent).append(new_entry("NOTE", "later"))
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[0].outputs.append(new_output("display_data", data=record_bundle(log_path)))
    nbformat.write(nb, notebook)
    report = audit_path(notebook)
    assert report.passed and codes(report, "warning") == ["notebook-stale"]
    # a metadata entry the file does not have
    nb.metadata[METADATA_KEY]["entries"].append(
        new_entry("NOTE", "only in metadata", timestamp=START).as_dict()
    )
    nbformat.write(nb, notebook)
    report = audit_path(notebook)
    assert codes(report) == ["notebook-extra"]
    assert "metadata has an entry the log file lacks" in report.errors[0].message


def test_a_notebook_whose_log_is_gone_fails_but_its_copy_is_audited(tmp_path):
    log_path = write_log(tmp_path / "exp", session_entries(skip=["CHECK_DISK"]))
    notebook = _notebook(tmp_path, log_path)
    log_path.unlink()
    report = audit_notebook(notebook)
    assert sorted(codes(report)) == ["log-missing", "missing-step"]
    assert report.entries == len(SESSION) - 1 and report.log_path is None


def test_a_notebook_with_a_broken_record_is_reported(tmp_path):
    log_path = write_log(tmp_path / "exp", session_entries())
    notebook = _notebook(tmp_path, log_path)
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[0].outputs[0]["data"][RECORD_MIMETYPE]["entries"] = [{"timestamp": "never"}]
    nbformat.write(nb, notebook)
    report = audit_path(notebook, log_path=log_path)
    assert "notebook-unreadable" in codes(report)
    assert LogSnapshot.from_file(log_path).entries == tuple(read_log(log_path).entries)


def test_audit_entries_keeps_its_contract_for_the_magics():
    report = audit_entries(session_entries())
    assert report.passed and report.entries == len(SESSION)
    broken = session_entries(skip=["VERIFY_MODEL"])
    assert [f.line for f in audit_entries(broken).errors] == [None]


# -- the workflow's later dialect -------------------------------------------------------------
DIALECT = Path(__file__).parent / "data" / "dialect"


def _upstream_experiment(tmp_path, name: str) -> Path:
    """An experiment directory laid out as the workflow lays it out: the log under logs/."""
    experiment = tmp_path / "exp"
    (experiment / "logs").mkdir(parents=True)
    shutil.copy(DIALECT / f"{name}.log", experiment / "logs" / "design-experiment.log")
    return experiment


def test_the_later_dialects_complete_example_passes_and_says_its_dialect(tmp_path):
    experiment = _upstream_experiment(tmp_path, "complete-example")
    report = audit_path(experiment)
    assert report.passed, report.render()
    assert report.dialect == "upstream" and report.warnings == []
    assert "Dialect: the workflow's later one" in report.render()
    assert report.as_dict()["dialect"] == "upstream"
    # the name decided in START_DESIGN's Experiment:, the summary by CREATE_YAML, the end by
    # COMPLETE_DESIGN: the 22 types map onto the design steps
    assert steps_done(read_log(experiment).entries) == dict.fromkeys(
        ("model", "dataset", "search", "speed", "time", "disk", "naming", "summary", "complete"),
        True,
    )


def test_an_incomplete_later_dialect_log_fails_naming_the_missing_steps(tmp_path):
    report = audit_path(_upstream_experiment(tmp_path, "incomplete"))
    assert not report.passed
    missing = [f.message for f in report.findings_of("required steps before COMPLETE")]
    assert any(m.startswith("disk checked: no successful entry") for m in missing), missing
    assert any(m.startswith("summary created: no successful entry") for m in missing), missing
    assert not any(m.startswith(("model verified", "dataset verified")) for m in missing)


def test_a_tool_written_failure_in_the_later_dialect_is_unsettled(tmp_path):
    report = audit_path(_upstream_experiment(tmp_path, "all-actions"))
    unsettled = report.findings_of("failures settled")
    assert len(unsettled) == 1 and "SUBMIT_JOB failed (failure: sbatch" in unsettled[0].message
    assert report.findings_of("entries well-formed") == []


def test_the_later_dialect_is_read_by_show_and_the_panel(tmp_path):
    import subprocess
    import sys

    from designlog_magics.panel import open_panel

    experiment = _upstream_experiment(tmp_path, "complete-example")
    shown = subprocess.run(
        [sys.executable, "-m", "designlog_magics", "show", str(experiment), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    actions = [e["action"] for e in json.loads(shown.stdout)]
    assert actions[0] == "START_DESIGN" and actions[-1] == "COMPLETE_DESIGN" and len(actions) == 15
    panel = open_panel(experiment, "inline", follow=False, display=False)
    try:
        assert [e.action for e in panel.entries()] == actions
        assert panel.path == experiment / "logs" / "design-experiment.log"
        assert all(panel.checklist().values())
    finally:
        panel.close()
