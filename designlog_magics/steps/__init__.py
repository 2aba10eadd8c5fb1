"""One function per design step, and the verb table every edge reads.

A step takes typed keyword arguments and a :class:`StepContext` (the session's path names, the
user's variables, the log so far) and returns a :class:`StepOutcome`: the entry to append and
plain facts. The magics, the ``designlog`` verbs and the MCP tools all call the same steps
through :func:`verbs`, so a notebook, a batch script and an agent write the same entry for the
same check. Steps never append, display, draw or import IPython.

Every ``Command:`` a step writes is what was run (a cell's own shell command, as written), or a
command that reproduces the ``Result:`` exactly: the ``designlog`` verb that computes the figure,
or the familiar form where running it gives the same answer (``find`` for an unlimited search,
``df -h`` without a need).
"""

from .base import HAND_WRITTEN, WORKING_DIRECTORY, Plot, StepContext, StepOutcome
from .table import Verb, read_verbs, verb, verbs

__all__ = [
    "HAND_WRITTEN",
    "WORKING_DIRECTORY",
    "Plot",
    "StepContext",
    "StepOutcome",
    "Verb",
    "read_verbs",
    "verb",
    "verbs",
]
