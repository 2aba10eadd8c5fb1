"""The demo notebook in a real JupyterLab, in headless Chromium: what `make demo` shows.

The notebook runs top to bottom in Lab's own kernel, with the panel beside it, and its two
figures (the prior run's rate from `%log_speed`, the estimates against what the runs took from
`%designlog outcome`) are rendered as images in the page, not as an error or a placeholder.
"""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from designlog_magics import read_log
from tests.browser.conftest import REPO
from tests.browser.lab import error_outputs, open_notebook, run_all

# one worker runs every test of the one JupyterLab server (make test runs pytest-xdist)
pytestmark = pytest.mark.browser

SVG_OUTPUTS = ".jp-Notebook .jp-OutputArea-output[data-mime-type='image/svg+xml']"

# Each rendered SVG output: drawn (an image with a size) and what cell it came from.
SVG_SOURCES_JS = """(selector) => [...document.querySelectorAll(selector)].map(output => {
  const cell = output.closest('.jp-CodeCell');
  const image = output.querySelector('img, svg');
  const box = image ? image.getBoundingClientRect() : {width: 0, height: 0};
  return {
    source: cell ? cell.querySelector('.jp-InputArea-editor').textContent : '',
    width: box.width,
    height: box.height,
    loaded: image ? (image.tagName === 'svg' || image.naturalWidth > 0) : false,
  };
})"""


def test_the_demo_notebook_runs_in_lab_and_shows_its_figures(page, lab):
    name = "design_experiment_in_lab.ipynb"
    nb = nbformat.read(REPO / "notebooks" / "design_experiment.ipynb", 4)
    nb.cells.append(new_code_cell('print("DONE-MARKER")'))
    nbformat.write(nb, lab.root / name)
    open_notebook(page, lab, name)
    run_all(page, name)
    assert error_outputs(page) == []
    figures = page.evaluate(SVG_SOURCES_JS, SVG_OUTPUTS)
    sources = [f["source"] for f in figures]
    assert len(figures) == 2, sources
    assert "%log_speed" in sources[0] and "%designlog outcome" in sources[1]
    for figure in figures:
        assert figure["loaded"] and figure["width"] > 200 and figure["height"] > 100, figure
    # the side panel follows the same log, checks included
    logs = sorted((lab.root / "demo-workspace" / "scratch").glob("cap_8L_*/design-experiment.log"))
    assert len(logs) == 1
    entries = read_log(logs[0]).entries
    assert entries[-1].action == "CHECK_ESTIMATE"
    side = page.locator("#jp-main-dock-panel .jupyterlab-sidecar .dlm-card")
    side.nth(len(entries) - 1).wait_for()
    assert side.count() == len(entries)
