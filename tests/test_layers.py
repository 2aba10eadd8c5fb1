"""The layers and the absence of import circles are checked by import-linter (`make lint`):
here a copy of the package with one climbing import, and one with a circle, is refused, and
the package as it is passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def _lint(tmp_path: Path, edit: tuple[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """lint-imports on a copy of the package, with ``edit`` = (module, import line) added."""
    copy = tmp_path / "src"
    shutil.copytree(
        REPO / "designlog_magics",
        copy / "designlog_magics",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    if edit is not None:
        module, line = edit
        path = copy / "designlog_magics" / module
        path.write_text(path.read_text() + f"\n{line}\n")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run(
        [str(LINT), "--config", str(tmp_path / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )


def test_the_package_keeps_its_layers(tmp_path):
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Contracts: 5 kept, 0 broken." in result.stdout


def test_a_core_module_importing_a_step_is_refused(tmp_path):
    result = _lint(tmp_path, ("entry.py", "from . import steps  # noqa"))
    assert result.returncode != 0
    assert "designlog_magics.entry is not allowed to import designlog_magics.steps" in result.stdout


def test_a_circle_between_siblings_is_refused(tmp_path):
    # audit and replay are siblings in one layer: each may import the other, but not both
    result = _lint(tmp_path, ("audit.py", "from . import replay  # noqa"))
    assert result.returncode != 0
    assert "No import circles, at any depth BROKEN" in result.stdout


def test_a_step_importing_a_view_is_refused(tmp_path):
    result = _lint(tmp_path, ("steps/disk.py", "from .. import display  # noqa"))
    assert result.returncode != 0
    assert "Steps return facts" in result.stdout and "BROKEN" in result.stdout
