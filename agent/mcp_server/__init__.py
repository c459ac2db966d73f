"""The MCP front end: `hotfix mcp` for VS Code chat (and any MCP client).

`build_server(ServerOptions(workspace))` returns the `MCPServer`; `agent.cli_mcp` and the
fast console entry `agent.mcp_server.entry` serve it. Nothing is imported until used, so
that the console entry living in this package costs other commands nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.mcp_server.options import ServerOptions
    from agent.mcp_server.server import build_server

__all__ = ["ServerOptions", "build_server"]


def __getattr__(name: str) -> object:
    if name == "ServerOptions":
        from agent.mcp_server.options import ServerOptions

        return ServerOptions
    if name == "build_server":
        from agent.mcp_server.server import build_server

        return build_server
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
