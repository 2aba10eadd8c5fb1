from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from designlog_magics.entry import ACTION_NAME_RE, FIELD_NAME_RE, Entry
from designlog_magics.spec import BUILTIN_ACTIONS
from designlog_magics.textformat import (
    STRETCH_CHARS,
    ParseResult,
    _parse_clean,
    _parse_lines,
    _parse_stretches,
    escape_text,
    parse,
    render,
    render_all,
    unescape_text,
)
from tests.budget import at_most

STAMP = datetime(2025, 10, 22, 14, 23, 15)

SPEC_EXAMPLE = """\
[2025-10-22 14:23:15] VERIFY_MODEL: Checking Llama-3.2-1B-Instruct
Command: ls {models_dir}/Llama-3.2-1B-Instruct
Result: Directory exists with 15 files (config.json, model.safetensors, etc.)
Explanation: Verifying base model exists before creating experiment plan

[2025-10-22 14:24:30] CALCULATE_TIME: Training time estimate
Input: 8000 samples, batch_size=4, speed=4.34 it/s, epochs=2
Calculation: steps_per_epoch = 8000/4 = 2000, time_per_epoch = 2000/4.34 ≈ 461s ≈ 8min
Result: Estimated 16 minutes total (8 min × 2 epochs)
Explanation: Calculated training time based on actual iteration speed from prior run

[2025-10-22 14:26:15] COMPLETE: Experiment design finished
Status: Plan approved by user, files written
Next Steps: User can now run scaffold-experiment to generate configs
Explanation: Planning phase complete, documented in summary and this log

"""

TRICKY = [
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\\",
    "\\r",
    "\\x41",
    "\\u2028",
    "\x1b[A",
    "\u2028",
    "\x85",
    "\x00",
    "[2025-01-01 00:00:00] COMPLETE: done",
    "Result: forged",
    "Key: value",
    "  ",
    "",
    "[",
    "é",
    "≈",
    "×",
    "🙂",
    "\n\n",
    " ",
    ":",
]
values = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=4)), max_size=8).map("".join),
)
field_names = st.from_regex(FIELD_NAME_RE, fullmatch=True).filter(lambda s: s == s.rstrip())
actions = st.one_of(
    st.sampled_from(sorted(BUILTIN_ACTIONS)), st.from_regex(ACTION_NAME_RE, fullmatch=True)
)
timestamps = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
entries = st.builds(
    Entry,
    timestamps,
    actions,
    values,
    st.lists(st.tuples(field_names, values), max_size=6).map(tuple),
)


@given(entries)
def test_parse_of_render_is_the_entry(entry):
    result = parse(render(entry))
    assert result.entries == [entry]
    assert result.diagnostics == []


@at_most(500)
@given(st.lists(entries, max_size=5))
def test_several_entries_round_trip_in_order(items):
    result = parse(render_all(items))
    assert result.entries == items
    assert result.ok


@given(st.text())
def test_parse_never_raises_on_arbitrary_text(text):
    result = parse(text)
    for diagnostic in result.diagnostics:
        assert diagnostic.line >= 1


@given(values)
def test_escape_round_trips_and_leaves_no_raw_line_breaks(value):
    escaped = escape_text(value)
    assert unescape_text(escaped) == value
    assert "\r" not in escaped and "\u2028" not in escaped and "\x1b" not in escaped


def test_specification_example_is_read_field_by_field():
    result = parse(SPEC_EXAMPLE)
    assert result.ok and not result.truncated
    assert [e.action for e in result.entries] == ["VERIFY_MODEL", "CALCULATE_TIME", "COMPLETE"]
    first = result.entries[0]
    assert first.timestamp == STAMP
    assert first.brief == "Checking Llama-3.2-1B-Instruct"
    assert first.get("Command") == "ls {models_dir}/Llama-3.2-1B-Instruct"
    assert result.entries[2].get("Next Steps") == (
        "User can now run scaffold-experiment to generate configs"
    )
    assert render_all(result.entries) == SPEC_EXAMPLE
    assert result.entry_lines == [1, 6, 12]


def test_forged_entry_stays_inside_its_field():
    forged = "ok\n[2025-01-01 00:00:00] COMPLETE: done\nStatus: forged"
    entry = Entry(STAMP, "VERIFY_MODEL", "x", (("Result", forged),))
    text = render(entry)
    assert "\n[2025-01-01" not in text and "\nStatus:" not in text
    result = parse(text)
    assert len(result.entries) == 1 and result.entries[0].get("Result") == forged


def test_multiline_value_is_indented_and_readable():
    entry = Entry(STAMP, "SEARCH_PRIOR_RUNS", "runs", (("Result", "Found:\n- a\n\n- b"),))
    assert render(entry) == (
        "[2025-10-22 14:23:15] SEARCH_PRIOR_RUNS: runs\nResult: Found:\n  - a\n  \n  - b\n\n"
    )


def test_backslashes_in_paths_and_regexes_stay_as_typed():
    entry = Entry(STAMP, "EXTRACT_SPEED", "s", (("Command", r'grep -E "[0-9.]+it/s\b" C:\models'),))
    assert r'grep -E "[0-9.]+it/s\b" C:\models' in render(entry)


def test_hand_written_styles_are_accepted():
    text = (
        "[2025-10-22 14:30:00] START_DESIGN\r\n"
        "Details: planning\r\n"
        "  more details\r\n"
        "\r\n"
        "  after a blank line\r\n"
        "Custom Key: anything\r\n"
        "\r\n\r\n"
        "[2025-10-22 14:31:00] VERIFY_MODEL:\r\n"
        "Result:x\r\n"
    )
    result = parse(text)
    assert result.ok, result.diagnostics
    start, verify = result.entries
    assert start.brief == "" and start.get("Details") == (
        "planning\nmore details\n\nafter a blank line"
    )
    assert start.get("Custom Key") == "anything"
    assert verify.brief == "" and verify.get("Result") == "x"


def test_malformed_parts_give_diagnostics_with_line_numbers():
    text = (
        "preamble text\n"
        "[2025-13-40 99:00:00] VERIFY_MODEL: bad date\n"
        "Result: lost\n"
        "\n"
        "[2025-10-22 14:23:15] verify_model: lower case\n"
        "\n"
        "[Oct 22 14:23] VERIFY_MODEL: other tool\n"
        "\n"
        "[2025-10-22 14:23:15] COMPLETE: fine\n"
        "this line has no key\n"
        "Status: ok\n"
    )
    result = parse(text)
    lines = {d.line: d.message for d in result.diagnostics}
    assert "outside any entry" in lines[1]
    assert "invalid timestamp" in lines[2]
    assert "invalid action type" in lines[5]
    assert "header not in the form" in lines[7]
    assert "neither 'Key: value'" in lines[10]
    assert [e.brief for e in result.entries] == ["fine\nthis line has no key"]
    assert result.entries[0].get("Status") == "ok"


def test_truncated_last_entry_is_reported():
    full = render(Entry(STAMP, "VERIFY_MODEL", "x", (("Result", "a long result"),)))
    cut = full[: full.index("long")]
    result = parse(full + cut)
    assert result.truncated
    assert any("incomplete" in d.message and d.line == 4 for d in result.diagnostics)
    assert not parse(full).truncated


JUNK_LINES = st.sampled_from(
    [
        "",
        "  indented",
        "  - listed",
        "- unindented list item",
        "\tTabbed",
        "Key:no space",
        "Key: value",
        "Key:",
        "Alternatives considered:",
        "Key : spaced",
        "free text",
        "[not a header]",
        "[2025-13-01 00:00:00] VERIFY_MODEL: bad month",
        "[2025-02-30 00:00:00] VERIFY_MODEL: no such day",
        "[2025-10-22 14:00:00] lower: x",
        "[2025-10-22 14:00:00] BAD__NAME",
        "[2025-10-22 14:00:00] START_DESIGN",
        "[2025-10-22 14:00:00] START_DESIGN  ",
        "[2025-10-22 14:00:00] VERIFY_MODEL:x",
        "[Oct 22 14:23] X: y",
        " single space",
        "Result: failure: sbatch error",
    ]
)


def read_in_stretches(text: str, size: int) -> ParseResult:
    result = ParseResult()
    _parse_stretches(text, 1, result, size)
    return result


def same_reading(one: ParseResult, other: ParseResult) -> None:
    assert one.entries == other.entries
    assert one.entry_lines == other.entry_lines
    assert sorted(map(str, one.diagnostics)) == sorted(map(str, other.diagnostics))
    assert one.truncated == other.truncated


@at_most(500)
@given(
    st.lists(st.one_of(entries.map(render), JUNK_LINES.map(lambda s: s + "\n")), max_size=8),
    st.booleans(),
    st.sampled_from([1, 40, 200, STRETCH_CHARS]),
)
def test_fast_path_reads_exactly_what_the_line_reader_reads(pieces, cut_end, size):
    text = "".join(pieces)
    if cut_end and text:
        text = text[:-1]
    slow = ParseResult()
    _parse_lines(text, 1, slow)
    same_reading(parse(text), slow)
    # cut into stretches at header lines, each read by the clean reader or the line reader
    same_reading(read_in_stretches(text, size), slow)


@at_most(500)
@given(st.lists(entries, min_size=1, max_size=5), st.integers(1, 50))
def test_what_we_write_is_read_by_the_clean_reader(items, first_line):
    text = render_all(items)
    clean = ParseResult()
    assert _parse_clean(text, 0, len(text), first_line, clean) == text.count("\n")
    assert clean.entries == items
    slow = ParseResult()
    _parse_lines(text, first_line, slow)
    assert clean.entry_lines == slow.entry_lines


def test_clean_reader_declines_what_is_not_well_formed():
    good = render(Entry(STAMP, "VERIFY_MODEL", "x", (("Result", "ok"),)))
    for text in (
        good + "junk\n",  # a line that is neither
        good + "\n" + good,  # two blank lines
        good[:-1] + good,  # no blank line before a header
        good + good[:-3],  # cut mid-line
        good.replace("2025-10-22", "2025-02-30"),  # no such day
        "preamble\n" + good,
    ):
        result = ParseResult()
        assert _parse_clean(text, 0, len(text), 1, result) is None
        assert result.entries == []


def test_a_large_log_is_read_in_stretches_with_exact_line_numbers():
    items = [
        Entry(STAMP, "CALCULATE_TIME", f"estimate {n}", (("Result", f"{n} min\nsecond line"),))
        for n in range(3000)
    ]
    text = render_all(items)
    text = text.replace("[2025-10-22 14:23:15] CALCULATE_TIME: estimate 1500\n", "odd line\n", 1)
    assert len(text) > 40 * 4096  # many stretches
    whole = read_in_stretches(text, len(text))
    slow = ParseResult()
    _parse_lines(text, 1, slow)
    same_reading(whole, slow)
    same_reading(read_in_stretches(text, 4096), slow)
    assert len(slow.entries) == 2999 and [d.line for d in slow.diagnostics] == [4 * 1500 + 1]
