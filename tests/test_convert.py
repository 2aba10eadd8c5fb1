"""``designlog convert``: a log in the seed or the upstream dialect, every field kept both ways."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from designlog_magics.audit import audit_path
from designlog_magics.convert import (
    MARKERS,
    SEED_MARKERS,
    UPSTREAM_MARKERS,
    ConvertError,
    convert_log_text,
    convert_text,
    default_output,
    marker_counts,
    to_seed,
    to_upstream,
)
from designlog_magics.entry import ACTION_NAME_RE, FIELD_NAME_RE, Entry
from designlog_magics.spec import BUILTIN_ACTIONS, SEED_TO_UPSTREAM, UPSTREAM_ACTIONS
from designlog_magics.textformat import entry_dialect, parse, render, render_all
from tests.cli_process import assert_one_line_error, run_designlog

DATA = Path(__file__).parent / "data"
DEMO_LOG = DATA / "plan" / "demo-design-experiment.log"
DIALECT_LOGS = sorted((DATA / "dialect").glob("*.log"))
UPSTREAM_LOGS = [p for p in DIALECT_LOGS if parse(p.read_text()).dialect == "upstream"]
STAMP = datetime(2025, 10, 22, 14, 30)
HEADER_RE = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] [A-Z0-9_]+")


def entry(action: str, brief: str = "", *fields: tuple[str, str]) -> Entry:
    return Entry(STAMP, action, brief, tuple(fields))


def demo_entries() -> list[Entry]:
    result = parse(DEMO_LOG.read_text())
    assert result.diagnostics == [] and len(result.entries) == 14
    return result.entries


# -- the demo log, seed to upstream and back ------------------------------------------------------
def test_demo_log_reads_as_the_upstream_dialect_and_comes_back_whole():
    seed = demo_entries()
    upstream = to_upstream(seed)
    assert to_seed(upstream) == seed
    assert [e.action for e in upstream] == [
        "START_DESIGN",
        "DESIGN_DECISION",
        "VERIFY_MODEL",
        "VERIFY_DATASET",
        "SEARCH_PRIOR_RUNS",
        "EXTRACT_TRAINING_SPEED",
        "CALCULATE_TRAINING_TIME",
        "EXTRACT_TRAINING_SPEED",
        "CALCULATE_EVAL_TIME",
        "CALCULATE_DISK_USAGE",
        "CHECK_DISK_SPACE",
        "DESIGN_DECISION",
        "CREATE_YAML",
        "COMPLETE_DESIGN",
    ]
    for before, after in zip(seed, upstream, strict=True):
        assert after.brief == ""  # briefless headers
        assert after.fields[0] == ("Details", before.brief)  # Details first
        assert after.fields[-1] == ("Result", "success")  # the status last
        assert after.get_all("Result Text") == before.get_all("Result")
        assert entry_dialect(after) == "upstream"
    # DECIDE_RECIPE has no upstream type of its own: DESIGN_DECISION says which decision it was
    recipe = upstream[11]
    assert recipe.fields[:2] == (
        ("Details", "Recipe and configuration"),
        ("Seed Action", "DECIDE_RECIPE"),
    )
    # the naming decision says it names the experiment: no marker
    assert upstream[1].get("Seed Action") is None
    assert marker_counts(upstream, "upstream") == {"Result Text": 10, "Seed Action": 1}


def test_demo_log_text_in_the_upstream_dialect_is_what_the_upstream_spec_writes():
    text = DEMO_LOG.read_text()
    upstream_text = convert_text(text, "upstream")
    headers = [line for line in upstream_text.splitlines() if line.startswith("[")]
    assert len(headers) == 14 and all(HEADER_RE.fullmatch(line) for line in headers)
    # written by hand from the demo log's VERIFY_MODEL entry and design-experiment/logging.md's
    # "Entry Structure" ([TIMESTAMP] ACTION_TYPE / Details: / key: value lines / Result: ...)
    assert (
        "[2026-12-01 22:29:24] VERIFY_MODEL\n"
        "Details: Checking Llama-3.2-1B-Instruct\n"
        "Command: designlog verify MODEL {models_dir}/Llama-3.2-1B-Instruct\n"
        "Result Text: Directory exists with 8 files (config.json, model.safetensors, README.md, "
        "etc.), 33K total\n"
        "Explanation: Verifying base model exists before creating experiment plan\n"
        "Result: success\n\n"
    ) in upstream_text
    assert (
        "[2026-12-01 22:29:26] CHECK_DISK_SPACE\n"
        "Details: Verifying available disk space\n"
        "Command: designlog disk {scratch_dir} --need 40G\n"
        "Result Text: 73G available, enough for the 40G needed\n"
        "Explanation: Ensuring sufficient space for ~40G of checkpoints\n"
        "Result: success\n\n"
    ) in upstream_text
    result = parse(upstream_text)
    assert result.diagnostics == [] and result.dialect == "upstream"
    assert convert_text(upstream_text, "seed") == render_all(demo_entries())


def test_a_complete_seed_log_converted_to_upstream_still_passes_the_audit(tmp_path):
    source = tmp_path / "design-experiment.log"
    source.write_text(DEMO_LOG.read_text())
    assert audit_path(source).passed
    converted = tmp_path / "converted" / "design-experiment.log"
    converted.parent.mkdir()
    converted.write_text(convert_text(source.read_text(), "upstream"))
    report = audit_path(converted)
    assert report.passed, report.render()
    assert report.errors == []
    assert report.entries == 14


# -- the hand-written upstream logs, upstream to seed and back ------------------------------------
def test_the_dialect_fixtures_are_there():
    names = {p.name for p in UPSTREAM_LOGS}
    assert {"complete-example.log", "example-entries.log", "all-actions.log"} <= names


@pytest.mark.parametrize("path", DIALECT_LOGS, ids=lambda p: p.name)
def test_hand_written_logs_convert_to_seed_and_back_whole(path):
    text = path.read_text()
    result = parse(text)
    assert result.diagnostics == []
    seed = to_seed(result.entries)
    assert to_upstream(seed) == result.entries
    # what each entry records stays what it records
    assert [e.failed for e in seed] == [e.failed for e in result.entries]
    assert [e.timestamp for e in seed] == [e.timestamp for e in result.entries]
    seed_text = convert_text(text, "seed")
    assert parse(seed_text).entries == seed
    assert convert_text(seed_text, "upstream") == render_all(result.entries)


def test_the_upstream_complete_example_reads_as_a_seed_log_without_markers():
    """Truth from design-experiment/logging.md's "Example Complete Log" (the fixture's README):
    15 briefless entries, Details first, `Result: success` last, nothing failed."""
    upstream = parse((DATA / "dialect" / "complete-example.log").read_text()).entries
    seed = to_seed(upstream)
    assert [e.action for e in seed] == [
        "START_DESIGN",
        "VERIFY_MODEL",
        "VERIFY_DATASET",
        "COUNT_DATASET_SAMPLES",
        "VERIFY_EVAL_TASK",
        "SEARCH_PRIOR_RUNS",
        "EXTRACT_SPEED",
        "CALCULATE_TIME",
        "CHECK_DISK",
        "CALCULATE_DISK",
        "GENERATE_RUNS",
        "GENERATE_EVAL_MATRIX",
        "CREATE_SUMMARY",
        "CREATE_LOG",
        "COMPLETE",
    ]
    assert seed[0].brief == "Beginning experiment design"
    assert seed[-1].brief == "Experiment design finished"
    assert seed[-1].fields == (
        ("Experiment", "cap_4L_lora_rank_comparison"),
        ("Files created", "experiment_summary.yaml, logs/design-experiment.log"),
        ("Duration", "8.89 seconds"),
    )
    # success is what a seed entry without an Error: line says: no Result line, no marker
    assert all(e.get("Result") is None for e in seed)
    assert marker_counts(seed, "seed") == {}


def test_the_run_tools_blocks_read_naturally_in_the_seed_dialect():
    """Truth from all-actions.log's README: the tools' headers keep their brief and Details,
    `failure: {error}`, `warning` with an Error line, `tracked` and `done` stay Result lines."""
    upstream = parse((DATA / "dialect" / "all-actions.log").read_text()).entries
    seed = to_seed(upstream)
    assert marker_counts(seed, "seed") == {}
    submit_failed = seed[25]
    assert submit_failed.action == "SUBMIT_JOB" and submit_failed.brief == "template_narrative"
    assert submit_failed.get("Details") == "sbatch finetune.slurm"
    assert submit_failed.get("Result", "").startswith("failure: sbatch: error: Batch job")
    disk = seed[12]
    assert disk.action == "CHECK_DISK"
    assert disk.fields[-2:] == (
        ("Error", "LowDiskSpace - 40 GB available, 48 GB estimated for checkpoints"),
        ("Result", "warning"),
    )
    assert [e.get("Result") for e in seed[26:]] == ["tracked", "tracked", "done"]
    assert seed[3].action == "VERIFY_MODEL" and seed[3].get("Result") is None
    assert seed[3].get("Error", "").startswith("FileNotFoundError")
    decision = seed[16]
    assert decision.action == "DESIGN_DECISION"  # a variable selection, not the name
    naming = [e for e in seed if e.action == "DECIDE_NAMING"]
    assert naming == []


# -- the ambiguities, each with its marker ---------------------------------------------------------
CASES = [
    # a seed Result that is literally a status, at the end: kept as Result Text
    (
        entry("VERIFY_MODEL", "Checking", ("Result", "success")),
        entry(
            "VERIFY_MODEL",
            "",
            ("Details", "Checking"),
            ("Result Text", "success"),
            ("Result", "success"),
        ),
    ),
    # a last Result the entry does not imply: the upstream status line as it is
    (
        entry("CHECK_DISK", "Disk", ("Error", "LowDiskSpace"), ("Result", "warning")),
        entry(
            "CHECK_DISK_SPACE",
            "",
            ("Details", "Disk"),
            ("Error", "LowDiskSpace"),
            ("Result", "warning"),
        ),
    ),
    # a failure: status from Entry.failed, the text in Result Text
    (
        entry("VERIFY_DATASET", "Data", ("Result", "Not found: x.json"), ("Explanation", "e")),
        entry(
            "VERIFY_DATASET",
            "",
            ("Details", "Data"),
            ("Result Text", "Not found: x.json"),
            ("Explanation", "e"),
            ("Result", "failure"),
        ),
    ),
    # a seed entry with a Details line of its own keeps its brief in the header
    (
        entry("SUBMIT_JOB", "run_1", ("Details", "sbatch finetune.slurm"), ("Job ID", "42")),
        entry(
            "SUBMIT_JOB",
            "run_1",
            ("Details", "sbatch finetune.slurm"),
            ("Job ID", "42"),
            ("Result", "success"),
        ),
    ),
    # an empty brief before a Details line: an empty Details line first
    (
        entry("NOTE", "", ("Details", "d")),
        entry("NOTE", "", ("Details", ""), ("Details", "d"), ("Result", "success")),
    ),
    # an empty brief otherwise: no Details line
    (
        entry("NOTE", "", ("Warning", "w")),
        entry("NOTE", "", ("Warning", "w"), ("Result", "warning")),
    ),
    # decisions
    (
        entry("DECIDE_RECIPE", "Recipe", ("Decision", "lora")),
        entry(
            "DESIGN_DECISION",
            "",
            ("Details", "Recipe"),
            ("Seed Action", "DECIDE_RECIPE"),
            ("Decision", "lora"),
            ("Result", "success"),
        ),
    ),
    (
        entry("DECIDE_NAMING", "Picked", ("Decision", "cap_8L")),
        entry(
            "DESIGN_DECISION",
            "",
            ("Details", "Picked"),
            ("Seed Action", "DECIDE_NAMING"),
            ("Decision", "cap_8L"),
            ("Result", "success"),
        ),
    ),
    (
        entry("DESIGN_DECISION", "Experiment name chosen"),
        entry(
            "DESIGN_DECISION",
            "",
            ("Details", "Experiment name chosen"),
            ("Seed Action", "DESIGN_DECISION"),
            ("Result", "success"),
        ),
    ),
    # an action already named in the other dialect
    (
        entry("EXTRACT_TRAINING_SPEED", "Speed"),
        entry(
            "EXTRACT_TRAINING_SPEED",
            "",
            ("Details", "Speed"),
            ("Seed Action", "EXTRACT_TRAINING_SPEED"),
            ("Result", "success"),
        ),
    ),
    # a seed line whose key is a marker's
    (
        entry("NOTE", "n", ("Result Text", "x"), ("Upstream Form", "no brief")),
        entry(
            "NOTE",
            "",
            ("Details", "n"),
            ("Seed Line", "Result Text: x"),
            ("Seed Line", "Upstream Form: no brief"),
            ("Result", "success"),
        ),
    ),
]


@pytest.mark.parametrize(("seed", "upstream"), CASES)
def test_each_ambiguity_gets_its_marker_and_comes_back(seed, upstream):
    assert to_upstream([seed]) == [upstream]
    assert to_seed([upstream]) == [seed]


UPSTREAM_CASES = [
    # the seed's name in an upstream log
    (
        entry("CALCULATE_TIME", "", ("Details", "t"), ("Result", "success")),
        entry("CALCULATE_TIME", "t", ("Upstream Action", "CALCULATE_TIME")),
    ),
    (
        entry("DECIDE_RECIPE", "", ("Details", "r"), ("Result", "success")),
        entry("DECIDE_RECIPE", "r", ("Upstream Action", "DECIDE_RECIPE")),
    ),
    # a naming decision upstream is the seed's DECIDE_NAMING
    (
        entry(
            "DESIGN_DECISION", "", ("Details", "Recording naming decision"), ("Result", "success")
        ),
        entry("DECIDE_NAMING", "Recording naming decision"),
    ),
    # run-experiment/logging.md's ALL_COMPLETE: Result then Duration
    (
        entry(
            "ALL_COMPLETE",
            "",
            ("Details", "All 4 jobs reached terminal states"),
            ("Result", "4 COMPLETED, 0 FAILED"),
            ("Duration", "45 minutes"),
        ),
        entry(
            "ALL_COMPLETE",
            "All 4 jobs reached terminal states",
            ("Result", "4 COMPLETED, 0 FAILED"),
            ("Duration", "45 minutes"),
            ("Upstream Form", "Result lines as written"),
        ),
    ),
    # run-experiment/logging.md's DISCOVER_EXPERIMENT: a free-text last Result
    (
        entry("DISCOVER_EXPERIMENT", "", ("Details", "Found"), ("Result", "4 runs configured")),
        entry(
            "DISCOVER_EXPERIMENT",
            "Found",
            ("Result", "4 runs configured"),
            ("Upstream Form", "Result lines as written"),
        ),
    ),
    # a tool's header with a brief and no Details line
    (
        entry("SUBMIT_JOB", "run_1", ("Job ID", "42"), ("Result", "success")),
        entry("SUBMIT_JOB", "run_1", ("Job ID", "42"), ("Upstream Form", "brief in the header")),
    ),
    # a briefless entry with two Details lines
    (
        entry("VERIFY_MODEL", "", ("Details", "a"), ("Details", "b"), ("Result", "success")),
        entry("VERIFY_MODEL", "a", ("Details", "b"), ("Upstream Form", "brief in Details")),
    ),
    # a line whose key is one of the seed dialect's markers
    (
        entry("NOTE", "", ("Details", "d"), ("Upstream Form", "x"), ("Result", "success")),
        entry("NOTE", "d", ("Upstream Line", "Upstream Form: x")),
    ),
]


@pytest.mark.parametrize(("upstream", "seed"), UPSTREAM_CASES)
def test_upstream_values_the_seed_has_no_place_for_stay_key_lines(upstream, seed):
    assert to_seed([upstream]) == [seed]
    assert to_upstream([seed]) == [upstream]


@pytest.mark.parametrize(
    "lines",
    [
        [("Upstream Action", "not an action"), ("Upstream Form", "odd")],
        [("Upstream Form", "no brief")],  # the entry has a brief
        [("Upstream Form", "brief in Details")],  # what the seed form would do anyway
        [("Upstream Line", "no colon")],
        [("Upstream Action", "CHECK_DISK_SPACE")],  # what CHECK_DISK becomes anyway
    ],
)
def test_marker_looking_seed_lines_that_are_not_markers_travel_as_seed_lines(lines):
    seed = entry("CHECK_DISK", "n", *lines)
    upstream = to_upstream([seed])[0]
    assert upstream.action == "CHECK_DISK_SPACE"
    assert upstream.get_all("Seed Line") == [f"{key}: {value}" for key, value in lines]
    assert to_seed([upstream]) == [seed]


# -- properties ------------------------------------------------------------------------------------
TRICKY_VALUES = [
    "",
    " ",
    "success",
    "failure",
    "warning",
    "failure: sbatch error",
    "warning: low disk",
    "tracked",
    "done",
    "Failed: no such file",
    "Not found",
    "Experiment name chosen",
    "naming",
    "DECIDE_RECIPE",
    "EXTRACT_SPEED",
    "not an action",
    "Result: x",
    "Result Text: y",
    "Details:",
    "brief in the header",
    "brief in Details",
    "no brief",
    "Result lines as written",
    "brief in Details, Result lines as written",
    "no brief, Result lines as written",
    "brief in the header, brief in Details",
    "Result lines as written, Result lines as written",
    "a\nb",
    "\n- item\n- item",
]
values = st.one_of(st.sampled_from(TRICKY_VALUES), st.text(max_size=12))
ALL_MARKERS = [*UPSTREAM_MARKERS, *SEED_MARKERS]
COMMON_KEYS = ["Details", "Result", "Error", "Warning", "Decision", "Explanation", "Experiment"]
free_keys = st.from_regex(FIELD_NAME_RE, fullmatch=True).filter(lambda s: s == s.rstrip())
ACTIONS = sorted(
    {*BUILTIN_ACTIONS, *UPSTREAM_ACTIONS, *SEED_TO_UPSTREAM, "DECIDE_RECIPE", "CALCULATE_EVAL_TIME"}
)
actions = st.one_of(st.sampled_from(ACTIONS), st.from_regex(ACTION_NAME_RE, fullmatch=True))
briefs = st.one_of(st.just(""), values)
stamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))


def _entry(stamp, action, brief, fields):
    return Entry(stamp, action, brief, tuple(fields))


seed_keys = st.one_of(st.sampled_from(COMMON_KEYS + ALL_MARKERS), free_keys)
seed_entries = st.builds(
    _entry, stamps, actions, briefs, st.lists(st.tuples(seed_keys, values), max_size=7)
)
# A seed-side marker line that reads as one (what to_seed writes), to try the reading of markers.
seed_marker_lines = st.one_of(
    st.tuples(st.just("Upstream Action"), st.sampled_from(ACTIONS)),
    st.tuples(
        st.just("Upstream Form"),
        st.sampled_from([v for v in TRICKY_VALUES if "brief" in v or "Result lines" in v]),
    ),
    st.tuples(st.just("Upstream Line"), st.sampled_from(["Result: x", "Upstream Form: y", "A:"])),
)
seed_entries_with_markers = st.builds(
    lambda e, tail: _entry(e.timestamp, e.action, e.brief, [*e.fields, *tail]),
    seed_entries,
    st.lists(seed_marker_lines, max_size=3),
)

upstream_keys = st.one_of(
    st.sampled_from([*COMMON_KEYS, *SEED_MARKERS]), free_keys.filter(lambda k: k not in ALL_MARKERS)
)
last_results = st.one_of(
    st.none(),
    st.sampled_from(["success", "failure", "warning", "failure: boom", "tracked", "done"]),
    values,
)


@st.composite
def upstream_entries(draw):
    fields = []
    if draw(st.booleans()):
        fields.append(("Details", draw(values)))
    fields += draw(st.lists(st.tuples(upstream_keys, values), max_size=6))
    result = draw(last_results)
    if result is not None:
        fields.append(("Result", result))
    return _entry(draw(stamps), draw(actions), draw(briefs), fields)


@given(st.lists(st.one_of(seed_entries, seed_entries_with_markers), max_size=5))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_any_seed_entries_round_trip_through_upstream(entries):
    upstream = to_upstream(entries)
    assert to_seed(upstream) == entries
    for original, converted in zip(entries, upstream, strict=True):
        if any(key in SEED_MARKERS for key, _ in original.fields):
            continue  # may be what to_seed wrote for an entry without a status line
        # every other entry ends with one status line
        assert converted.fields[-1][0] == "Result"
        assert converted.get_all("Result") == [converted.fields[-1][1]]
        assert re.fullmatch(
            r"(?:success|failure|warning)(?::.*)?|tracked|done", converted.fields[-1][1], re.S
        )


@given(st.lists(upstream_entries(), max_size=5))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_any_upstream_entries_round_trip_through_seed(entries):
    seed = to_seed(entries)
    assert to_upstream(seed) == entries
    # and what to_upstream writes comes back from any seed list too
    assert to_upstream(to_seed(to_upstream(seed))) == to_upstream(seed)


def _reads_back(entries):
    text = render_all(entries)
    result = parse(text)
    return text if result.entries == entries and result.diagnostics == [] else None


@given(st.lists(seed_entries, max_size=4))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_seed_text_round_trips_through_upstream_text(entries):
    text = _reads_back(entries)
    assume(text is not None)
    upstream_text = convert_text(text, "upstream")
    assert parse(upstream_text).entries == to_upstream(entries)
    assert convert_text(upstream_text, "seed") == text


@given(st.lists(upstream_entries(), max_size=4))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_upstream_text_round_trips_through_seed_text(entries):
    text = _reads_back(entries)
    assume(text is not None)
    seed_text = convert_text(text, "seed")
    assert parse(seed_text).entries == to_seed(entries)
    assert convert_text(seed_text, "upstream") == text


# -- unreadable parts ------------------------------------------------------------------------------
BROKEN = (
    "stray text before any entry\n"
    "\n"
    "[2025-10-22 14:23:15] VERIFY_MODEL: Checking Llama-3.2-1B-Instruct\n"
    "Command: ls {models_dir}/Llama-3.2-1B-Instruct\n"
    "Result: Directory exists with 15 files\n"
    "Explanation: Verifying base model exists before creating experiment plan\n"
    "\n"
    "[2025-13-45 99:00:00] VERIFY_DATASET: a date that is not one\n"
    "Result: File exists, 655KB\n"
    "\n"
    "[2025-10-22 14:25:00] CHECK_DISK: Verifying available disk space\n"
    "Command: df -h {scratch_dir}\n"
    "Result: 2.1T available\n"
)


def test_unreadable_parts_are_carried_over_as_they_are_at_their_place():
    conversion = convert_log_text(BROKEN, "upstream")
    assert conversion.entries == 2 and conversion.unreadable == 2
    lines = conversion.text.splitlines()
    assert lines[0] == "stray text before any entry"
    bad = lines.index("[2025-13-45 99:00:00] VERIFY_DATASET: a date that is not one")
    assert lines[bad + 1] == "Result: File exists, 655KB"
    assert lines.index("[2025-10-22 14:23:15] VERIFY_MODEL") < bad
    assert lines.index("[2025-10-22 14:25:00] CHECK_DISK_SPACE") > bad
    again = parse(conversion.text)
    assert again.entries == to_upstream(parse(BROKEN).entries)
    assert len([d for d in again.diagnostics if d.severity == "error"]) == 2
    back = convert_log_text(conversion.text, "seed")
    assert parse(back.text).entries == parse(BROKEN).entries and back.unreadable == 2


def test_an_unknown_dialect_is_one_clear_error():
    with pytest.raises(ConvertError, match="unknown dialect 'sed'"):
        convert_text("", "sed")


def test_default_output_names():
    log = Path("/x/design-experiment.log")
    assert default_output(log, "upstream") == Path("/x/design-experiment.upstream.log")
    assert default_output(Path("/x/design-experiment.upstream.log"), "seed") == Path(
        "/x/design-experiment.seed.log"
    )
    assert set(MARKERS) == {"seed", "upstream"}


# -- the command, as a real process ----------------------------------------------------------------
designlog = run_designlog


@pytest.fixture
def upstream_experiment(tmp_path) -> Path:
    """An experiment directory with its log where the upstream workflow keeps it."""
    directory = tmp_path / "cap_4L_lora_rank_comparison"
    (directory / "logs").mkdir(parents=True)
    (directory / "logs" / "design-experiment.log").write_bytes(
        (DATA / "dialect" / "all-actions.log").read_bytes()
    )
    return directory


def test_convert_writes_a_new_file_beside_the_log_and_never_touches_the_source(
    upstream_experiment,
):
    source = upstream_experiment / "logs" / "design-experiment.log"
    before = source.read_bytes()
    stat = source.stat()
    result = designlog("convert", upstream_experiment, "--to", "seed")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    written = upstream_experiment / "logs" / "design-experiment.seed.log"
    assert result.stderr == (
        f"designlog: wrote 29 entries in the seed dialect to {written}; 0 marker line(s) added\n"
    )
    assert source.read_bytes() == before
    assert source.stat().st_mtime_ns == stat.st_mtime_ns
    upstream = parse(before.decode()).entries
    assert parse(written.read_text()).entries == to_seed(upstream)
    # and back, from the file it wrote, to the file it came from (entry for entry)
    back = designlog("convert", written, "--to", "upstream", "-o", upstream_experiment / "b.log")
    assert back.returncode == 0, back.stderr
    assert parse((upstream_experiment / "b.log").read_text()).entries == upstream


def test_convert_reads_our_location_and_reports_markers(tmp_path):
    directory = tmp_path / "exp"
    directory.mkdir()
    (directory / "design-experiment.log").write_text(DEMO_LOG.read_text())
    result = designlog("convert", "--to", "upstream", cwd=directory)
    assert result.returncode == 0, result.stderr
    written = directory / "design-experiment.upstream.log"
    assert "wrote 14 entries in the upstream dialect" in result.stderr
    assert "11 marker line(s) added (Result Text 10, Seed Action 1)" in result.stderr
    assert written.read_text() == convert_text(DEMO_LOG.read_text(), "upstream")
    audit = designlog("audit", written)
    assert audit.returncode == 0, audit.stdout


def test_convert_to_stdout_writes_no_file(upstream_experiment):
    listing = sorted(p.name for p in upstream_experiment.rglob("*"))
    result = designlog("convert", upstream_experiment, "--to", "seed", "-o", "-")
    assert result.returncode == 0, result.stderr
    assert "to stdout" in result.stderr
    source = (upstream_experiment / "logs" / "design-experiment.log").read_text()
    assert result.stdout == convert_text(source, "seed")
    assert sorted(p.name for p in upstream_experiment.rglob("*")) == listing


def test_convert_refuses_to_overwrite_without_force(upstream_experiment):
    target = upstream_experiment / "seed.log"
    target.write_text("kept\n")
    result = designlog("convert", upstream_experiment, "--to", "seed", "-o", target)
    assert_one_line_error(result, str(target), "exists", "--force")
    assert target.read_text() == "kept\n"
    forced = designlog("convert", upstream_experiment, "--to", "seed", "-o", target, "--force")
    assert forced.returncode == 0, forced.stderr
    assert parse(target.read_text()).entries == to_seed(
        parse((upstream_experiment / "logs" / "design-experiment.log").read_text()).entries
    )


def test_convert_never_writes_over_its_source_even_with_force(upstream_experiment):
    source = upstream_experiment / "logs" / "design-experiment.log"
    before = source.read_bytes()
    result = designlog("convert", source, "--to", "seed", "-o", source, "--force")
    assert_one_line_error(result, "over its source")
    assert source.read_bytes() == before


def test_convert_bad_dialect_and_missing_log_are_one_line(tmp_path, upstream_experiment):
    assert_one_line_error(
        designlog("convert", upstream_experiment, "--to", "sed"), "invalid choice: 'sed'"
    )
    assert_one_line_error(designlog("convert", upstream_experiment), "--to")
    missing = tmp_path / "nowhere"
    assert_one_line_error(designlog("convert", missing, "--to", "seed"), "no design log at")
    empty = tmp_path / "empty-experiment"
    empty.mkdir()
    assert_one_line_error(designlog("convert", empty, "--to", "seed"), "no design log at")
    assert list(empty.iterdir()) == []


def test_convert_carries_unreadable_parts_and_says_how_many(tmp_path):
    source = tmp_path / "design-experiment.log"
    source.write_text(BROKEN)
    result = designlog("convert", source, "--to", "upstream")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("designlog: wrote 2 entries in the upstream dialect")
    assert lines[1] == (
        f"designlog: warning: 2 part(s) of {source} could not be read as entries; carried over "
        f"as they are (see 'designlog audit {source}')"
    )
    written = (tmp_path / "design-experiment.upstream.log").read_text()
    assert "stray text before any entry\n" in written
    assert "[2025-13-45 99:00:00] VERIFY_DATASET: a date that is not one\n" in written
    assert source.read_text() == BROKEN


def test_convert_says_when_the_log_is_already_in_that_dialect(upstream_experiment):
    result = designlog("convert", upstream_experiment, "--to", "upstream", "-o", "-")
    assert result.returncode == 0
    assert "already reads as the upstream dialect" in result.stderr
    source = (upstream_experiment / "logs" / "design-experiment.log").read_text()
    assert convert_text(result.stdout, "seed") == render_all(parse(source).entries)


def test_rendered_markers_read_back_as_fields():
    upstream = to_upstream([entry("DECIDE_RECIPE", "r", ("Result Text", "a\nb"))])[0]
    assert parse(render(upstream)).entries == [upstream]


# -- the README ------------------------------------------------------------------------------------
README = Path(__file__).parent.parent / "README.md"


def test_the_readme_log_sample_converts_to_upstream_and_back():
    section = README.read_text().split("## What the log looks like", 1)[1]
    sample = section.split("```", 2)[1].lstrip("\n")
    entries = parse(sample).entries
    assert len(entries) >= 10
    upstream = to_upstream(entries)
    assert to_seed(upstream) == entries
    assert all(e.brief == "" and e.fields[-1][0] == "Result" for e in upstream)


def test_the_readme_conversion_table_names_the_specs_renames():
    section = README.read_text().split("### Converting a log: `designlog convert`", 1)[1]
    table = section.split("\n\n")[2]
    for seed_name, upstream_name in SEED_TO_UPSTREAM.items():
        row = next(line for line in table.splitlines() if f"`{seed_name}`" in line)
        seed_cell, upstream_cell = row.strip("|").split("|")[:2]
        names = re.findall(r"`([A-Z_]+)`", seed_cell)
        targets = re.findall(r"`([A-Z_]+)`", upstream_cell)
        assert targets[names.index(seed_name) if len(targets) > 1 else 0] == upstream_name
