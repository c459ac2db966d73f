"""The bridge to one MCP server: start it, list and classify its tools, stop it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterable
from pathlib import Path

from tools.base import Tool
from tools.mcp_bridge.classify import apply_rules, effect_from_hints
from tools.mcp_bridge.connection import ServerConnection
from tools.mcp_bridge.settings import McpServerConfig
from tools.mcp_bridge.tools import BridgedTool, bridged_tool


class McpBridge:
    """An MCP server whose tools the agent uses as its own, behind the gate.

    Args:
        config: How to start the server and classify its tools.
        cwd: Working directory of the server process.
    """

    def __init__(self, config: McpServerConfig, *, cwd: Path | None = None) -> None:
        self.config = config
        self.connection = ServerConnection(config, cwd=cwd)
        self.tools: list[BridgedTool] = []

    async def start(self) -> list[BridgedTool]:
        """Start the server and discover its tools.

        Raises:
            BridgeError: The server did not start or did not list its tools.
        """
        await self.connection.start()
        self.tools = []
        for spec in await self.connection.list_tools():
            hinted = effect_from_hints(spec.annotations, spec.meta)
            effect = apply_rules(spec.name, hinted, self.config.effects)
            self.tools.append(bridged_tool(self.config.name, spec, effect, hinted, self.connection))
        return self.tools

    async def aclose(self) -> None:
        """Stop the server."""
        await self.connection.aclose()


@contextlib.asynccontextmanager
async def open_bridges(
    configs: Iterable[McpServerConfig], *, cwd: Path | None = None
) -> AsyncGenerator[list[Tool]]:
    """Start every configured server; yield all their tools; stop them all afterwards.

    Raises:
        BridgeError: A server did not start (the ones already started are stopped).
    """
    bridges: list[McpBridge] = []
    try:
        tools: list[Tool] = []
        for config in configs:
            bridge = McpBridge(config, cwd=cwd)
            bridges.append(bridge)
            tools += await bridge.start()
        yield tools
    finally:
        for bridge in bridges:
            await bridge.aclose()


async def discover_tools(
    configs: Iterable[McpServerConfig], *, cwd: Path | None = None
) -> list[Tool]:
    """Start every configured server, list its classified tools, and stop it again.

    For listings (`hotfix tools`); a tool returned here starts its server again if called.

    Raises:
        BridgeError: A server did not start or did not list its tools.
    """
    async with open_bridges(configs, cwd=cwd) as tools:
        return tools
