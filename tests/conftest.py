"""Shared fixtures: hypothesis profiles (CI runs thousands of round-trip examples)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# With pytest-xdist, each of these directories runs on one worker: its tests share one
# JupyterLab and Chromium, or one SLURM cluster, started once per worker that runs them.
ONE_WORKER = ("tests/browser/", "tests/slurm/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist load`` or ``loadgroup``, with ONE_WORKER's directories kept together (xdist's
    own ``xdist_group`` marks do not group under pytest 9.2, which ignores the node id suffix
    that xdist 3.8 writes)."""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class DirectoriesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((d for d in ONE_WORKER if nodeid.startswith(d)), nodeid)

    return DirectoriesTogether(config, log)


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path_factory, monkeypatch):
    """Facts caches go to a temporary directory: no test touches the user's cache."""
    monkeypatch.setenv("DESIGNLOG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def ip():
    """A real IPython shell with the extension loaded (unloaded afterwards)."""
    from tests.magics_shell import TestingShell

    shell = TestingShell.instance()
    shell.run_line_magic("load_ext", "designlog_magics")
    yield shell
    shell.run_line_magic("unload_ext", "designlog_magics")
    shell.user_ns.pop("_designlog_test", None)


@pytest.fixture
def plain_shell():
    """The same shell without error surfacing: to see what a user sees for bad input."""
    from IPython.core.interactiveshell import InteractiveShell

    from tests.magics_shell import TestingShell

    shell = TestingShell.instance()
    shell.run_line_magic("load_ext", "designlog_magics")
    yield lambda source: InteractiveShell.run_cell(shell, source)
    shell.run_line_magic("unload_ext", "designlog_magics")


@pytest.fixture
def resources(tmp_path) -> dict[str, Path]:
    """A models directory, a dataset with splits, an experiment directory."""
    models = tmp_path / "models"
    model = models / "Llama-3.2-1B-Instruct"
    model.mkdir(parents=True)
    for name, size in [
        ("config.json", 900),
        ("generation_config.json", 200),
        ("model.safetensors", 250_000),
        ("special_tokens_map.json", 300),
        ("tokenizer.json", 90_000),
        ("tokenizer_config.json", 5_000),
    ]:
        (model / name).write_bytes(b"x" * size)
    repo = tmp_path / "repo"
    data = repo / "data" / "green" / "capitalization"
    data.mkdir(parents=True)
    rows = [{"input": f"word{i}", "output": f"WORD{i}"} for i in range(10_000)]
    dataset = data / "words_8L_80P_10000.json"
    dataset.write_text(
        json.dumps({"train": rows[:8000], "validation": rows[8000:9000], "test": rows[9000:]})
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return {
        "models": models,
        "model": model,
        "repo": repo,
        "dataset": dataset,
        "scratch": scratch,
        "experiment": scratch / "cap_8L_lora_comparison_2025-10-22",
    }
