"""The catalogue of tools, and selection by the `tools:` patterns of agent definitions.

Patterns accept the names from the seed (`codebase`, `readFile`), current VS Code names
(`search/codebase`, `read/readFile`), VS Code tool sets (`search`, `read`, `web`,
`execute`), and `server/*` for every tool of an MCP server (`hotfix/*`, `azure/*`).
A pattern that matches nothing known is an error, never silently dropped.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Mapping

from tools.base import Tool

# Modules holding the built-in tools, imported on demand so that listing tools never pays
# for SDKs that the tools themselves import lazily.
_BUILTIN_MODULES = (
    "tools.workspace.codebase",
    "tools.workspace.usages",
    "tools.workspace.read_file",
    "tools.workspace.problems",
    "tools.web.fetch",
    "tools.terminal",
    "tools.deploy.tools",
    "tools.deploy.predeploy.tool",
    "handoffs.monitoring.tools",
)

# VS Code tool sets and the names they stand for.
TOOL_SETS: dict[str, tuple[str, ...]] = {
    "search": ("codebase", "usages"),
    "read": ("readFile", "problems"),
    "web": ("fetch",),
    "execute": ("runInTerminal",),
}

# Other names for MCP servers: the seed's `mcp_microsoft_azu/*` is VS Code's mangled prefix
# for the Azure MCP server.
SERVER_ALIASES: dict[str, str] = {"mcp_microsoft_azu": "azure", "azure-mcp": "azure"}

# Servers whose `server/*` pattern is valid even when the server contributes no tools in this
# configuration (the Azure bridge is optional).
KNOWN_SERVERS = frozenset({"hotfix", "azure", "monitor"})


class UnknownToolError(Exception):
    """A `tools:` pattern names nothing this product knows."""


class ToolRegistry:
    """All tools available to a session, by model-facing name and by alias."""

    def __init__(
        self, tools: Iterable[Tool], server_aliases: Mapping[str, str] | None = None
    ) -> None:
        """Args:
        tools: Every tool of the session.
        server_aliases: `server/*` names for configured MCP servers (alias -> server name),
            besides the built-in ones; each server named here is known even without tools.
        """
        self._tools: dict[str, Tool] = {}
        self._by_alias: dict[str, Tool] = {}
        self._server_aliases = {**SERVER_ALIASES, **(server_aliases or {})}
        self._known_servers = KNOWN_SERVERS | set(self._server_aliases.values())
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"duplicate tool name {tool.name!r}")
        self._tools[tool.name] = tool
        for alias in tool.aliases:
            self._by_alias[alias] = tool

    def get(self, name: str) -> Tool | None:
        """The tool called `name` (its model-facing name or any alias)."""
        return self._tools.get(name) or self._by_alias.get(name)

    def all(self) -> list[Tool]:
        return list(self._tools.values())

    def select(self, patterns: Iterable[str]) -> tuple[list[Tool], list[str]]:
        """Tools selected by `patterns`, in catalogue order, plus notices.

        Raises:
            UnknownToolError: a pattern names no tool, tool set or known server.
        """
        chosen: set[str] = set()
        notices: list[str] = []
        for pattern in patterns:
            matched = self._match(pattern.strip())
            if matched is None:
                raise UnknownToolError(
                    f"unknown tool {pattern!r}; known tools: "
                    + ", ".join(sorted(self._tools)) + "; tool sets: " + ", ".join(TOOL_SETS)
                    + "; servers: " + ", ".join(f"{s}/*" for s in sorted(self._known_servers))
                )
            if not matched:
                notices.append(f"{pattern}: no tools from that server in this configuration")
            chosen.update(tool.name for tool in matched)
        return [tool for tool in self._tools.values() if tool.name in chosen], notices

    def _match(self, pattern: str) -> list[Tool] | None:
        if pattern.endswith("/*"):
            server = pattern[:-2]
            server = self._server_aliases.get(server, server)
            tools = [tool for tool in self._tools.values() if tool.source == server]
            if tools or server in self._known_servers:
                return tools
            return None
        if pattern in TOOL_SETS:
            return [tool for name in TOOL_SETS[pattern] if (tool := self.get(name))]
        tool = self.get(pattern)
        return [tool] if tool else None


def builtin_tools() -> list[Tool]:
    """One instance of every built-in tool (workspace, web, terminal, deployment)."""
    found: list[Tool] = []
    for module_name in _BUILTIN_MODULES:
        module = importlib.import_module(module_name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, Tool) and cls.__module__ == module.__name__
                    and not inspect.isabstract(cls)):
                found.append(cls())
    return found


def default_registry(
    extra: Iterable[Tool] = (), server_aliases: Mapping[str, str] | None = None
) -> ToolRegistry:
    """The built-in tools plus `extra` (for example tools bridged from MCP servers)."""
    return ToolRegistry([*builtin_tools(), *extra], server_aliases)
