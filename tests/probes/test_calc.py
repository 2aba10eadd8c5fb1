import pytest

from designlog_magics.probes.calc import (
    CalculationError,
    evaluate_assignment,
    format_value,
    run_calculation,
)


def test_inputs_and_calculations_with_units():
    ns: dict = {"prior_speed": 4.34}
    facts = run_calculation(
        "samples = 8000\nspeed = prior_speed  # it/s\nsteps = samples / 4\n"
        "t = steps / speed  # s\nsteps += 0\nlabel = f'{steps:.0f}'\nprint('ignored')\n",
        ns,
    )
    assert facts.input_text() == "samples=8000, speed=4.34 it/s"
    assert facts.calculation_text() == (
        "t = steps / speed ≈ 461s, steps = steps + 0 = 2000, label = f'{steps:.0f}' = 2000"
    )
    assert ns["t"] == pytest.approx(460.83, rel=1e-3)


def test_tuple_assignment_and_default_result():
    facts = run_calculation("a, b = 2, 3\nc = a * b\n", {})
    assert facts.input_text() == "a=2, b=3"
    assert facts.default_result() == "c = 6"


@pytest.mark.parametrize(
    "source, message",
    [
        ("x = 1/0", "line 1: ZeroDivisionError"),
        ("y = 1\nz = y + nope", "line 2: NameError"),
        ("def (", "syntax error on line 1"),
    ],
)
def test_errors_are_one_line(source, message):
    with pytest.raises(CalculationError, match=message):
        run_calculation(source, {})


def test_line_form_reads_existing_variables():
    ns = {"total_s": 960.0, "unused": 1}
    facts = evaluate_assignment("total_min = total_s / 60", ns)
    assert facts.input_text() == "total_s=960"
    assert facts.calculation_text() == "total_min = total_s / 60 = 16"
    with pytest.raises(CalculationError, match="one assignment"):
        evaluate_assignment("total_s / 60", ns)


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (2000.0, "", "2000"),
        (460.829, "s", "461s"),
        (4.34, "it/s", "4.34 it/s"),
        (0.125, "", "0.125"),
        (True, "", "True"),
        ([1, 2], "", "[1, 2]"),
        (15.36, "min", "15.36min"),
    ],
)
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text


def test_a_value_that_names_its_source_shows_it_in_the_input():
    class Sourced(float):
        source = "p90 of actual/estimated over 14 runs in 3 experiments: cap_a, cap_b, cap_c"

    ns = {"factor": Sourced(1.3249), "label": "x"}
    facts = run_calculation("safety = factor\nname = label\nlimit = 15.36 * safety  # min\n", ns)
    assert facts.input_text() == (
        "safety=1.32 (p90 of actual/estimated over 14 runs in 3 experiments: cap_a, cap_b, "
        "cap_c), name=x"
    )
    assert facts.calculation_text() == "limit = 15.36 * safety ≈ 20.35min"
    read = run_calculation("limit = 15.36 * factor  # min\n", ns)  # read from outside
    assert read.input_text().startswith("factor=1.32 (p90 of actual/estimated")
