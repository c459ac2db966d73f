"""Settings of the deployment strategies: `[deploy.strategy]` in hotfix.toml.

Each strategy has its own small section; the two switches that matter for safety,
`auto_rollback` and `allow_marginal`, apply to all of them.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

StrategyName = Literal["blue-green", "canary", "rolling", "feature-flag"]
STRATEGY_NAMES: tuple[StrategyName, ...] = ("blue-green", "canary", "rolling", "feature-flag")

_ALIASES: dict[str, StrategyName] = {
    "bluegreen": "blue-green",
    "blue_green": "blue-green",
    "blue/green": "blue-green",
    "feature_flag": "feature-flag",
    "featureflag": "feature-flag",
    "flag": "feature-flag",
}


def normalize_strategy(name: str) -> StrategyName:
    """Canonical strategy name for `name` (accepts `blue_green`, `flag`, any case).

    Raises:
        ValueError: `name` is not a known strategy.
    """
    key = name.strip().lower()
    for known in STRATEGY_NAMES:
        if key == known:
            return known
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGY_NAMES)}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CanarySettings(_Section):
    """Traffic percentages to walk through, and how long each step is observed."""

    steps: list[int] = Field(default_factory=lambda: [10, 50, 100], min_length=1)
    # Observation time per step; None means the analysis window of the verification settings.
    bake_s: float | None = Field(default=None, gt=0)

    @field_validator("steps")
    @classmethod
    def _increasing_to_100(cls, steps: list[int]) -> list[int]:
        if any(not 0 < step <= 100 for step in steps):
            raise ValueError("each canary step is a percentage between 1 and 100")
        if any(later <= earlier for earlier, later in itertools.pairwise(steps)):
            raise ValueError("canary steps must increase")
        if steps[-1] != 100:
            raise ValueError("the last canary step must be 100")
        return steps


class BlueGreenSettings(_Section):
    """How long the new version serves alone while the old one stays ready for switch-back."""

    bake_s: float = Field(default=10.0, ge=0)
    # Compare live (or synthetic) traffic during the bake with a pre-switch baseline.
    analysis: bool = True


class RollingSettings(_Section):
    """Instances replaced per batch (native rolling updates, or emulated on multi-instance)."""

    batch_size: int = Field(default=1, ge=1)


class FeatureFlagSettings(_Section):
    """The flag to switch instead of deploying code, and where flags live.

    Without `file` the target must manage flags itself (a `set_flag` capability).
    """

    name: str | None = None
    value: bool = True
    file: str | None = None


class StrategySettings(_Section):
    """The `[deploy.strategy]` section. A plain string (`strategy = "canary"`) also works."""

    default: StrategyName = "blue-green"
    canary: CanarySettings = Field(default_factory=CanarySettings)
    blue_green: BlueGreenSettings = Field(default_factory=BlueGreenSettings)
    rolling: RollingSettings = Field(default_factory=RollingSettings)
    feature_flag: FeatureFlagSettings = Field(default_factory=FeatureFlagSettings)
    # False: a failed verification stops with `needs_rollback` and the caller asks first.
    auto_rollback: bool = True
    # True: an analysis scored "marginal" counts as passing.
    allow_marginal: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"default": data}
        return data

    @field_validator("default", mode="before")
    @classmethod
    def _canonical(cls, value: Any) -> Any:
        return normalize_strategy(value) if isinstance(value, str) else value
