"""SLURM: which runs happened before, how long they took, where their output went.

One module per question, lowest first: :mod:`.client` (calling ``sacct`` and ``scontrol``
through a ``runner`` with the signature of :func:`subprocess.run`, and their failures as
one-line errors), :mod:`.jobids` (job ids and SLURM's default output name),
:mod:`.accounting` (prior runs from ``sacct``: which count for estimates) and
:mod:`.outputs` (the file a job's stdout went to).
"""

from .accounting import (
    ACTIVE_STATES,
    DEFAULT_SINCE,
    SACCT_FIELDS,
    USABLE_STATES,
    SacctJob,
    SacctQuery,
    name_patterns,
    parse_elapsed,
    parse_sacct_output,
    query_jobs,
    sacct_command,
    sacct_command_line,
)
from .client import (
    COMMAND_TIMEOUT,
    Runner,
    SacctParseError,
    SlurmError,
    SlurmUnavailable,
    ensure_slurm,
    slurm_available,
)
from .outputs import OutputNotFound, resolve_output

__all__ = [
    "ACTIVE_STATES",
    "COMMAND_TIMEOUT",
    "DEFAULT_SINCE",
    "SACCT_FIELDS",
    "USABLE_STATES",
    "OutputNotFound",
    "Runner",
    "SacctJob",
    "SacctParseError",
    "SacctQuery",
    "SlurmError",
    "SlurmUnavailable",
    "ensure_slurm",
    "name_patterns",
    "parse_elapsed",
    "parse_sacct_output",
    "query_jobs",
    "resolve_output",
    "sacct_command",
    "sacct_command_line",
    "slurm_available",
]
