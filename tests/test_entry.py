from datetime import datetime

import pytest

from designlog_magics.entry import (
    Entry,
    EntryError,
    field_name,
    new_entry,
    validate_action,
)
from designlog_magics.spec import BUILTIN_ACTIONS, action_family

SPEC_ACTIONS = [
    "VERIFY_MODEL",
    "VERIFY_DATASET",
    "SEARCH_PRIOR_RUNS",
    "EXTRACT_SPEED",
    "CALCULATE_TIME",
    "CHECK_DISK",
    "DECIDE_NAMING",
    "CREATE_SUMMARY",
    "COMPLETE",
]


def test_the_nine_action_types_of_the_specification_are_built_in():
    assert list(BUILTIN_ACTIONS) == SPEC_ACTIONS
    assert BUILTIN_ACTIONS["CALCULATE_TIME"].usual_fields == (
        "Input",
        "Calculation",
        "Result",
        "Explanation",
    )
    assert BUILTIN_ACTIONS["COMPLETE"].usual_fields == ("Status", "Next Steps", "Explanation")
    assert BUILTIN_ACTIONS["DECIDE_NAMING"].usual_fields == ("Decision", "Reasoning", "Explanation")


@pytest.mark.parametrize("name", ["VERIFY_EVAL_TASK", "CALCULATE_DISK", "X", "STEP2_A1"])
def test_custom_upper_snake_case_types_are_accepted(name):
    assert validate_action(name) == name
    assert new_entry(name, "brief").action == name


@pytest.mark.parametrize(
    "name", ["verify_model", "VERIFY-MODEL", "VERIFY MODEL", "_X", "X_", "A__B", "", "1ABC", "É"]
)
def test_other_names_are_refused_with_a_clear_message(name):
    with pytest.raises(EntryError, match="UPPER_SNAKE_CASE"):
        new_entry(name, "brief")


@pytest.mark.parametrize("key", ["", "Bad:Key", "[x", "Trailing ", "1st", "a" * 49, "Line\nBreak"])
def test_bad_field_names_are_refused(key):
    with pytest.raises(EntryError, match="invalid field name"):
        Entry(datetime(2025, 10, 22, 14, 23, 15), "COMPLETE", "x", ((key, "v"),))


def test_keywords_become_field_names_in_order_and_none_is_left_out():
    entry = new_entry(
        "COMPLETE",
        "Experiment design finished",
        status="Plan approved",
        next_steps="scaffold",
        explanation=None,
        Error="boom",
    )
    assert entry.fields == (
        ("Status", "Plan approved"),
        ("Next Steps", "scaffold"),
        ("Error", "boom"),
    )
    assert field_name("next_steps") == "Next Steps"
    assert entry.timestamp.microsecond == 0


def test_families_cover_builtin_and_custom_types():
    assert action_family("VERIFY_MODEL") == "verify"
    assert action_family("VERIFY_EVAL_TASK") == "verify"
    assert action_family("EXTRACT_SPEED") == "search"
    assert action_family("CALCULATE_DISK") == "calculate"
    assert action_family("DECIDE_RECIPE") == "decide"
    assert action_family("COMPLETE") == "create"
    assert action_family("START_DESIGN") == "session"
    assert action_family("NOTE") == "other"


def test_failures_and_warnings_are_recognised():
    assert new_entry("VERIFY_MODEL", "x", result="Missing", error="No such file").failed
    assert new_entry("VERIFY_MODEL", "x", result="Failed: exit 2").failed
    assert not new_entry("VERIFY_MODEL", "x", result="Directory exists").failed
    assert new_entry("CHECK_DISK", "x", result="Warning: only 3G").warned


def test_dict_round_trip():
    entry = new_entry("CHECK_DISK", "disk", command="df -h /x", result="2.1T available")
    assert Entry.from_dict(entry.as_dict()) == entry
