"""The gatekeeper for re-running a log's ``Command:`` lines: only reads, and only where the plan
lives.

A log is untrusted text (it can be edited by hand, forged, or received from someone else), so a
replay must never hand a ``Command:`` line to a shell, nor read what the plan does not name.
:func:`judge_command` reads the line with a small lexer that, unlike ``shlex``, remembers which
characters were quoted, and either returns the argv of each pipeline stage (a
:class:`ReadCommand`) or says in one line why it will not run it (a :class:`Refusal`).
:func:`run_pipeline` then runs those argvs directly, without a shell, through the package's one
runner (:func:`designlog_magics.probes.commands.run_command`).

One module per idea, lowest first: :mod:`.refusal` (why a line will not run, printable),
:mod:`.shellwords` (the words a shell would make of the line, or a refusal),
:mod:`.programs` (which of those words each read program takes as paths),
:mod:`.confine` (the one rule for where a path may lead), :mod:`.judge` (the judgement of a
line) and :mod:`.pipeline` (running what was judged).
"""

from .confine import OUTSIDE, confine
from .judge import ReadCommand, judge_command, read_verbs
from .pipeline import run_pipeline, verb_argv
from .programs import PIPE_PROGRAMS, READ_PROGRAMS
from .refusal import Refusal
from .shellwords import split_command_lines, substitute_paths

__all__ = [
    "OUTSIDE",
    "PIPE_PROGRAMS",
    "READ_PROGRAMS",
    "ReadCommand",
    "Refusal",
    "confine",
    "judge_command",
    "read_verbs",
    "run_pipeline",
    "split_command_lines",
    "substitute_paths",
    "verb_argv",
]
