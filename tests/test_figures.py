"""The rate over a run as a static SVG: drawn by %log_speed when matplotlib is there, and
never imported by loading the extension."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from IPython.utils.capture import capture_output

ROOT = Path(__file__).parent.parent
REAL = ROOT / "tests" / "data" / "real_slurm" / "drift.out"


def test_loading_the_extension_imports_neither_matplotlib_nor_jupyterlab(tmp_path):
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'designlog_magics')\n"
        "import designlog_magics.steps, designlog_magics.replay\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'jupyterlab')]\n"
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


def test_without_matplotlib_the_entry_is_logged_and_no_figure_is_drawn(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "from designlog_magics.steps import speed, StepContext\n"
        "import argparse\n"
        f"args = argparse.Namespace(source={str(REAL)!r}, full=False, like=None, explain=None)\n"
        "outcome = speed(args, StepContext())\n"
        "assert outcome.figure is None\n"
        "print(outcome.result)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Throughput after warmup")
