"""designlog-magics: a notebook that writes the audit trail of an experiment's design.

The core (entries, their text format, the log file) is plain Python and needs no IPython::

    from designlog_magics import DesignLog, new_entry
    log = DesignLog("/scratch/me/cap_8L_lora_comparison_2025-10-22")
    log.append(new_entry("VERIFY_MODEL", "Checking Llama-3.2-1B-Instruct",
                         command="ls {models_dir}/Llama-3.2-1B-Instruct",
                         result="Directory exists with 15 files", explanation="..."))

In IPython or Jupyter, ``%load_ext designlog_magics`` registers the magics.
"""

from __future__ import annotations

from typing import Any

from .entry import Entry, EntryError, new_entry, validate_action
from .masking import DEFAULT_SECRET_PATTERNS, SecretMasker, mask_text
from .spec import BUILTIN_ACTIONS, START_ACTION, ActionSpec, action_family
from .store import LOG_FILENAME, DesignLog, LogFollower, LogWriteError, read_log
from .textformat import Diagnostic, ParseResult, parse, render, render_all
from .version import __version__

__all__ = [
    "__version__",
    "BUILTIN_ACTIONS",
    "DEFAULT_SECRET_PATTERNS",
    "LOG_FILENAME",
    "START_ACTION",
    "ActionSpec",
    "DesignLog",
    "Diagnostic",
    "Entry",
    "EntryError",
    "LogFollower",
    "LogWriteError",
    "ParseResult",
    "SecretMasker",
    "action_family",
    "load_ipython_extension",
    "mask_text",
    "new_entry",
    "parse",
    "read_log",
    "render",
    "render_all",
    "unload_ipython_extension",
    "validate_action",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext designlog_magics``: register the magics (imported only now)."""
    from .magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext designlog_magics``: remove the magics and close the panel."""
    from .magics import unregister

    unregister(ipython)
