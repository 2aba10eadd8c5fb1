"""The Binder configuration, built the way repo2docker builds it.

A copy of the repository, a fresh virtual environment (``binder/runtime.txt``'s Python: this
one), exactly ``binder/requirements.txt`` installed from the package registry, then
``binder/postBuild`` run from the copy's root. In that environment the notebooks must run
top to bottom in its own ``python3`` kernel, and JupyterLab must have the widgets and
sidecar extensions the live panel needs. Slow (a minute or two: most of it is pip).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
COPIED = ["pyproject.toml", "README.md", "designlog_magics", "notebooks", "binder"]
IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "demo-workspace", ".ipynb_checkpoints", "*.egg-info"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")

DRIVER = """
import json, os, sys
from pathlib import Path
from designlog_magics._demo import execute_notebook

notebooks = Path(sys.argv[1])
results = {}
for path in sorted(notebooks.glob("*.ipynb")):
    env = {}
    if path.name != "design_experiment.ipynb":  # that one uses postBuild's demo-workspace
        env["DESIGNLOG_DEMO_DIR"] = str(Path(sys.argv[2]) / path.stem)
    nb = execute_notebook(path, env=env, cwd=notebooks, timeout=180)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    results[path.name] = len(errors)
probe = Path(sys.argv[2]) / "probe.ipynb"
import nbformat
from nbformat.v4 import new_code_cell, new_notebook
nb = new_notebook(cells=[new_code_cell("import sys; print(sys.prefix)")])
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nbformat.write(nb, probe)
results["kernel_prefix"] = execute_notebook(probe, timeout=60).cells[0].outputs[0].text.strip()
print(json.dumps(results))
"""


def _run(command, *, cwd, env, timeout, what):
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result, elapsed


def test_runtime_and_requirements_are_pinned():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime)
    assert runtime == f"python-{sys.version_info[0]}.{sys.version_info[1]}", (
        "the tests build the Binder environment with this interpreter"
    )
    requirements = [
        line.split("#")[0].strip()
        for line in (BINDER / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    names = {re.split(r"[=<>!~\[]", line)[0].lower().replace("_", "-") for line in requirements}
    for needed in ["jupyterlab", "ipywidgets", "sidecar", "ipykernel", "nbclient", "nbformat"]:
        assert needed in names
    assert all("==" in line for line in requirements), "pin every requirement"
    assert os.access(BINDER / "postBuild", os.X_OK), "postBuild must be executable"


def test_binder_environment_runs_the_notebooks_with_the_panel_extensions(tmp_path):
    timings = {}
    repo = tmp_path / "repo"
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=IGNORED)
        else:
            repo.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    venv = tmp_path / "venv"
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DESIGNLOG_", "VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_"))
    }
    base_env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    _, timings["venv"] = _run(
        [sys.executable, "-m", "venv", str(venv)],
        cwd=tmp_path,
        env=base_env,
        timeout=120,
        what="python -m venv",
    )
    env = {
        **base_env,
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{base_env.get('PATH', '')}",
    }
    python = str(venv / "bin" / "python")
    _, timings["requirements"] = _run(
        [python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
        cwd=repo,
        env=env,
        timeout=600,
        what="pip install -r binder/requirements.txt",
    )
    built, timings["postBuild"] = _run(
        ["bash", "binder/postBuild"], cwd=repo, env=env, timeout=600, what="binder/postBuild"
    )
    assert (repo / "notebooks" / "demo-workspace" / "scratch").is_dir()

    # the package comes from the copy, the lab from the venv
    where, _ = _run(
        [python, "-c", "import designlog_magics, jupyterlab; print(designlog_magics.__file__)"],
        cwd=tmp_path,
        env=env,
        timeout=60,
        what="import",
    )
    assert where.stdout.strip().startswith(str(repo))

    listed, _ = _run(
        [str(venv / "bin" / "jupyter"), "labextension", "list"],
        cwd=repo,
        env=env,
        timeout=120,
        what="jupyter labextension list",
    )
    text = ANSI.sub("", listed.stdout + listed.stderr)
    for extension in ["@jupyter-widgets/jupyterlab-manager", "@jupyter-widgets/jupyterlab-sidecar"]:
        line = next((ln for ln in text.splitlines() if extension in ln), "")
        assert "enabled" in line and "OK" in line, text

    results, timings["notebooks"] = _run(
        [python, "-c", DRIVER, str(repo / "notebooks"), str(tmp_path / "workspaces")],
        cwd=repo,
        env=env,
        timeout=600,
        what="executing the notebooks",
    )
    import json

    counts = json.loads(results.stdout.strip().splitlines()[-1])
    assert counts.pop("kernel_prefix") == str(venv), "the python3 kernel is not the venv's"
    assert counts == {
        "design_experiment.ipynb": 0,
        "python_api_and_cli.ipynb": 0,
        "real_cluster.ipynb": 0,
    }
    logs = list((repo / "notebooks" / "demo-workspace" / "scratch").glob("*/design-experiment.log"))
    assert len(logs) == 1 and "COMPLETE: Experiment design finished" in logs[0].read_text()
    print("binder build timings:", {k: f"{v:.0f}s" for k, v in timings.items()})
