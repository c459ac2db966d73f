"""MCP servers as tool sources: the Azure MCP server, or any other, behind the gate.

`open_bridges(configs)` starts each configured server and yields its tools as `Tool`s
(`source` = the server's name, effect from annotations, made stricter by rules);
`discover_tools(configs)` only lists them (start, list, stop). Sessions
pass them as extra tools and put their `Gate` in `ToolContext.extras["gate"]`, which then
answers the servers' elicitation requests.
"""

from __future__ import annotations

from tools.mcp_bridge.bridge import McpBridge, discover_tools, open_bridges
from tools.mcp_bridge.classify import apply_rules, effect_from_hints
from tools.mcp_bridge.connection import BridgeError, ServerDied, stray_lines_seen
from tools.mcp_bridge.settings import McpConfig, McpServerConfig, azure_server
from tools.mcp_bridge.tools import GATE_KEY, BridgedTool

__all__ = [
    "GATE_KEY",
    "BridgeError",
    "BridgedTool",
    "McpBridge",
    "McpConfig",
    "McpServerConfig",
    "ServerDied",
    "apply_rules",
    "azure_server",
    "discover_tools",
    "effect_from_hints",
    "open_bridges",
    "stray_lines_seen",
]
