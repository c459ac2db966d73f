"""The local target: "production on a laptop".

A background daemon (`environment.py`) runs a real HTTP router on the production port and
one process per version, each checked out into its own git worktree. `LocalTarget`
implements the deployment `Target` protocol on top of it; `ensure_environment`,
`environment_status` and `shutdown_environment` are what `hotfix local up|status|down` use.
"""

from __future__ import annotations

from tools.deploy.targets.local.lifecycle import (
    ensure_environment,
    environment_status,
    shutdown_environment,
)
from tools.deploy.targets.local.settings import LocalTargetConfig
from tools.deploy.targets.local.target import LocalTarget

__all__ = [
    "LocalTarget",
    "LocalTargetConfig",
    "ensure_environment",
    "environment_status",
    "shutdown_environment",
]
