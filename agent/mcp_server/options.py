"""What `hotfix mcp` was started with, shared by the server's parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.mcp_server.approvals import DEFAULT_APPROVAL_TIMEOUT_S

if TYPE_CHECKING:
    from agent.config import HotfixConfig
    from tools.deploy.target import Target
    from tools.deploy.verifier import Verifier

TargetFactory = Callable[["HotfixConfig", Path], "Target"]


@dataclass
class ServerOptions:
    """Settings of one MCP server process.

    Attributes:
        workspace: the repository the server deploys from (VS Code starts workspace
            servers in the workspace folder, so the default `.` is that folder).
        config_path: a config file instead of the workspace's `hotfix.toml`.
        approval_timeout_s: how long an approval form waits for an answer before denying.
        heartbeat_s: a progress notification at least this often while a call runs.
        target_factory: the granular tools' deployment target (default: from the config).
        verifier: the granular tools' verifier (default: from the config).
    """

    workspace: Path
    config_path: Path | None = None
    approval_timeout_s: float = DEFAULT_APPROVAL_TIMEOUT_S
    heartbeat_s: float = 10.0
    target_factory: TargetFactory | None = None
    verifier: Verifier | None = None

    def load_config(self, target: str | None = None, strategy: str | None = None) -> HotfixConfig:
        """The workspace's config with the same overrides `run_session` applies."""
        from agent.config import load_config
        from tools.deploy.settings import normalize_strategy

        config = load_config(self.workspace, self.config_path)
        if target:
            config.deploy.target = target
        if strategy:
            config.deploy.strategy.default = normalize_strategy(strategy)
        return config
