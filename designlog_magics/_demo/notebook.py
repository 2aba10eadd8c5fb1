"""The demo notebook executed without a browser, in a kernel of this interpreter.

``run_demo`` builds the demo data in a workspace, executes ``notebooks/design_experiment.ipynb``
on it (its first cell reads ``$DESIGNLOG_DEMO_DIR``), saves the executed copy there and
finds the design log it wrote; ``execute_notebook`` is the same for any notebook, and is
what the notebook tests use.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .data import DEMO_NOTEBOOK, ENV_WORKSPACE, DemoFacts, build_demo_data


def notebooks_dir() -> Path:
    """The project's ``notebooks/`` folder (next to the package in a source checkout)."""
    return Path(__file__).resolve().parents[2] / "notebooks"


def _kernel_is_this_python(spec: Any) -> bool:
    first = spec.argv[0] if spec.argv else ""
    if first in (
        "python",
        f"python{sys.version_info[0]}",
        f"python{sys.version_info[0]}.{sys.version_info[1]}",
    ):
        return True  # jupyter_client starts these with the interpreter running it
    return os.path.realpath(first) == os.path.realpath(sys.executable)


def kernel_manager(kernel_name: str = "python3", workdir: str | None = None) -> Any:
    """A kernel manager for ``kernel_name`` that runs this interpreter.

    The installed ``python3`` kernel spec is used when it starts this interpreter (in a
    virtual environment it does); a user-wide one that points elsewhere is replaced by a spec
    for ``sys.executable`` written under ``workdir``.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import KernelManager

    specs = KernelSpecManager()
    try:
        if _kernel_is_this_python(specs.get_kernel_spec(kernel_name)):
            return KernelManager(kernel_name=kernel_name, kernel_spec_manager=specs)
    except NoSuchKernel:
        pass
    base = Path(workdir or tempfile.mkdtemp(prefix="designlog-kernel-"))
    spec_dir = base / "kernels" / kernel_name
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3",
                "language": "python",
            }
        )
    )
    pinned = KernelSpecManager(kernel_dirs=[str(base / "kernels")])
    return KernelManager(kernel_name=kernel_name, kernel_spec_manager=pinned)


def execute_notebook(
    notebook: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: int = 300,
    save_to: str | os.PathLike[str] | None = None,
) -> Any:
    """Execute a notebook top to bottom in a ``python3`` kernel of this interpreter.

    The kernel runs in ``cwd`` (default: the notebook's folder, as in JupyterLab) with the
    extra environment ``env``. The executed notebook is returned, and written to ``save_to``
    when given (also when a cell fails: then ``nbclient.exceptions.CellExecutionError`` is
    raised after saving).
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="designlog-kernel-") as workdir:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            km=kernel_manager("python3", workdir),
            resources={"metadata": {"path": str(Path(cwd) if cwd else path.parent)}},
        )
        try:
            client.execute(env={**os.environ, **(env or {})})
        finally:
            if save_to is not None:
                Path(save_to).parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, save_to)
    return nb


def _log_of(executed: Path, nb: Any, facts: DemoFacts) -> Path:
    """The design log the executed notebook wrote."""
    try:
        from ..record import find_log

        return find_log(nb, executed).path
    except Exception:  # an older record module, or no record shown: look in the scratch space
        logs = sorted(
            facts.scratch_dir.glob("*/design-experiment.log"), key=lambda p: p.stat().st_mtime
        )
        if not logs:
            raise FileNotFoundError(f"no design-experiment.log under {facts.scratch_dir}") from None
        return logs[-1]


def run_demo(
    workspace: str | os.PathLike[str],
    *,
    notebook: str | os.PathLike[str] | None = None,
    timeout: int = 300,
) -> tuple[DemoFacts, Path, Path]:
    """Build the demo data in ``workspace``, execute the demo notebook on it and save the
    executed copy there; returns (facts, executed notebook, design log)."""
    facts = build_demo_data(workspace)
    source = Path(notebook) if notebook else notebooks_dir() / DEMO_NOTEBOOK
    if not source.is_file():
        raise FileNotFoundError(f"no notebook at {source} (give one with --notebook)")
    executed = facts.root / source.name
    nb = execute_notebook(
        source,
        env={ENV_WORKSPACE: str(facts.root)},
        cwd=source.parent,
        timeout=timeout,
        save_to=executed,
    )
    return facts, executed, _log_of(executed, nb, facts)
