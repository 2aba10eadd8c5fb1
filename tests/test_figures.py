"""The rate over a run as a static SVG: drawn by %log_speed when the figures extra (leather)
is there, and never imported by loading the extension (nor is matplotlib)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from IPython.utils.capture import capture_output

ROOT = Path(__file__).parent.parent
REAL = ROOT / "tests" / "data" / "real_slurm" / "drift.out"


def test_loading_the_extension_imports_no_chart_library_nor_jupyterlab(tmp_path):
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'designlog_magics')\n"
        "import designlog_magics.steps, designlog_magics.replay\n"
        "heavy = ('matplotlib', 'leather', 'jupyterlab')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "assert not bad, bad\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), IPYTHONDIR=str(tmp_path / "ipython"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_speed_shows_the_run_as_an_svg_that_survives_export(ip, tmp_path):
    ip.run_line_magic("designlog", f"start {tmp_path / 'exp'} --no-panel")
    with capture_output() as captured:
        entry = ip.run_line_magic("log_speed", str(REAL))
    svgs = [o.data["image/svg+xml"] for o in captured.outputs if "image/svg+xml" in o.data]
    assert len(svgs) == 1
    tree = ET.fromstring(svgs[0])
    assert tree.tag.endswith("svg")
    text = "".join(tree.itertext())
    assert "it/s" in text and "tokens/s per GPU" in text and "warmup" in text
    assert entry.get("Result").startswith("Throughput after warmup")


def test_without_the_figures_extra_the_entry_is_logged_and_no_figure_is_drawn(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['leather'] = None\n"  # the extra is not installed: importing it fails
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from IPython.utils.capture import capture_output\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'designlog_magics')\n"
        f"shell.run_line_magic('designlog', 'start {tmp_path / 'exp'} --no-panel')\n"
        "with capture_output() as captured:\n"
        f"    entry = shell.run_line_magic('log_speed', {str(REAL)!r})\n"
        "assert not [o for o in captured.outputs if 'image/svg+xml' in o.data]\n"
        "print('RESULT', entry.get('Result'))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), IPYTHONDIR=str(tmp_path / "ipython"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "\nRESULT Throughput after warmup: " in done.stdout
    assert "Traceback" not in done.stderr


def test_the_figure_draws_each_update_the_plan_and_the_tokens_per_step():
    from designlog_magics.figures import speed_figure
    from designlog_magics.probes.prior_run import read_prior_run

    prior = read_prior_run(REAL)
    svg = speed_figure(prior.speed, prior.tokens)
    assert svg is not None
    tree = ET.fromstring(svg)
    text = [t.strip() for t in tree.itertext() if t.strip()]
    plan = prior.speed.plan_its
    assert f"plan with {plan:.2f} it/s" in text  # the rate the plan divides by
    assert {"steady (kept)", "warmup", "tokens/s per GPU"} <= set(text)
    # one dot per update with a rate: the kinds a reader tells apart by colour
    dots = [e for e in tree.iter() if e.tag.endswith("circle")]
    assert len(dots) == sum(1 for p in prior.speed.points if p.rate_its)
    colours = {e.get("fill") for e in dots}
    assert {"#1565c0", "#f9a825"} <= colours  # steady and warmup
    # the tokens panel: a line through the logged steps and the median after warmup
    assert f"median after warmup: {prior.tokens.tokens_per_s:,.0f}" in text


def test_a_report_without_points_has_no_figure(tmp_path):
    from designlog_magics.figures import speed_figure
    from designlog_magics.probes.speed import extract_speed

    empty = tmp_path / "slurm-1.out"
    empty.write_text("no progress here\n")
    assert speed_figure(extract_speed(empty)) is None


def test_the_outcome_figure_shows_each_runs_estimate_beside_what_it_took():
    from designlog_magics.figures import ESTIMATE_COLOUR, VERDICT_COLOURS, outcome_figure

    points = [
        ("r8", 923.0, 978.0, "within the margin"),
        ("r16", 923.0, 1174.0, "UNDER-ESTIMATED"),
        ("r32", 923.0, 461.0, "over-estimated"),
        ("r8/eval/capitalization_epoch1", 250.0, 270.0, "within the margin"),
    ]
    svg = outcome_figure(points)
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")] or [
        t.text for t in root.iter("text")
    ]
    assert {"r8 estimated", "r16 took", "r32 took"} <= set(texts)
    assert not any("eval" in (t or "") for t in texts)  # training times only
    fills = [e.get("fill") for e in root.iter() if e.get("fill")]
    assert fills.count(ESTIMATE_COLOUR) == 3
    for verdict in ("within the margin", "UNDER-ESTIMATED", "over-estimated"):
        assert fills.count(VERDICT_COLOURS[verdict]) == 1, verdict
    assert outcome_figure([("r8/eval/x", 1.0, 2.0, "within the margin")]) is None
