"""Configuration of deployments (`[deploy]` in hotfix.toml): target, strategy, verification."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tools.deploy.settings import StrategySettings
from tools.deploy.targets.local.settings import LocalTargetConfig
from tools.deploy.verification.settings import VerificationSettings


class DeployConfig(BaseModel):
    """The `[deploy]` section of hotfix.toml."""

    model_config = ConfigDict(extra="forbid")

    target: str = "local"
    # `strategy = "canary"` or a `[deploy.strategy]` table with per-strategy settings.
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    local: LocalTargetConfig = Field(default_factory=LocalTargetConfig)
