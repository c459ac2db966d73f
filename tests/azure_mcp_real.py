"""Shared set-up for the tests against the real Azure MCP server (`@azure/mcp@2.0.5`).

A workspace whose hotfix.toml configures the server like any MCP server, started through
the stdio tap (`mcp_tap.py`) and kept on loopback by a `FakeCloud`.

How the server is kept local (checked with `strace -f -e trace=connect,execve,sendto`):
- Its credential chain (no `AZURE_TOKEN_CREDENTIALS`) is Environment → Visual Studio →
  VS Code (broker; its native library is absent) → `az` → `pwsh` → `azd` → interactive
  browser; no managed identity, so no IMDS probe. With only `AZURE_MCP_COLLECT_TELEMETRY=false`
  it still resolved `*.in.applicationinsights.azure.com` and sent `GET /metadata/instance/
  compute` to 169.254.169.254; the bridge now also sets `..._TELEMETRY_MICROSOFT=false`,
  after which neither happens (with the proxy below, both would reach the fake, and
  `test_the_server_only_ever_talked_to_the_fake_cloud` would fail).
- Its X11 probe connects to 127.0.0.1:6001 (display :1): loopback, refused.
- With a client secret in the environment, EnvironmentCredential posts it to
  login.microsoftonline.com. `HTTPS_PROXY`/`HTTP_PROXY` send that (and any ARM / Key Vault
  request) to the `FakeCloud` proxy, so no DNS lookup or outside connection happens; with a
  closed proxy port instead, four tries with back-off took ~12 s, the fake answers at once.
- `AZURE_CONFIG_DIR` is an empty directory and our own `AZURE_*` variables are not passed,
  so a developer's `az login` or exported credentials are never used by a test.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tools.mcp_bridge import azure_server

ROOT = Path(__file__).resolve().parent.parent
TAP = Path(__file__).with_name("mcp_tap.py")
# Enough namespaces for read-only, non-destructive, destructive and secret-returning tools.
NAMESPACES = ["subscription", "group", "storage", "appservice", "monitor", "keyvault"]
SEED_AGENT = """\
---
name: Azure ops
description: Looks around an Azure subscription (tools selected by the seed's alias).
tools: ['mcp_microsoft_azu/*']
---
You look around Azure.
"""


def azmcp_binary() -> Path:
    """The native server from `npm ci` (`@azure/mcp-<os>-<arch>`); fails the test if absent."""
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system())
    arch = {"x86_64": "x64", "AMD64": "x64", "arm64": "arm64", "aarch64": "arm64"}.get(
        platform.machine()
    )
    name = "azmcp.exe" if system == "win32" else "azmcp"
    path = ROOT / "node_modules" / "@azure" / f"mcp-{system}-{arch}" / "dist" / name
    if not path.is_file():
        pytest.fail(
            f"the Azure MCP server is not installed ({path} is missing): run `npm ci` in "
            f"{ROOT} (package.json pins @azure/mcp 2.0.5)",
            pytrace=False,
        )
    return path


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        items: Iterable[tuple[str, Any]] = value.items()  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in items) + "}"
    return json.dumps(value)  # JSON strings, numbers and arrays of them are valid TOML


@dataclass(frozen=True)
class TapLogs:
    """What the tap saw: client→server messages, and the server's stdout."""

    requests: Path
    replies: Path


def write_workspace(
    workspace: Path, *, azmcp: Path, home: Path, cloud_env: dict[str, str]
) -> TapLogs:
    """A workspace whose hotfix.toml starts the real server through the tap."""
    workspace.mkdir(parents=True, exist_ok=True)
    taps = workspace / "tap"
    (taps / "azure-config").mkdir(parents=True)
    log, replies = taps / "requests.jsonl", taps / "replies.jsonl"
    tap = [sys.executable, str(TAP), str(log), "--replies", str(replies), "--", str(azmcp)]
    config = azure_server(NAMESPACES, command=tap)
    env = {**config.env, **cloud_env, "AZURE_CONFIG_DIR": str(taps / "azure-config")}
    settings = {
        "name": config.name,
        "command": config.command,
        "home": str(home),
        "pass_env": config.pass_env,
        "startup_timeout_s": 120,
        "call_timeout_s": 60,
        "env": env,
    }
    lines = ["[[mcp.servers]]", *(f"{key} = {_toml(value)}" for key, value in settings.items())]
    (workspace / "hotfix.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    agents = workspace / ".github" / "agents"
    agents.mkdir(parents=True, exist_ok=True)
    (agents / "azure-ops.agent.md").write_text(SEED_AGENT, encoding="utf-8")
    return TapLogs(log, replies)


def tapped(log: Path) -> list[dict[str, Any]]:
    """The JSON-RPC messages in a tap log (requests, or replies with `--replies`)."""
    if not log.exists():
        return []
    messages: list[dict[str, Any]] = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the server's stray "No X display available..." line
    return messages


def tools_called(log: Path) -> list[str]:
    """Names of the tools the server was asked to run, in order."""
    return [m["params"]["name"] for m in tapped(log) if m.get("method") == "tools/call"]


def listed_tools(replies: Path) -> list[dict[str, Any]]:
    """The tools of the server's tools/list answer(s), hints included."""
    found: list[dict[str, Any]] = []
    for message in tapped(replies):
        result = message.get("result")
        if isinstance(result, dict) and isinstance(result.get("tools"), list):
            found += result["tools"]  # pyright: ignore[reportUnknownArgumentType]
    return found
