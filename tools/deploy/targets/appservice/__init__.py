"""The Azure App Service target: blue-green by slot swap, canary by traffic routing.

`build_appservice_target` is what `build_target` calls for `[deploy] target = "appservice"`.
The Azure SDKs are imported on first use, not here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.deploy.targets.appservice.operations import AzureOperation, azure_operations
from tools.deploy.targets.appservice.settings import AppServiceTargetConfig
from tools.deploy.targets.appservice.target import AppServiceTarget

__all__ = [
    "AppServiceTarget",
    "AppServiceTargetConfig",
    "AzureOperation",
    "azure_operations",
    "build_appservice_target",
]


def build_appservice_target(
    config: Any,
    workspace: Path,
    *,
    credential: Any = None,
    journal: Any = None,
    redactor: Any = None,
) -> AppServiceTarget:
    """The App Service target for a run (nothing is called on Azure until first use).

    Args:
        config: The `[deploy.appservice]` settings, or a whole `HotfixConfig`.
        workspace: The service's repository; relative package paths start there.
        credential: Any azure-identity `TokenCredential`; by default the one the config
            names (`DefaultAzureCredential` unless set otherwise).
        journal: The run's `Journal`; every ARM and Kudu change is recorded in it.
        redactor: The run's `Redactor`, for masking what is recorded.
    """
    section = config if isinstance(config, AppServiceTargetConfig) else config.deploy.appservice
    return AppServiceTarget(
        section, workspace=workspace, credential=credential, journal=journal, redactor=redactor
    )
