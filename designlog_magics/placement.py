"""Where the live panel can go: one list of placements, for the panel and for ``%designlog
start --panel``, and whether a side panel can exist where the kernel runs.

Plain Python (ipywidgets and sidecar are not imported; sidecar is only looked for), so that the
magics can check a placement, and a configuration can be refused, without building anything.
Names are matched whatever their case, as sidecar's own ``anchor`` trait matches its anchors.

In JupyterLab it is a side panel (the ``sidecar`` package) at ``placement``:
``split-right`` (beside the notebook, the default), ``right`` (the right sidebar), ``left``
and ``split-left`` (beside the notebook, on the left: Lab's left sidebar takes no widgets),
``split-bottom``, ``split-top``, ``tab`` (a tab in the main area; ``tab-after`` and
``tab-before`` say which side of the notebook's tab). ``inline`` puts it in the cell's
output. Case is ignored. These are :data:`~designlog_magics.placement.PANEL_PLACEMENTS`,
the list ``%designlog start --panel`` and ``DesignLogMagics.panel_placement`` take too.

A kernel cannot see its front end, so the side panel is chosen when all of these hold,
and the panel is shown inline otherwise (it then says why, once, in its own header):

1. the code runs in a Jupyter kernel (not a terminal IPython, not plain Python);
2. the kernel was started by a Jupyter server session (``JPY_SESSION_NAME`` is set, as
   JupyterLab's server does; nbconvert, papermill and ``jupyter console`` do not), and
   not by VS Code or Colab, which have no side panel;
3. ``sidecar`` can be imported.

The environment variable ``DESIGNLOG_SIDE_PANEL`` overrides 2: ``0`` always inline, ``1``
a side panel in any kernel (e.g. JupyterLab behind a gateway that sets no session name).
A classic Notebook served by the same kind of server cannot be told apart from JupyterLab;
there, use ``placement="inline"`` (``%config DesignLogMagics.panel_placement = "inline"``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

SIDE_PANEL_ENV = "DESIGNLOG_SIDE_PANEL"

# placement -> the sidecar anchor it opens at (Lab's left sidebar takes no widgets: "left"
# opens beside the notebook, on the left)
SIDE_ANCHORS: dict[str, str] = {
    "split-right": "split-right",
    "right": "right",
    "left": "split-left",
    "split-left": "split-left",
    "split-bottom": "split-bottom",
    "split-top": "split-top",
    "tab": "tab-after",
    "tab-after": "tab-after",
    "tab-before": "tab-before",
}
INLINE = "inline"
PANEL_PLACEMENTS: tuple[str, ...] = (*SIDE_ANCHORS, INLINE)
NO_PANEL = "none"  # %designlog start --panel none: no panel (not a placement)
START_CHOICES: tuple[str, ...] = (*PANEL_PLACEMENTS, NO_PANEL)
DEFAULT_PLACEMENT = "split-right"


def find_placement(name: str, choices: tuple[str, ...] = PANEL_PLACEMENTS) -> str | None:
    """The placement among ``choices`` that ``name`` spells, ignoring case; None if none."""
    if not isinstance(name, str):
        return None
    wanted = name.strip().lower()
    return next((choice for choice in choices if choice == wanted), None)


def placement_error(name: object, choices: tuple[str, ...] = PANEL_PLACEMENTS) -> str:
    """One line saying ``name`` is no placement, and what is."""
    return f"unknown panel placement {name!r}: use one of " + ", ".join(choices)


def current_shell() -> Any:
    """The running IPython shell, or None."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


def in_kernel(shell: Any) -> bool:
    """Whether ``shell`` runs in a Jupyter kernel (not a terminal IPython)."""
    return shell is not None and getattr(shell, "kernel", None) is not None


def side_panel_support() -> tuple[bool, str]:
    """Whether a JupyterLab side panel can be opened from here, and if not, why not.

    See the module docstring for the rules; ``DESIGNLOG_SIDE_PANEL`` overrides them.
    """
    shell = current_shell()
    if not in_kernel(shell):
        return False, "not running in a Jupyter kernel"
    forced = os.environ.get(SIDE_PANEL_ENV, "").strip().lower()
    if forced in ("0", "no", "off", "false", "inline"):
        return False, f"side panels are turned off ({SIDE_PANEL_ENV}={forced})"
    if forced not in ("1", "yes", "on", "true"):
        if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
            return False, "Colab has no side panel"
        user_ns = getattr(shell, "user_ns", {}) or {}
        if "__vsc_ipynb_file__" in user_ns or (
            "VSCODE_PID" in os.environ and "JPY_SESSION_NAME" not in os.environ
        ):
            return False, "VS Code has no side panel"
        if not os.environ.get("JPY_SESSION_NAME"):
            return False, "the kernel was not started from JupyterLab (no JPY_SESSION_NAME)"
    try:
        import sidecar  # noqa: F401
    except ImportError:
        return False, "the sidecar package is not installed (pip install sidecar)"
    return True, ""
