"""Configuration of deployments (`[deploy]` in hotfix.toml): target, strategy, verification."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tools.deploy.notify import NotificationSettings
from tools.deploy.predeploy.settings import PredeploySettings
from tools.deploy.settings import StrategySettings
from tools.deploy.targets.appservice.settings import AppServiceTargetConfig
from tools.deploy.targets.kubernetes.settings import KubernetesTargetConfig
from tools.deploy.targets.local.settings import LocalTargetConfig
from tools.deploy.verification.settings import VerificationSettings
from tools.deploy.windows import ChangeWindowSettings


class DeployConfig(BaseModel):
    """The `[deploy]` section of hotfix.toml."""

    model_config = ConfigDict(extra="forbid")

    target: str = "local"
    # `strategy = "canary"` or a `[deploy.strategy]` table with per-strategy settings.
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    local: LocalTargetConfig = Field(default_factory=LocalTargetConfig)
    appservice: AppServiceTargetConfig = Field(default_factory=AppServiceTargetConfig)
    kubernetes: KubernetesTargetConfig = Field(default_factory=KubernetesTargetConfig)
    predeploy: PredeploySettings = Field(default_factory=PredeploySettings)
    windows: ChangeWindowSettings = Field(default_factory=ChangeWindowSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
