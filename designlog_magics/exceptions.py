"""The package's own errors.

Every error the package raises on purpose (bad input, an unusable file, a failed SLURM query) is
a :class:`DesignLogError`. The steps raise them with a plain message; each edge adds who is
speaking, in one place: a magic turns them into one plain ``UsageError`` line (IPython prints no
traceback for it; :func:`designlog_magics.magics.translate_errors`), the command line into one
``designlog: error: ...`` line and exit status 2, the MCP server into a tool error.
"""

from __future__ import annotations


class DesignLogError(Exception):
    """Bad input or an unusable file: reported as one line, never as a traceback."""


class StepError(DesignLogError):
    """A design step that cannot run with the arguments it was given."""
