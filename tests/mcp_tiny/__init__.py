"""A tiny MCP server (`server.py`) and helpers for testing the MCP bridge."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tools.mcp_bridge import McpServerConfig

SERVER = Path(__file__).with_name("server.py")


def tiny_config(tmp_path: Path, *, stray_line: bool = True, **overrides: Any) -> McpServerConfig:
    """Settings starting the tiny server like the Azure one (name `azure`, isolated HOME)."""
    command = [sys.executable, str(SERVER), *(["--stray-line"] if stray_line else [])]
    settings: dict[str, Any] = {
        "name": "azure",
        "command": command,
        "aliases": ["mcp_microsoft_azu"],
        "env": {"TINY_CALLS_FILE": str(tmp_path / "calls.txt")},
        "home": str(tmp_path / "mcp-home"),
        "startup_timeout_s": 30.0,
        **overrides,
    }
    return McpServerConfig(**settings)


def calls_made(tmp_path: Path) -> list[str]:
    """What the server's side-effecting tools recorded."""
    path = tmp_path / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []
