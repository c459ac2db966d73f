"""Configuration of bridged MCP servers: `[[mcp.servers]]` tables in hotfix.toml.

The Azure MCP server is one such server (`azure_server()` gives its usual settings): started
with `--mode all` and namespace filters, so that every tool carries its own hints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.base import Effect

AZURE_MCP_PACKAGE = "@azure/mcp@2.0.5"
# Identity settings the Azure server's credential chain reads; nothing else is inherited.
AZURE_PASS_ENV = ("AZURE_*", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_*")


class McpServerConfig(BaseModel):
    """One MCP server whose tools the agent may use, behind the gate.

    `effects` maps tool-name globs to an effect; it can only make a tool's classification
    stricter than its annotations (a rule saying `read` for a destructive tool is ignored).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,30}$")
    command: list[str] = Field(min_length=1)
    # Other `server/*` names agent definitions may use (the seed's `mcp_microsoft_azu`).
    aliases: list[str] = Field(default_factory=list[str])
    env: dict[str, str] = Field(default_factory=dict[str, str])
    # Globs of environment variables passed through from ours (credentials it needs).
    pass_env: list[str] = Field(default_factory=list[str])
    # HOME of the server (caches, unpacked binaries); None: a per-server cache directory.
    home: str | None = None
    effects: dict[str, Effect] = Field(default_factory=dict[str, Effect])
    startup_timeout_s: float = Field(default=60.0, gt=0)
    call_timeout_s: float = Field(default=120.0, gt=0)
    # How many times a server that died is started again in one run.
    max_restarts: int = Field(default=3, ge=0)

    @field_validator("command")
    @classmethod
    def _no_empty_program(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the command needs a program to run")
        return value

    def home_path(self) -> Path:
        """The isolated HOME directory of this server (created on start)."""
        if self.home:
            return Path(self.home).expanduser()
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "hotfix-agent" / "mcp" / self.name / "home"


class McpConfig(BaseModel):
    """The `[mcp]` section: servers to bridge."""

    model_config = ConfigDict(extra="forbid")

    servers: list[McpServerConfig] = Field(default_factory=list[McpServerConfig])


def server_aliases(configs: Iterable[McpServerConfig]) -> dict[str, str]:
    """The `server/*` names agent definitions may use for `configs`: alias -> server name."""
    return {alias: config.name for config in configs for alias in (config.name, *config.aliases)}


def azure_server(
    namespaces: list[str] | None = None,
    *,
    read_only: bool = False,
    command: list[str] | None = None,
) -> McpServerConfig:
    """Settings for the Azure MCP server (`npx @azure/mcp@2.0.5 server start --mode all`).

    Args:
        namespaces: Tool namespaces to expose (`group`, `monitor`, `appservice`...); all when
            empty. `--mode all` lists every tool with its hints, unlike the default
            namespace mode whose router tools carry none.
        read_only: Ask the server itself to expose read-only tools only.
        command: How to start it, when not through npx (e.g. a local `azmcp` binary).
    """
    argv = command or ["npx", "-y", AZURE_MCP_PACKAGE]
    argv = [*argv, "server", "start", "--mode", "all"]
    for namespace in namespaces or []:
        argv += ["--namespace", namespace]
    if read_only:
        argv.append("--read-only")
    return McpServerConfig(
        name="azure",
        command=argv,
        aliases=["mcp_microsoft_azu", "azure-mcp"],
        env={
            "AZURE_MCP_COLLECT_TELEMETRY": "false",
            "AZURE_MCP_COLLECT_TELEMETRY_MICROSOFT": "false",
        },
        pass_env=list(AZURE_PASS_ENV),
    )
