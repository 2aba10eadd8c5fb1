"""The ``designlog`` command as a real process, for the tests of every verb that has one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONSOLE_SCRIPT = Path(sys.executable).parent / "designlog"


def environment(**extra: str) -> dict[str, str]:
    """The test process's environment, less what would point a command at another log."""
    env = {k: v for k, v in os.environ.items() if k not in ("DESIGNLOG_DIR", "DESIGNLOG_DEBUG")}
    env.update(extra)
    return env


def run_designlog(
    *args: object,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    script: bool = False,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``python -m designlog_magics ARGS`` (or the console script), its output captured."""
    command = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "designlog_magics"]
    return subprocess.run(
        [*command, *map(str, args)],
        cwd=cwd,
        env=env or environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit status 2, one ``designlog: error:`` line holding each fragment, nothing on stdout."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("designlog: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""
