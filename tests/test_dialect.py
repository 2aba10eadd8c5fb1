"""The upstream dialect: hand-written logs from cruijff_kit's own examples and format strings.

The fixtures and the truth each test checks are described in tests/data/dialect/README.md.
"""

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from designlog_magics.entry import ACTION_NAME_RE, FIELD_NAME_RE, Entry
from designlog_magics.store import read_log
from designlog_magics.textformat import (
    ParseResult,
    _parse_clean,
    _parse_lines,
    dialect_of,
    entry_dialect,
    parse,
    render_all,
)
from tests.budget import at_most

DATA = Path(__file__).parent / "data" / "dialect"

DESIGN_ACTIONS = [  # design-experiment/logging.md, "Action Types", in the table's order
    "START_DESIGN",
    "CONSULT_PRIOR_EXPERIMENT",
    "CONSULT_DOCUMENTATION",
    "VERIFY_MODEL",
    "VERIFY_DATASET",
    "COUNT_DATASET_SAMPLES",
    "VERIFY_EVAL_TASK",
    "SEARCH_PRIOR_RUNS",
    "EXTRACT_TRAINING_SPEED",
    "CALCULATE_TRAINING_TIME",
    "CHECK_DISK_SPACE",
    "CALCULATE_DISK_USAGE",
    "USER_QUESTION",
    "USER_RESPONSE",
    "DESIGN_DECISION",
    "DATA_GEN_CONFIG",
    "DATA_GEN_CONDITION",
    "GENERATE_RUNS",
    "GENERATE_EVAL_MATRIX",
    "CREATE_YAML",
    "CREATE_LOG",
    "COMPLETE_DESIGN",
]


def read(name: str) -> tuple[str, ParseResult]:
    text = (DATA / name).read_text(encoding="utf-8")
    return text, parse(text)


def flags(result: ParseResult) -> tuple[list[int], list[int]]:
    """1-based positions of the entries that failed, and of those that warned."""
    failed = [n for n, e in enumerate(result.entries, 1) if e.failed]
    warned = [n for n, e in enumerate(result.entries, 1) if e.warned]
    return failed, warned


@pytest.mark.parametrize(
    "name, dialect",
    [
        ("complete-example.log", "upstream"),
        ("example-entries.log", "upstream"),
        ("all-actions.log", "upstream"),
        ("incomplete.log", "upstream"),
        ("shared-spec-example.log", "seed"),
    ],
)
def test_each_fixture_is_read_without_a_diagnostic_by_both_readers(name, dialect):
    text, result = read(name)
    assert result.diagnostics == [] and not result.truncated
    assert result.dialect == dialect
    reference = ParseResult()
    _parse_lines(text, 1, reference)
    assert reference.diagnostics == []
    assert result.entries == reference.entries and result.entry_lines == reference.entry_lines
    clean = ParseResult()
    assert _parse_clean(text, 0, len(text), 1, clean) == text.count("\n")
    assert clean.entries == result.entries
    # written back, each entry is the upstream text it came from
    assert render_all(result.entries) == text.rstrip("\n") + "\n\n"


def test_complete_example_log():
    _, result = read("complete-example.log")
    entries = result.entries
    assert [e.action for e in entries] == [
        "START_DESIGN",
        "VERIFY_MODEL",
        "VERIFY_DATASET",
        "COUNT_DATASET_SAMPLES",
        "VERIFY_EVAL_TASK",
        "SEARCH_PRIOR_RUNS",
        "EXTRACT_TRAINING_SPEED",
        "CALCULATE_TRAINING_TIME",
        "CHECK_DISK_SPACE",
        "CALCULATE_DISK_USAGE",
        "GENERATE_RUNS",
        "GENERATE_EVAL_MATRIX",
        "CREATE_YAML",
        "CREATE_LOG",
        "COMPLETE_DESIGN",
    ]
    assert all(e.brief == "" for e in entries)
    assert all(
        e.fields[0][0] == "Details" and e.fields[-1] == ("Result", "success") for e in entries
    )
    assert flags(result) == ([], [])
    assert result.entry_lines[0] == 1 and result.entry_lines[-1] == 100
    assert entries[0].timestamp == datetime(2025, 10, 22, 14, 30, 0)
    assert entries[-1].timestamp == datetime(2025, 10, 22, 14, 30, 8)
    complete = entries[-1]
    assert [k for k, _ in complete.fields] == [
        "Details",
        "Experiment",
        "Files created",
        "Duration",
        "Result",
    ]
    assert complete.get("Files created") == "experiment_summary.yaml, logs/design-experiment.log"
    assert complete.get("Duration") == "8.89 seconds"
    timing = entries[7]
    assert timing.get("Per epoch") == "120 seconds"
    assert timing.get("Total") == "240 seconds (4 minutes)"
    assert entries[13].get("Entries") == "14"  # as upstream wrote it, for a 15-entry log


def test_example_entries():
    _, result = read("example-entries.log")
    entries = result.entries
    assert [e.action for e in entries] == [
        "START_DESIGN",
        "CONSULT_PRIOR_EXPERIMENT",
        "CONSULT_DOCUMENTATION",
        "VERIFY_MODEL",
        "VERIFY_MODEL",
        "VERIFY_DATASET",
        "COUNT_DATASET_SAMPLES",
        "VERIFY_EVAL_TASK",
        "SEARCH_PRIOR_RUNS",
        "EXTRACT_TRAINING_SPEED",
        "CALCULATE_TRAINING_TIME",
        "CHECK_DISK_SPACE",
        "CALCULATE_DISK_USAGE",
        "USER_QUESTION",
        "USER_RESPONSE",
        "DESIGN_DECISION",
        "DATA_GEN_CONFIG",
        "DATA_GEN_CONDITION",
        "DATA_GEN_CONDITION",
        "GENERATE_RUNS",
        "GENERATE_EVAL_MATRIX",
        "CREATE_YAML",
        "CREATE_LOG",
        "COMPLETE_DESIGN",
        "VERIFY_MODEL",
    ]
    assert all(e.brief == "" for e in entries)
    assert flags(result) == ([5, 25], [])
    failure = entries[4]
    assert failure.get("Error") == "FileNotFoundError - Model directory does not exist"
    assert failure.get("Result") == "failure"
    decision = entries[15]
    assert [k for k, _ in decision.fields] == [
        "Details",
        "Decision",
        "Alternatives considered",
        "Rationale",
        "Evidence",
        "Result",
    ]
    assert decision.get("Alternatives considered") == (
        "\n- lora_rank [4, 8, 16]: More comprehensive comparison, but 50% more training time"
        "\n- lora_rank [8, 16]: Test higher capacity, but no baseline comparison to prior work"
    )
    config = entries[16]
    assert len(config.fields) == 11
    assert config.get("Context placement") == "system_prompt"
    assert config.get("Missing value handling") == "skip"
    assert config.get("Question") == "Is this person's income above $50,000?"
    assert entries[18].get("Style guidance") == (
        '"Natural, readable prose suitable for evaluation. 2-3 sentences..."'
    )


def test_all_actions_log():
    _, result = read("all-actions.log")
    entries = result.entries
    actions = [e.action for e in entries]
    assert len(entries) == 29
    assert actions[24:] == [
        "SUBMIT_JOB",
        "SUBMIT_JOB",
        "STATE_CHANGE",
        "STATE_CHANGE",
        "ALL_COMPLETE",
    ]
    assert sorted(set(actions[:24])) == sorted(DESIGN_ACTIONS)
    assert [a for a in dict.fromkeys(actions[:24])] == DESIGN_ACTIONS
    assert [e.brief for e in entries[24:]] == [
        "template_dictionary",
        "template_narrative",
        "template_dictionary",
        "template_dictionary",
        "",
    ]
    assert all(e.brief == "" for e in entries[:24])
    assert flags(result) == ([4, 10, 26], [13])
    sbatch = entries[25]
    assert sbatch.get("Error") is None
    assert sbatch.get("Result", "").startswith(
        "failure: sbatch: error: Batch job submission failed"
    )
    disk = entries[12]
    assert disk.action == "CHECK_DISK_SPACE" and disk.get("Result") == "warning"
    assert disk.get("Error") == "LowDiskSpace - 40 GB available, 48 GB estimated for checkpoints"
    assert entries[24].get("Job ID") == "4811001"
    assert entries[26].get("Details") == "job 4811001: PENDING -> RUNNING"
    assert [e.get("Result") for e in entries[26:]] == ["tracked", "tracked", "done"]
    assert entries[11].get("Per epoch") == "180 seconds"
    assert entries[23].get("Files created") == "experiment_summary.yaml, logs/design-experiment.log"
    alternatives = entries[16].get("Alternatives considered", "")
    assert alternatives.startswith("\n- template [dictionary, narrative, bullet]: ")
    assert alternatives.count("\n- template [") == 2


def test_incomplete_log():
    text, result = read("incomplete.log")
    assert [e.action for e in result.entries] == [
        "START_DESIGN",
        "VERIFY_MODEL",
        "VERIFY_DATASET",
        "SEARCH_PRIOR_RUNS",
        "EXTRACT_TRAINING_SPEED",
        "CALCULATE_TRAINING_TIME",
        "USER_QUESTION",
    ]
    assert flags(result) == ([], [])
    present = {e.action for e in result.entries}
    assert not present & {
        "CHECK_DISK_SPACE",
        "CALCULATE_DISK_USAGE",
        "CREATE_YAML",
        "COMPLETE_DESIGN",
    }
    assert text.endswith("Result: success\n") and not result.truncated


def test_cut_upstream_log_reports_its_incomplete_last_entry():
    text, _ = read("all-actions.log")
    cut = text[: text.index("COMPLETED=1")]
    result = parse(cut)
    assert result.truncated and result.ok
    assert len(result.entries) == 29 and result.entries[-1].action == "ALL_COMPLETE"
    assert any(
        "incomplete" in d.message and d.line == result.entry_lines[-1] for d in result.diagnostics
    )


def test_shared_spec_example_is_the_seed_shape():
    _, result = read("shared-spec-example.log")
    (entry,) = result.entries
    assert entry.brief == "Checking Llama-3.2-1B-Instruct"
    assert [k for k, _ in entry.fields] == ["Command", "Result", "Explanation"]
    assert not entry.failed and not entry.warned
    assert entry_dialect(entry) == "seed"


def test_read_log_finds_the_upstream_location(tmp_path):
    logs = tmp_path / "exp" / "logs"
    logs.mkdir(parents=True)
    (logs / "design-experiment.log").write_bytes((DATA / "incomplete.log").read_bytes())
    result = read_log(tmp_path / "exp")
    assert len(result.entries) == 7 and result.dialect == "upstream"


STAMP = datetime(2025, 10, 22, 14, 30, 1)


@pytest.mark.parametrize(
    "fields, failed, warned",
    [
        ((("Result", "success"),), False, False),
        ((("Result", "tracked"),), False, False),
        ((("Result", "done"),), False, False),
        ((("Result", "monitoring paused; jobs continue"),), False, False),
        ((("Result", "failure"),), True, False),
        ((("Result", "failure: sbatch error"),), True, False),
        ((("Error", "FileNotFoundError - gone"), ("Result", "failure")), True, False),
        ((("Error", "LowDiskSpace - 40 GB"), ("Result", "warning")), False, True),
        ((("Result", "warning"),), False, True),
        ((("Result", "Warning: only 3G free"),), False, True),
        ((("Result", "Failed: exit 2"),), True, False),
        ((("Result", "Missing"), ("Error", "No such file")), True, False),
        ((("Result", "Directory exists"), ("Error", "permission denied on one file")), True, False),
        ((("Result", "Directory exists"), ("Warning", "only 3G free")), False, True),
    ],
)
def test_failed_and_warned_read_both_dialects(fields, failed, warned):
    entry = Entry(STAMP, "VERIFY_MODEL", "", fields)
    assert (entry.failed, entry.warned) == (failed, warned)


def test_dialect_rule():
    upstream = Entry(STAMP, "START_DESIGN", "", (("Details", "Beginning"),))
    status_only = Entry(STAMP, "VERIFY_MODEL", "", (("Result", "Success"),))
    seed = Entry(STAMP, "VERIFY_MODEL", "x", (("Command", "ls"), ("Result", "Directory exists")))
    bare = Entry(STAMP, "COMPLETE", "")
    assert [entry_dialect(e) for e in (upstream, status_only, seed, bare)] == [
        "upstream",
        "upstream",
        "seed",
        "seed",
    ]
    assert dialect_of([]) == "seed"
    assert dialect_of([upstream, seed]) == "seed"  # a tie is ours
    assert dialect_of([upstream, status_only, seed]) == "upstream"


def test_diagnostics_name_both_header_forms_and_list_indentation():
    text = (
        "[2025-10-22 14:30:00] START_DESIGN   \n"  # trailing blanks after a briefless header
        "Details: Beginning experiment design\n"
        "Alternatives considered:\n"
        "- lora_rank [4, 8]: unindented list item\n"
        "Result: success\n"
        "\n"
        "[22/10/2025 14:30] VERIFY_MODEL\n"
        "Result: success\n"
    )
    result = parse(text)
    start = result.entries[0]
    assert start.action == "START_DESIGN" and start.brief == ""
    assert start.get("Alternatives considered") == "\n- lora_rank [4, 8]: unindented list item"
    by_line = {d.line: d for d in result.diagnostics}
    assert by_line[4].severity == "warning" and "indented by two spaces" in by_line[4].message
    assert by_line[7].severity == "error"
    assert "ACTION_TYPE: brief (seed dialect)" in by_line[7].message
    assert "ACTION_TYPE (upstream dialect)" in by_line[7].message


# -- upstream-shaped entries, written the way the upstream tools and examples write them --------

UPSTREAM_KEYS = [
    "Details",
    "Experiment",
    "Directory",
    "Path",
    "Size",
    "Job ID",
    "Per epoch",
    "Files created",
    "Key findings",
    "Total checkpoints",
    "Context placement",
    "Missing value handling",
    "Style guidance",
]
# One line of text as an upstream writer puts it after "Key: ": anything but line breaks, and no
# backslash (the dialect has no escapes, and ours would read \\r, \\xHH, \\uHHHH, \\\\ as ones).
line_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\\"), max_size=40
)
field_keys = st.one_of(
    st.sampled_from(UPSTREAM_KEYS),
    st.from_regex(FIELD_NAME_RE, fullmatch=True).filter(lambda s: s == s.rstrip()),
)
statuses = st.one_of(
    st.sampled_from(["success", "failure", "warning", "tracked", "done"]),
    line_text.map(lambda error: f"failure: {error}"),
)


@st.composite
def upstream_blocks(draw):
    """(text of one block, the entry it should read as, failed, warned)."""
    stamp = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
    stamp = stamp.replace(microsecond=0)
    action = draw(
        st.one_of(st.sampled_from(DESIGN_ACTIONS), st.from_regex(ACTION_NAME_RE, fullmatch=True))
    )
    brief = draw(st.one_of(st.none(), line_text))
    lines = [f"[{stamp:%Y-%m-%d %H:%M:%S}] {action}" + ("" if brief is None else f": {brief}")]
    fields = []
    details = draw(line_text)
    lines.append(f"Details: {details}")
    fields.append(("Details", details))
    for key, kind in draw(st.lists(st.tuples(field_keys, st.booleans()), max_size=5)):
        if kind:  # a list under an empty key, as "Alternatives considered:"
            items = draw(st.lists(line_text, min_size=1, max_size=3))
            lines.append(f"{key}:")
            lines.extend(f"  - {item}" for item in items)
            fields.append((key, "".join(f"\n- {item}" for item in items)))
        else:
            value = draw(line_text)
            lines.append(f"{key}: {value}")
            fields.append((key, value))
    status = draw(statuses)
    error = None
    if status in ("failure", "warning") and draw(st.booleans()):
        error = draw(line_text)
        lines.append(f"Error: {error}")
        fields.append(("Error", error))
    lines.append(f"Result: {status}")
    fields.append(("Result", status))
    entry = Entry(stamp, action, brief or "", tuple(fields))
    return "\n".join(lines), entry, status.startswith("failure"), status == "warning"


@at_most(500)
@given(st.lists(upstream_blocks(), min_size=1, max_size=6))
def test_upstream_shaped_entries_read_back_as_written(blocks):
    # append_log: block.rstrip("\n") + "\n\n"
    text = "".join(block.rstrip("\n") + "\n\n" for block, _, _, _ in blocks)
    result = parse(text)
    assert result.diagnostics == []
    assert result.entries == [entry for _, entry, _, _ in blocks]
    assert [(e.failed, e.warned) for e in result.entries] == [(f, w) for _, _, f, w in blocks]
    assert result.dialect == "upstream"
    assert all(entry_dialect(e) == "upstream" for e in result.entries)
    reference = ParseResult()
    _parse_lines(text, 1, reference)
    assert reference.entries == result.entries and reference.entry_lines == result.entry_lines
    assert parse(render_all(result.entries)).entries == result.entries
