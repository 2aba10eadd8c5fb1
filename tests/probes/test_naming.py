import pytest

from designlog_magics.probes.naming import naming_problems


@pytest.mark.parametrize(
    "name",
    [
        "cap_8L_lora_comparison_2025-10-22",
        "cap_8L_80P_rank-sweep_2025-01-31",
        "sum_lora_2026-11-29",
        "cap_L8_lora_2025-10-22",
    ],
)
def test_convention_followers(name):
    assert naming_problems(name) == []


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("", "empty"),
        ("cap lora 2025-10-22", "characters other than"),
        ("cap_lora", "YYYY-MM-DD"),
        ("cap_2025-10-22", "task and at least one factor"),
        ("Cap_lora_2025-10-22", "task part"),
        ("cap_LoRA_2025-10-22", "mixes case"),
        ("cap__lora_2025-10-22", "empty part"),
        ("cap_lora_2025-02-30", "not a valid date"),
        ("cap_" + "x" * 80 + "_2025-10-22", "longer than 80"),
    ],
)
def test_convention_breakers(name, fragment):
    assert any(fragment in p for p in naming_problems(name))
