"""The stdio server: ``tools/list`` and ``tools/call`` of the MCP SDK over the designs.

Why: the SDK (the ``agents`` extra) is imported only here, and only when ``designlog mcp`` runs,
so the package's core stays light.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..exceptions import DesignLogError
from ..masking import SecretMasker
from ..version import __version__
from .designs import Designs
from .tools import SERVER_NAME

if TYPE_CHECKING:
    from mcp.server import Server

SDK_MAJOR = 2  # the lowlevel Server with on_list_tools / on_call_tool handlers
INSTALL_HINT = "pip install 'designlog-magics[agents]'"

INSTRUCTIONS = (
    "Plan an LLM fine-tuning experiment step by step. Each step appends one entry to "
    "{experiment_dir}/design-experiment.log, worded as the designlog notebook magics word it. "
    "Call start first, with an absolute experiment_dir and paths NAME=DIR for the directories "
    "the steps read (models, repository, scratch space). Every path argument must lie inside "
    "the experiment directory or one of those directories, and may be written {NAME}/...; "
    "the log keeps the placeholder. Then: decide (the name), verify MODEL and DATASET, search "
    "(like the plan), speed of the best prior run, calculate the time (estimate, limit), "
    "calculate the disk, disk (need), decide the recipe, summary (the plan in markdown), "
    "complete. audit checks the log as an auditor would; replay re-runs its read-only commands."
)

_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "timestamp": {"type": "string"},
        "action": {"type": "string"},
        "brief": {"type": "string"},
        "fields": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
        },
    },
    "required": ["timestamp", "action", "brief", "fields"],
}
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "entry": {"anyOf": [_ENTRY_SCHEMA, {"type": "null"}]},
        "entries": {"type": "array", "items": _ENTRY_SCHEMA},
        "result": {"type": "string"},
        "failed": {"type": "boolean"},
        "facts": {},
        "notes": {"type": "array", "items": {"type": "string"}},
        "log": {"type": ["string", "null"]},
    },
    "required": ["entry", "entries", "result", "failed", "facts", "notes", "log"],
}


class SDKMissing(DesignLogError):
    """The ``mcp`` SDK (the ``agents`` extra) is not installed, or is too old."""


def require_sdk() -> None:
    """Refuse in one line when the ``agents`` extra is missing or the SDK is too old."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mcp")
    except PackageNotFoundError:
        raise SDKMissing(f"designlog mcp needs the MCP SDK: {INSTALL_HINT}") from None
    major = re.match(r"\d+", found)
    if major is None or int(major.group()) < SDK_MAJOR:
        raise SDKMissing(
            f"designlog mcp needs the MCP SDK {SDK_MAJOR}.0 or later (found {found}): "
            f"{INSTALL_HINT}"
        )
    try:
        import mcp.server  # noqa: F401
        import mcp.server.stdio  # noqa: F401
        import pydantic  # noqa: F401
    except ImportError as exc:
        raise SDKMissing(
            f"designlog mcp needs the MCP SDK ({exc.name or 'mcp'} cannot be imported): "
            f"{INSTALL_HINT}"
        ) from None


def build_server(designs: Designs) -> Server[Any]:
    """The MCP server: ``tools/list`` from the specs, ``tools/call`` one call at a time (a
    step runs in a worker thread, so the connection keeps answering)."""
    import anyio
    import anyio.to_thread
    from mcp import types
    from mcp.server import Server

    tools = [
        types.Tool(
            name=spec.name,
            description=spec.description,
            input_schema=spec.input_schema(),
            output_schema=OUTPUT_SCHEMA,
            annotations=types.ToolAnnotations(
                read_only_hint=spec.read_only,
                destructive_hint=False,
                idempotent_hint=spec.read_only,
                open_world_hint=False,
            ),
        )
        for spec in designs.specs.values()
    ]
    one_at_a_time = anyio.Lock()

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        async with one_at_a_time:
            reply = await anyio.to_thread.run_sync(
                designs.call, params.name, dict(params.arguments or {})
            )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=reply.text)],
            structured_content=reply.data,
            is_error=reply.error,
        )

    server: Server[Any] = Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    return server


async def _serve_stdio(designs: Designs) -> None:
    from mcp.server.stdio import stdio_server

    server = build_server(designs)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def serve(masker: SecretMasker | None = None) -> int:
    """Serve the tools over stdin/stdout until the client closes the connection."""
    require_sdk()
    import anyio

    designs = Designs(masker)
    anyio.run(_serve_stdio, designs)
    return 0
