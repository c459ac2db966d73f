"""Builds the deployment target a run's config names."""

from __future__ import annotations

from pathlib import Path

from agent.config import HotfixConfig
from tools.deploy.target import Target, TargetError

AVAILABLE_TARGETS = ("local",)


def build_target(config: HotfixConfig, workspace: Path) -> Target:
    """The target named by `[deploy] target` (nothing starts until the first call on it).

    Raises:
        TargetError: the name is not a target this installation has.
    """
    name = config.deploy.target
    if name == "local":
        from tools.deploy.targets.local import LocalTarget

        return LocalTarget(config.deploy.local, workspace=workspace)
    raise TargetError(f"unknown deployment target {name!r}; available: "
                      + ", ".join(AVAILABLE_TARGETS))
