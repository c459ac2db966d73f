"""Builds the deployment target a run's config names."""

from __future__ import annotations

from pathlib import Path

from agent.config import HotfixConfig
from tools.deploy.target import Target, TargetError

AVAILABLE_TARGETS = ("local", "appservice", "k8s")


def build_target(config: HotfixConfig, workspace: Path) -> Target:
    """The target named by `[deploy] target` (nothing starts until the first call on it).

    Raises:
        TargetError: the name is not a target this installation has.
    """
    name = config.deploy.target
    if name == "local":
        from tools.deploy.targets.local import LocalTarget

        return LocalTarget(config.deploy.local, workspace=workspace)
    if name == "appservice":
        from tools.deploy.targets.appservice import build_appservice_target

        return build_appservice_target(config.deploy.appservice, workspace)
    if name in ("k8s", "kubernetes"):
        from tools.deploy.targets.kubernetes import build_kubernetes_target

        return build_kubernetes_target(config.deploy.kubernetes, workspace)
    raise TargetError(f"unknown deployment target {name!r}; available: "
                      + ", ".join(AVAILABLE_TARGETS))
