"""A real JupyterLab server and notebooks for the browser tests.

The server runs on 127.0.0.1 with a random free port and token, with every Jupyter, IPython
and home directory under one scratch directory, and is stopped by its PID (SIGTERM, then
SIGKILL for it and any kernel left behind, also by PID).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def write_notebook(path: Path, cells: Iterable[str]) -> Path:
    """A notebook of code cells, with a kernelspec (without one Lab asks for a kernel)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def isolated_env(base: Path) -> dict[str, str]:
    """The environment with home, XDG, Jupyter and IPython directories under ``base``."""
    dirs = {
        "HOME": base / "home",
        "XDG_CONFIG_HOME": base / "home" / ".config",
        "XDG_CACHE_HOME": base / "home" / ".cache",
        "XDG_DATA_HOME": base / "home" / ".local" / "share",
        "JUPYTER_CONFIG_DIR": base / "jupyter-config",
        "JUPYTER_DATA_DIR": base / "jupyter-data",
        "JUPYTER_RUNTIME_DIR": base / "jupyter-runtime",
        "IPYTHONDIR": base / "ipython",
    }
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("JPY_")}
    env.update({key: str(value) for key, value in dirs.items()})
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env.pop("DESIGNLOG_SIDE_PANEL", None)
    # the kernels import this checkout, whatever is installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie answers kill(pid, 0) too
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class LabServer:
    """``jupyter lab`` in a scratch directory; ``start()``, ``stop()``, the REST API."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "notebooks"
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.kernel_pids: set[int] = set()
        self.env = isolated_env(base)
        self.startup_s = 0.0

    def start(self, timeout: float = 90) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        settings = self.base / "lab-settings"
        news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True, exist_ok=True)
        # no "get notified about Jupyter news?" toast over the screenshots
        news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        command = [
            str(BIN / "jupyter-lab"),
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.workspaces_dir={self.base / 'workspaces'}",
            f"--LabApp.user_settings_dir={settings}",
            "--expose-app-in-browser",
        ]
        started = time.monotonic()
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command,
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (self.base / "server.pid").write_text(str(self.proc.pid))
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                self.api("GET", "/api/status", timeout=2)
                break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"jupyter lab did not answer in {timeout} s:\n{self.log_tail()}")
            time.sleep(0.25)
        self.startup_s = time.monotonic() - started

    def api(self, method: str, path: str, timeout: float = 15) -> object:
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def remember_kernels(self) -> None:
        """Note the kernels' PIDs now (they are the server's children) for stop()."""
        if self.proc is not None:
            self.kernel_pids.update(child_pids(self.proc.pid))

    def end_sessions(self, path: str) -> None:
        """Shut down the notebook's kernel, so a later open does not restore its widgets."""
        self.remember_kernels()
        for session in self.api("GET", "/api/sessions") or []:  # type: ignore[union-attr]
            if session.get("path") == path:
                self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        if self.proc is None:
            return
        pid = self.proc.pid
        self.remember_kernels()
        if self.proc.poll() is None:
            os.kill(pid, signal.SIGTERM)  # the server shuts its kernels down, then exits
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for kernel in sorted(self.kernel_pids):
            if is_alive(kernel):
                os.kill(kernel, signal.SIGKILL)
        self.proc = None
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"


# -- pages ---------------------------------------------------------------------------------

# The kernel of the notebook `name` is connected and idle (needs --expose-app-in-browser; the
# toolbar's idle indicator alone can read idle while the kernel is still starting).
KERNEL_IDLE_JS = """(name) => {
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  const context = widget && widget.sessionContext;
  const kernel = context && context.session && context.session.kernel;
  return !!kernel && widget.context.path === name && context.isReady
    && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
}"""

# Every code cell has run (a number in its prompt, no [*]).
ALL_CELLS_RAN_JS = """() => {
  const prompts = [...document.querySelectorAll(
    '.jp-Notebook .jp-Cell.jp-CodeCell .jp-InputArea-prompt')];
  return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
}"""

RESTART_KERNEL_JS = """async () => {
  const context = window.jupyterapp.shell.currentWidget.sessionContext;
  await context.session.kernel.restart();
}"""

# The newest card is inside the visible part of the scrolling list.
LAST_CARD_IN_VIEW_JS = """(scope) => {
  const root = document.querySelector(scope);
  const body = root && root.querySelector('.dlm-panel-body');
  const cards = root ? root.querySelectorAll('.dlm-card') : [];
  if (!body || !cards.length) return false;
  const b = body.getBoundingClientRect();
  const c = cards[cards.length - 1].getBoundingClientRect();
  return c.height > 0 && c.top >= b.top - 1 && c.bottom <= b.bottom + 1;
}"""

CARDS_JS = """(scope) => [...document.querySelectorAll(scope + ' .dlm-card')].map(card => [
  card.querySelector('.dlm-time').textContent,
  card.dataset.action,
  card.querySelector('.dlm-brief').textContent,
])"""


def open_notebook(page, lab: LabServer, name: str) -> None:
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    wait_idle(page, name)
    lab.remember_kernels()


def wait_idle(page, name: str, timeout: float = 90_000) -> None:
    page.wait_for_function(KERNEL_IDLE_JS, arg=name, timeout=timeout, polling=200)


def run_all(page, name: str, marker: str = "DONE-MARKER") -> None:
    """Run All Cells from the Run menu; wait for the marker, every prompt, an idle kernel."""
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.locator(".jp-Notebook .jp-OutputArea-output", has_text=marker).first.wait_for()
    page.wait_for_function(ALL_CELLS_RAN_JS, polling=200)
    wait_idle(page, name)


def restart_kernel(page, name: str) -> None:
    page.evaluate(RESTART_KERNEL_JS)
    wait_idle(page, name)


def cards(page, scope: str) -> list[tuple[str, str, str]]:
    return [tuple(card) for card in page.evaluate(CARDS_JS, scope)]


def error_outputs(page) -> list[str]:
    found = page.locator(
        ".jp-Notebook [data-mime-type='application/vnd.jupyter.stderr'],"
        ".jp-Notebook [data-mime-type='application/vnd.jupyter.error']"
    )
    return found.all_inner_texts()
