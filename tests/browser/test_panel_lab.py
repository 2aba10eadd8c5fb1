"""The live panel in a real JupyterLab, in headless Chromium, driven through the magics."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from designlog_magics import DesignLog, new_entry, read_log
from tests.browser.conftest import REPO, TIMINGS, copy_screenshot
from tests.browser.lab import (
    LAST_CARD_IN_VIEW_JS,
    cards,
    error_outputs,
    open_notebook,
    restart_kernel,
    run_all,
    write_notebook,
)

# one worker runs every test of the one JupyterLab server (make test runs pytest-xdist)
pytestmark = pytest.mark.browser

EVIL = "<img src=x onerror=alert(1)>.json"
SIDE = "#jp-main-dock-panel .jupyterlab-sidecar"
DOCS_SCREENSHOT = REPO / "docs" / "panel.png"


def expected(directory: Path) -> list[tuple[str, str, str]]:
    """What the log file holds, parsed afresh: (time, action, brief) per entry."""
    return [(e.time_text, e.action, e.brief) for e in read_log(directory).entries]


def append_from_outside(directory: Path, action: str, brief: str, **fields: str) -> None:
    """Append one entry through the Python API from a separate process."""
    code = textwrap.dedent(
        """
        import sys
        from designlog_magics import DesignLog, new_entry
        fields = dict(pair.split("=", 1) for pair in sys.argv[4:])
        DesignLog(sys.argv[1]).append(new_entry(sys.argv[2], sys.argv[3], fields))
        """
    )
    pairs = [f"{key}={value}" for key, value in fields.items()]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run(
        [sys.executable, "-c", code, str(directory), action, brief, *pairs],
        check=True,
        env=env,
        timeout=60,
    )


def design_cells(directory: Path, start: str = "") -> list[str]:
    """The cells of a short design session with the magics (the last prints a marker)."""
    return [
        "%load_ext designlog_magics",
        f"%designlog start {directory} {start}".rstrip(),
        '%log_entry VERIFY_MODEL "Checking Llama-3.2-1B-Instruct" '
        'Command="ls /models/Llama-3.2-1B-Instruct" Result="Directory exists with 15 files" '
        'Explanation="Verifying base model exists before creating experiment plan"',
        f'%log_entry VERIFY_DATASET "Checking {EVIL}" '
        f'Command="ls -la \'{EVIL}\'" Result="File exists (2.1M, 10,000 samples)" '
        'Explanation="Verifying training dataset exists and checking size"',
        '%log_entry CALCULATE_TIME "Training time estimate" '
        'Input="samples=8000, epochs=3, speed=2.5" '
        'Calculation="steps = 8000 * 3 / 8 = 3000, time = 3000 / 2.5 = 1200 s" '
        'Result="20 minutes per run"',
        f"%log_disk {directory}",
        '%log_entry SEARCH_PRIOR_RUNS "Searching for prior runs" '
        'Result="Failed: no prior SLURM logs found" Error="find returned nothing"',
        'print("DONE-MARKER")',
    ]


def assert_clean(page) -> None:
    assert error_outputs(page) == []
    body = page.inner_text("body")
    for bad in ("Error displaying widget", "Failed to load model class", "Model not found"):
        assert bad not in body
    assert page.dialogs == []  # nothing in the log ever ran as script
    widget_errors = [e for e in page.console_errors if "widget" in e.lower() or "model" in e]
    assert widget_errors == []


# What the panel's stylesheet must leave alone in a magic's own output: the wrapper of each
# output (StepView) and its card look as they would without any panel in the page.
OWN_OUTPUT_STYLE_JS = """
() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output > .dlm-step')].map(
  step => {
    const mine = getComputedStyle(step);
    const around = getComputedStyle(step.parentElement);
    const card = step.querySelector('.dlm-card');
    const brief = card && getComputedStyle(card.querySelector('.dlm-brief'));
    return {
      opacity: mine.opacity,
      maxHeight: mine.maxHeight,
      overflow: mine.overflow,
      whiteSpace: mine.whiteSpace === around.whiteSpace ? 'as around' : mine.whiteSpace,
      color: mine.color === around.color ? 'as around' : mine.color,
      clipped: step.scrollHeight > step.clientHeight + 1,
      briefColor: brief ? (brief.color === around.color ? 'as around' : brief.color) : null,
      cardOpacity: card ? getComputedStyle(card).opacity : null,
    };
  })
"""


def wait_for_cards(page, scope: str, count: int, timeout_ms: int = 30_000) -> None:
    """Wait until the panel at ``scope`` holds ``count`` cards; say what it holds if not."""
    try:
        page.wait_for_function(
            "([s, n]) => document.querySelectorAll(s + ' .dlm-card').length === n",
            arg=[scope, count],
            timeout=timeout_ms,
        )
    except Exception as exc:
        found = page.locator(f"{scope} .dlm-card").count()
        panels = page.locator(".dlm-panel").count()
        sidecars = page.locator(".jupyterlab-sidecar").count()
        raise AssertionError(
            f"{found} cards at {scope}, not {count} ({panels} panels, {sidecars} side panels)"
        ) from exc


def cards_in(locator) -> list[tuple[str, str, str]]:
    """(time, action, brief) of each card inside one located panel."""
    found = locator.locator(".dlm-card").evaluate_all(
        """cards => cards.map(card => [
          card.querySelector('.dlm-time').textContent,
          card.dataset.action,
          card.querySelector('.dlm-brief').textContent,
        ])"""
    )
    return [tuple(card) for card in found]


def wait_for_brief(page, scope: str, brief: str, timeout_ms: int) -> float:
    started = time.monotonic()
    page.locator(f"{scope} .dlm-brief", has_text=brief).first.wait_for(timeout=timeout_ms)
    return time.monotonic() - started


def test_side_panel_beside_the_notebook_follows_the_log(page, lab, tmp_path, artifacts):
    experiment = tmp_path / "cap_8L_lora_comparison_2025-10-22"
    name = "side_panel.ipynb"
    write_notebook(lab.root / name, design_cells(experiment))
    try:
        open_notebook(page, lab, name)
        started = time.monotonic()
        run_all(page, name)
        TIMINGS["side: run all (s)"] = time.monotonic() - started

        # one side panel, in the main area, to the right of the notebook
        assert page.locator(".jupyterlab-sidecar").count() == 1
        panel = page.locator(SIDE)
        assert panel.count() == 1 and panel.is_visible()
        tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Design log")
        assert tab.count() == 1
        notebook_box = page.locator(".jp-NotebookPanel:visible").bounding_box()
        panel_box = panel.bounding_box()
        assert panel_box["x"] >= notebook_box["x"] + notebook_box["width"] - 5
        assert page.locator(".jp-Notebook .dlm-panel").count() == 0  # not in the notebook

        # the magics' own outputs in the notebook are not greyed or clipped by the panel
        own = page.evaluate(OWN_OUTPUT_STYLE_JS)
        assert len(own) == len(design_cells(experiment)) - 2  # %load_ext and print show none
        plain = {
            "opacity": "1",
            "maxHeight": "none",
            "overflow": "visible",
            "whiteSpace": "as around",
            "color": "as around",
            "clipped": False,
        }
        for style in own:
            assert {key: style[key] for key in plain} == plain
        with_card = [style for style in own if style["briefColor"] is not None]
        assert len(with_card) == len(own)  # every magic of this notebook logged an entry
        assert all(s["briefColor"] == "as around" and s["cardOpacity"] == "1" for s in with_card)

        # exactly the file's entries, in order
        wait_for_cards(page, SIDE, len(expected(experiment)))
        assert cards(page, SIDE) == expected(experiment)
        count = len(expected(experiment))
        assert panel.locator(".dlm-count-entries").inner_text() == f"{count} entries"
        assert panel.locator(".dlm-panel-path").inner_text() == str(
            experiment / "design-experiment.log"
        )

        # escaped: the file name is text, and no element came out of it
        assert panel.locator(".dlm-brief", has_text=EVIL).count() == 1
        assert panel.locator(".dlm-card[data-action=VERIFY_DATASET] dd").first.inner_text() == (
            f"ls -la '{EVIL}'"
        )
        assert panel.locator("img").count() == 0
        assert page.locator(".jp-Notebook img").count() == 0

        # failures stand out; the checklist is ticked from the log
        assert panel.locator(".dlm-card.dlm-failed").count() == 1
        assert panel.locator(".dlm-card.dlm-failed").get_attribute("data-action") == (
            "SEARCH_PRIOR_RUNS"
        )
        done = panel.locator(".dlm-panel-step[data-done='1']").evaluate_all(
            "steps => steps.map(s => s.dataset.step)"
        )
        assert done == ["model", "dataset", "time", "disk"]
        assert page.evaluate(LAST_CARD_IN_VIEW_JS, SIDE)

        # an entry appended by another process appears within a few seconds
        append_from_outside(
            experiment,
            "SEARCH_PRIOR_RUNS",
            "Appended by a script",
            Result="Found 3 prior runs",
            Explanation="Re-ran the search with the right path glob",
        )
        TIMINGS["side: outside append shown (s)"] = wait_for_brief(
            page, SIDE, "Appended by a script", 5_000
        )
        assert cards(page, SIDE) == expected(experiment)
        assert panel.locator(".dlm-panel-step[data-step=search]").get_attribute("data-done") == "1"
        assert page.evaluate(LAST_CARD_IN_VIEW_JS, SIDE)

        # the filters
        panel.locator(".dlm-filter-type select").select_option(label="VERIFY_DATASET")
        wait_for_cards(page, SIDE, 1)
        assert [c[1] for c in cards(page, SIDE)] == ["VERIFY_DATASET"]
        panel.locator(".dlm-filter-type select").select_option(label="All types")
        panel.locator(".dlm-filter-text input").fill("quota")
        panel.locator(".dlm-filter-text input").fill("prior runs")
        wait_for_cards(page, SIDE, 2)
        assert [c[2] for c in cards(page, SIDE)] == [
            "Searching for prior runs",
            "Appended by a script",
        ]
        panel.locator(".dlm-filter-text input").fill("")
        wait_for_cards(page, SIDE, count + 1)
        assert cards(page, SIDE) == expected(experiment)
        assert_clean(page)

        shot = artifacts / "side_panel.png"
        page.screenshot(path=str(shot))
        copy_screenshot(shot, DOCS_SCREENSHOT)
    finally:
        lab.end_sessions(name)


@pytest.mark.parametrize(
    "how, setup",
    [
        ("config", '%config DesignLogMagics.panel_placement = "inline"'),
        ("start option", None),
        ("side panel disabled", "%env DESIGNLOG_SIDE_PANEL=0"),
    ],
)
def test_inline_panel_in_the_cell_output(page, lab, tmp_path, artifacts, how, setup):
    experiment = tmp_path / "inline_experiment"
    name = f"inline_{how.replace(' ', '_')}.ipynb"
    cells = design_cells(experiment, "--panel inline" if setup is None else "")
    if setup is not None:
        cells.insert(1, setup)
    start_cell = 2 if setup is not None else 1
    write_notebook(lab.root / name, cells)
    try:
        open_notebook(page, lab, name)
        run_all(page, name)
        assert page.locator(".jupyterlab-sidecar").count() == 0
        output = page.locator(".jp-Notebook .jp-Cell").nth(start_cell).locator(".jp-OutputArea")
        panel = output.locator(".dlm-panel")
        assert panel.count() == 1 and panel.is_visible()
        assert page.locator(".dlm-panel").count() == 1
        scope = f".jp-Notebook .jp-Cell:nth-child({start_cell + 1}) .jp-OutputArea .dlm-panel"
        wait_for_cards(page, scope, len(expected(experiment)))
        assert cards(page, scope) == expected(experiment)
        notice = panel.locator(".dlm-panel-notice")
        if how == "side panel disabled":  # a fallback says why, once
            assert notice.count() == 1
            assert "rather than in a side panel" in notice.inner_text()
        else:  # asked for: nothing to explain
            assert notice.count() == 0
        assert panel.locator("img").count() == 0
        assert panel.locator(".dlm-brief", has_text=EVIL).count() == 1

        append_from_outside(experiment, "DECIDE_NAMING", "Named from the command line")
        TIMINGS[f"inline ({how}): outside append shown (s)"] = wait_for_brief(
            page, scope, "Named from the command line", 5_000
        )
        assert cards(page, scope) == expected(experiment)
        assert page.evaluate(LAST_CARD_IN_VIEW_JS, scope)
        assert_clean(page)
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / f"inline_{how.replace(' ', '_')}.png"))
    finally:
        lab.end_sessions(name)


def test_restart_then_start_again_shows_the_whole_log(page, lab, tmp_path, artifacts):
    """JupyterLab keeps a restarted kernel's side panel as it was (sidecar cannot close it
    from the new kernel); the new one shows the whole log and is the one that follows it."""
    experiment = tmp_path / "resumed_experiment"
    log = DesignLog(experiment)
    log.append_many(
        [new_entry("VERIFY_MODEL", f"Written before the notebook, {i}") for i in range(150)]
    )
    name = "restart.ipynb"
    write_notebook(
        lab.root / name,
        [
            "%load_ext designlog_magics",
            f"%designlog start {experiment} --panel split-right",
            '%log_entry DECIDE_NAMING "Name chosen" Decision="cap_8L_lora_2025-10-22"',
            'print("DONE-MARKER")',
        ],
    )
    try:
        open_notebook(page, lab, name)
        run_all(page, name)
        first = expected(experiment)
        wait_for_cards(page, SIDE, len(first))
        assert cards(page, SIDE) == first

        restart_kernel(page, name)
        lab.remember_kernels()
        page.locator(".jp-Notebook .jp-Cell").first.click()
        run_all(page, name)
        second = expected(experiment)
        assert second[: len(first)] == first and len(second) > len(first)
        append_from_outside(experiment, "CREATE_SUMMARY", "Written after the restart")
        live = page.locator(".jupyterlab-sidecar").filter(has_text="Written after the restart")
        live.first.wait_for(timeout=5_000)
        assert live.count() == 1
        third = expected(experiment)
        assert cards_in(live) == third  # the whole log, old entries included
        assert live.locator(".dlm-count-entries").inner_text() == f"{len(third)} entries"
        # the old kernel's panel, if JupyterLab kept it, says it is not live
        sidecars = page.locator(".jupyterlab-sidecar").count()
        assert sidecars in (1, 2)
        frozen = page.locator(".jupyterlab-sidecar .dlm-panel.jupyter-widgets-disconnected")
        assert frozen.count() == sidecars - 1
        assert live.locator(".dlm-panel.jupyter-widgets-disconnected").count() == 0
        if sidecars == 2:
            note = frozen.locator(".dlm-panel-header").evaluate(
                "e => getComputedStyle(e, '::after').content"
            )
            assert "Not live" in note
        assert_clean(page)
        page.screenshot(path=str(artifacts / "after_restart.png"))
    finally:
        lab.end_sessions(name)


def test_reopening_the_panel_elsewhere_closes_the_old_one(page, lab, tmp_path, artifacts):
    """%designlog panel --placement right: the split-right panel goes, the right sidebar
    gets the panel, and it keeps following."""
    experiment = tmp_path / "moved_panel"
    name = "moved_panel.ipynb"
    write_notebook(
        lab.root / name,
        [
            "%load_ext designlog_magics",
            f"%designlog start {experiment}",
            '%log_entry VERIFY_MODEL "Checking the model" Result="Directory exists"',
            "%designlog panel --placement right",
            '%log_entry VERIFY_DATASET "Checking the dataset" Result="File exists"',
            'print("DONE-MARKER")',
        ],
    )
    right = "#jp-right-stack .jupyterlab-sidecar"
    try:
        open_notebook(page, lab, name)
        run_all(page, name)
        wait_for_cards(page, right, len(expected(experiment)))
        assert page.locator(".jupyterlab-sidecar").count() == 1
        assert page.locator("#jp-main-dock-panel .jupyterlab-sidecar").count() == 0
        assert page.locator(right).is_visible()
        assert cards(page, right) == expected(experiment)
        append_from_outside(experiment, "CHECK_DISK", "Checked from a terminal")
        wait_for_brief(page, right, "Checked from a terminal", 5_000)
        assert cards(page, right) == expected(experiment)
        assert_clean(page)
        page.screenshot(path=str(artifacts / "right_sidebar.png"))
    finally:
        lab.end_sessions(name)
