"""The plan's rules never crash on a hand-edited experiment_summary.yaml (plan_yaml.schema).

The truth is tests/data/plan/expected-demo-plan.yaml, written by hand from the upstream template
(see tests/data/plan/README.md): it passes the rules, and any one value of it replaced by any
YAML value gives problem lines, never an exception. A list or a mapping where a run's model or a
matrix cell's task name belongs (unhashable: it once raised TypeError) is one PlanError line.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from designlog_magics.plan_yaml import PlanError, load_plan, validate_plan

EXPECTED = Path(__file__).parent / "data" / "plan" / "expected-demo-plan.yaml"
PLAN: dict[str, Any] = yaml.safe_load(EXPECTED.read_text(encoding="utf-8"))


def _places(data: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of the plan, nested ones included (the root excluded)."""
    found = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _places(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _places(value, (*path, index))
    return found


PLACES = _places(PLAN)
FIRST_TASK = ("evaluation", "matrix", 0, "tasks", 0)  # of the first matrix cell
YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def _replaced(path: tuple[Any, ...], value: object) -> dict[str, Any]:
    plan = copy.deepcopy(PLAN)
    holder: Any = plan
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return plan


def test_the_hand_written_plan_passes_the_rules() -> None:
    assert validate_plan(PLAN) == []
    assert load_plan(EXPECTED) == PLAN


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PLACES), YAML_VALUES)
def test_any_one_value_replaced_gives_problem_lines_never_an_exception(
    path: tuple[Any, ...], value: object
) -> None:
    problems = validate_plan(_replaced(path, value))
    assert all(isinstance(line, str) and line for line in problems)
    if path == ("runs",) and not isinstance(value, list):
        assert "runs: must be a non-empty list" in problems


@pytest.mark.parametrize(
    ("path", "value", "wanted"),
    [
        (("runs", 0, "model"), ["Llama-3.2-1B-Instruct"], "runs[r8].model: "),
        (("runs", 0, "model"), {"name": "x"}, "runs[r8].model: "),
        (FIRST_TASK, ["capitalization"], "evaluation.matrix[0].tasks: "),
        (FIRST_TASK, {"a": 1}, "evaluation.matrix[0].tasks: "),
    ],
)
def test_a_list_or_mapping_for_a_name_is_one_plan_error_line(
    tmp_path: Path, path: tuple[Any, ...], value: object, wanted: str
) -> None:
    target = tmp_path / "experiment_summary.yaml"
    target.write_text(yaml.safe_dump(_replaced(path, value), sort_keys=False), encoding="utf-8")
    with pytest.raises(PlanError) as raised:
        load_plan(target)
    message = str(raised.value)
    assert "\n" not in message
    assert "is not a valid experiment_summary.yaml: " in message
    assert wanted in message


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (("models", "base"), "models.base"),
        (("runs",), "runs"),
        (("evaluation", "tasks"), "evaluation.tasks"),
        (("evaluation", "matrix"), "evaluation.matrix"),
    ],
)
def test_each_list_of_mappings_names_an_empty_list_and_each_item_that_is_no_mapping(
    path: tuple[Any, ...], name: str
) -> None:
    assert f"{name}: must be a non-empty list" in validate_plan(_replaced(path, []))
    assert f"{name}: must be a non-empty list" in validate_plan(_replaced(path, "r8"))
    holder: Any = PLAN
    for step in path:
        holder = holder[step]
    mixed = [7, *copy.deepcopy(holder), "x"]
    problems = validate_plan(_replaced(path, mixed))
    assert f"{name}[0]: must be a mapping" in problems
    assert f"{name}[{len(mixed) - 1}]: must be a mapping" in problems
    assert not any(line.startswith(f"{name}[1]") for line in problems), problems
