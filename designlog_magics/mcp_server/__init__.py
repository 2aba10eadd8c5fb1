"""``designlog mcp``: every design step as a Model Context Protocol tool, served over stdio.

Why: an agent that follows the specification's prose writes the log by hand, and the format
drifts. Here it calls the very steps the magics and the ``designlog`` verbs call, with typed
arguments, and the server appends the entry a notebook would append for the same arguments
(same wording, same masking, same locked append), so the log is right by construction.

* :mod:`.tools`: one tool per row of the verb table, plus ``replay`` and ``audit``; schemas
  from the steps' signatures.
* :mod:`.confinement`: what a call may give (one-line text, paths inside the design).
* :mod:`.designs`: a session per experiment directory, and each call run against it.
* :mod:`.server`: the SDK's stdio server over them.
"""

from .confinement import ConfinedContext, ToolError, check_text
from .designs import Designs
from .server import OUTPUT_SCHEMA, SDKMissing, build_server, require_sdk, serve
from .tools import Parameter, Reply, ToolSpec, tool_specs, verb_spec

__all__ = [
    "OUTPUT_SCHEMA",
    "ConfinedContext",
    "Designs",
    "Parameter",
    "Reply",
    "SDKMissing",
    "ToolError",
    "ToolSpec",
    "build_server",
    "check_text",
    "require_sdk",
    "serve",
    "tool_specs",
    "verb_spec",
]
