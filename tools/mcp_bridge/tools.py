"""MCP tools as our `Tool`s: named for the Messages API, classified, called through the bridge.

A bridged tool is `<server>_<tool>` for the model (no `/` allowed there), answers to
`<tool>` and so to `<server>/<tool>` in rules and agent definitions, and has
`source = <server>`, so `azure/*` (or an alias such as `mcp_microsoft_azu/*`) selects it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict

from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolError, ToolResult
from tools.mcp_bridge.connection import BridgeError
from tools.mcp_bridge.elicitation import ask_gate

if TYPE_CHECKING:
    from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult
    from mcp.types import Tool as McpTool

    from tools.mcp_bridge.connection import ServerConnection

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
GATE_KEY = "gate"  # where a session puts its `Gate` in `ToolContext.extras`


class McpArgs(ToolArgs):
    """Whatever the server's schema allows; the server validates its own arguments."""

    model_config = ConfigDict(extra="allow")


class BridgedTool(Tool):
    """Base of the per-tool classes `bridged_tool` makes."""

    args_model: ClassVar[type[ToolArgs]] = McpArgs
    concurrent_safe: ClassVar[bool] = False  # one call per server at a time
    mcp_name: ClassVar[str]
    schema: ClassVar[dict[str, Any]]
    hinted_effect: ClassVar[Effect]  # what the annotations alone said
    connection: ServerConnection

    def input_schema(self) -> dict[str, Any]:
        return self.schema

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        arguments = dict(args.model_extra or {}) if isinstance(args, McpArgs) else {}
        gate = ctx.extras.get(GATE_KEY)

        async def on_elicit(params: ElicitRequestParams) -> ElicitResult:
            return await ask_gate(
                gate, server=self.source, tool=self.mcp_name, effect=self.effect, params=params
            )

        try:
            result = await self.connection.call(
                self.mcp_name,
                arguments,
                on_elicit=on_elicit,
                retry_if_died=self.effect is Effect.READ,  # a read can safely run again
            )
        except BridgeError as exc:
            raise ToolError(str(exc)) from exc
        return to_tool_result(result)


def model_name(server: str, tool: str) -> str:
    """`<server>_<tool>`, in the characters and length the Messages API accepts."""
    prefix = f"{server}_"
    body = _NAME_CHARS.sub("_", tool.removeprefix(prefix))
    return (prefix + body)[:64]


def bridged_tool(
    server: str, spec: McpTool, effect: Effect, hinted: Effect, connection: ServerConnection
) -> BridgedTool:
    """A `Tool` for MCP tool `spec` of `server`, with its (rule-raised) effect."""
    attrs: dict[str, Any] = {
        "name": model_name(server, spec.name),
        "description": (spec.description or spec.title or spec.name)[:1024],
        "effect": effect,
        "hinted_effect": hinted,
        "aliases": (spec.name,),
        "source": server,
        "mcp_name": spec.name,
        "schema": dict(spec.input_schema or {"type": "object", "properties": {}}),
    }
    cls = type(f"Bridged_{attrs['name']}", (BridgedTool,), attrs)
    tool = cls()
    tool.connection = connection
    return tool


def to_tool_result(result: CallToolResult) -> ToolResult:
    """Text for the model, structured content as data; `isError` stays an error."""
    parts: list[str] = []
    for block in result.content:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')}]")
    data = result.structured_content
    text = "\n".join(parts) or (json.dumps(data) if data else "")
    return ToolResult(text=text, data=dict(data) if data else None, is_error=result.is_error)
