from designlog_magics.entry import new_entry
from designlog_magics.summary import (
    GENERATED_MARKER,
    build_summary,
    find_runs_table,
    summary_result,
)

PLAN = """# plan

| Run | Type | Rank |
|:----|------|-----:|
| a | fine-tuned | 8 |
| b | fine-tuned | 16 |
| c | control | - |

after
"""


def test_runs_table_is_counted_and_grouped():
    table = find_runs_table(PLAN)
    assert table.count == 3 and table.groups == (("fine-tuned", 2), ("control", 1))
    assert summary_result(PLAN) == "File created with 3 runs (2 fine-tuned + 1 control)"
    assert summary_result("# A\n## B\n") == "File created with 2 sections (A, B)"
    assert summary_result("just text") == "File created"
    assert find_runs_table("| x | y |\n|---|---|\n| 1 | 2 |\n") is None


def test_generated_sections_come_from_the_log():
    entries = [
        new_entry("VERIFY_MODEL", "Checking Llama", command="ls /m", result="Directory exists"),
        new_entry(
            "CALCULATE_TIME",
            "Training time",
            input="a=1",
            calculation="b = a * 2 = 2",
            result="Estimated 2 minutes",
        ),
        new_entry("CHECK_DISK", "Disk", command="df -h /s", result="2.1T available"),
    ]
    text = build_summary(PLAN, entries)
    assert text.startswith(PLAN.rstrip()) and GENERATED_MARKER in text
    assert "### Resources verified" in text and "Result: Directory exists" in text
    assert "Calculation: b = a * 2 = 2" in text and "Result: 2.1T available" in text
    assert "### Prior runs" not in text
