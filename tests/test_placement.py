"""Where the panel goes: the panel, ``%designlog start --panel`` and the config trait accept
the same placements, whatever their case, and refuse the same ones."""

from __future__ import annotations

import logging

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from traitlets import TraitError

from designlog_magics import DesignLog, new_entry
from designlog_magics.panel import open_panel

# Every name either side knew at some point, sidecar's own anchors, and some that are wrong.
CANDIDATES = [
    "split-right",
    "right",
    "left",
    "split-left",
    "split-bottom",
    "split-top",
    "tab",
    "tab-after",
    "tab-before",
    "inline",
    "bottom",
    "top",
    "sidebar",
    "upside-down",
    "",
]


def spellings(name: str) -> list[str]:
    return list(dict.fromkeys([name, name.upper(), name.title()]))


@pytest.fixture(autouse=True)
def _no_side_panel_env(monkeypatch):
    monkeypatch.delenv("DESIGNLOG_SIDE_PANEL", raising=False)


def panel_takes(log: DesignLog, placement: str) -> str | None:
    """The placement the panel settled on, or None if it refused ``placement``."""
    try:
        panel = open_panel(log, placement=placement, follow=False, display=False)
    except ValueError:
        return None
    panel.close()
    return panel.requested_placement


def start_takes(ip, directory, placement: str) -> str | None:
    """The placement ``%designlog start --panel`` opened the panel at, or None if refused."""
    magics = ip._designlog_magics
    try:
        with capture_output():
            ip.run_line_magic("designlog", f"start {directory} --panel '{placement}'")
    except UsageError:
        return None
    assert magics.panel is not None
    return magics.panel.requested_placement


def trait_takes(ip, placement: str) -> str | None:
    """What ``DesignLogMagics.panel_placement`` holds once set to ``placement`` (None: refused)."""
    magics = ip._designlog_magics
    before = magics.panel_placement
    try:
        magics.panel_placement = placement
    except TraitError:
        assert magics.panel_placement == before
        return None
    value = magics.panel_placement
    magics.panel_placement = before
    return value


def test_the_panel_and_the_magics_accept_the_same_placements(ip, tmp_path):
    log = DesignLog(tmp_path / "exp")
    log.append(new_entry("VERIFY_MODEL", "m"))
    accepted = []
    for name in CANDIDATES:
        for spelling in spellings(name):
            by_panel = panel_takes(log, spelling)
            by_start = start_takes(ip, log.experiment_dir, spelling)
            by_trait = trait_takes(ip, spelling)
            assert by_panel == by_start == by_trait, spelling
            if by_panel is not None:
                assert by_panel == name  # one spelling, whatever the case asked for
                accepted.append(spelling)
    # every side panel sidecar can open, and the cell's output
    from sidecar import Sidecar

    assert set(Sidecar.anchor.values) | {"inline"} <= set(accepted)
    ip.run_line_magic("designlog", f"start {log.experiment_dir} --no-panel")


def test_the_placements_are_one_list(ip):
    from designlog_magics import magics as magics_module
    from designlog_magics import panel as panel_module
    from designlog_magics.placement import NO_PANEL, PANEL_PLACEMENTS

    trait = type(ip._designlog_magics).class_traits()["panel_placement"]
    assert tuple(trait.values) == (*PANEL_PLACEMENTS, NO_PANEL)
    start = magics_module.verb_parser("start", "%designlog start")
    option = next(a for a in start._actions if "--panel" in a.option_strings)
    assert tuple(option.choices) == (*PANEL_PLACEMENTS, NO_PANEL)
    assert magics_module.PANEL_PLACEMENTS is PANEL_PLACEMENTS
    assert not hasattr(panel_module, "PLACEMENTS")  # one list, in placement.py
    assert "inline" in PANEL_PLACEMENTS and NO_PANEL not in PANEL_PLACEMENTS


def test_none_means_no_panel_at_start_only(ip, tmp_path):
    magics = ip._designlog_magics
    ip.run_line_magic("designlog", f"start {tmp_path / 'exp'} --panel NONE")
    assert magics.panel is None
    with pytest.raises(ValueError, match="placement"):
        open_panel(tmp_path / "exp", placement="none", follow=False, display=False)


@pytest.mark.parametrize("line", ["start {dir} --panel bogus", "panel --placement bogus"])
def test_a_bad_placement_is_one_plain_usage_line(ip, tmp_path, line):
    ip.run_line_magic("designlog", f"start {tmp_path / 'exp'} --no-panel")
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("designlog", line.format(dir=tmp_path / "other"))
    message = str(caught.value)
    assert "\n" not in message and "'bogus'" in message and "split-right" in message
    assert not (tmp_path / "other").exists()  # refused before anything was made


def test_config_refuses_a_bad_placement_and_takes_any_case(ip, tmp_path, caplog):
    magics = ip._designlog_magics
    with caplog.at_level(logging.ERROR), capture_output():
        ip.run_line_magic("config", 'DesignLogMagics.panel_placement = "bogus"')
    assert magics.panel_placement == "split-right"
    assert any("bogus" in record.getMessage() for record in caplog.records)
    with pytest.raises(TraitError, match="bogus"):
        magics.panel_placement = "bogus"

    ip.run_line_magic("config", 'DesignLogMagics.panel_placement = "Inline"')
    try:
        assert magics.panel_placement == "inline"
        with capture_output():
            ip.run_line_magic("designlog", f"start {tmp_path / 'exp'}")
        assert magics.panel.requested_placement == "inline"
    finally:
        magics.panel_placement = "split-right"
