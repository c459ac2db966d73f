"""What the deployment engine needs from a place that runs the service.

A target runs versions side by side and routes production traffic between them by weight.
Strategies (blue-green, canary, rolling, feature flag) are written once against this
protocol; each target (local, App Service, Kubernetes) implements it natively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class VersionSpec:
    """A version to deploy: a label, the git ref it is built from, and its artifact."""

    label: str
    ref: str
    artifact: str | None = None
    env: dict[str, str] = field(default_factory=dict[str, str])


@dataclass(frozen=True)
class StagedVersion:
    """A version running beside production, reachable directly at `url` for checks."""

    label: str
    url: str
    details: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True)
class TargetState:
    """Where traffic goes now: version label -> percent (sums to 100 when serving)."""

    production_url: str
    weights: dict[str, int]
    versions: dict[str, StagedVersion]
    details: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def primary(self) -> str | None:
        """The version receiving the largest share of traffic."""
        if not self.weights:
            return None
        return max(self.weights.items(), key=lambda item: item[1])[0]


@dataclass(frozen=True)
class VersionMetrics:
    """Traffic observed by the target for one version over a window."""

    label: str
    requests: int
    errors: int  # responses with status >= 500, plus connection failures
    latencies_ms: list[float] = field(default_factory=list[float])

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class TargetError(Exception):
    """The target refused or failed an operation; the message says what and why."""


class Target(Protocol):
    """A place that runs versions of the service and routes traffic between them."""

    name: str

    async def state(self) -> TargetState:
        """Versions running and the current traffic weights."""
        ...

    async def stage(self, version: VersionSpec) -> StagedVersion:
        """Start `version` beside production without giving it production traffic."""
        ...

    async def set_weights(self, weights: dict[str, int]) -> TargetState:
        """Route production traffic by percent; applies atomically, returns the new state."""
        ...

    async def retire(self, label: str) -> None:
        """Stop a version that no longer receives traffic."""
        ...

    async def metrics(self, label: str, since: float) -> VersionMetrics:
        """Requests, errors and latencies the router saw for `label` since `since` (epoch s)."""
        ...
