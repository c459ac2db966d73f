"""Configuration of deployments: target, strategy, verification (`[deploy]` in hotfix.toml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tools.deploy.verification.settings import VerificationSettings


class DeployConfig(BaseModel):
    """The `[deploy]` section of hotfix.toml."""

    model_config = ConfigDict(extra="forbid")

    target: str = "local"
    strategy: str = "blue-green"
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
