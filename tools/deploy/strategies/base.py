"""What every strategy shares: the `Strategy` protocol and the `DeploymentOutcome`.

An outcome is derived from the engine's state (itself rebuilt from the journal), never kept
on the side, so a resumed run reports exactly what the crashed one did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from tools.deploy.steps import Details, EngineState

if TYPE_CHECKING:
    from tools.deploy.engine import DeploymentEngine
    from tools.deploy.settings import StrategySettings
    from tools.deploy.target import Target, TargetState, VersionSpec

OutcomeStatus = Literal["deployed", "rolled_back", "failed", "needs_rollback", "in_progress"]


@dataclass
class DeploymentOutcome:
    """How a deployment ended, with the evidence.

    `status`: "deployed" (promoted); "rolled_back" (it had traffic, traffic was restored);
    "failed" (it never got production traffic, so there was nothing to roll back);
    "needs_rollback" (it failed with traffic and `auto_rollback` is off, or the rollback
    itself did not finish); "in_progress" only while a run is still going.
    """

    status: OutcomeStatus
    version: str
    previous_version: str | None
    strategy: str
    steps: list[Details]
    checks: list[Details]
    analysis: list[Details]
    first_failure_ts: float | None
    traffic_restored_ts: float | None
    time_to_rollback_s: float | None
    incidents: list[str]
    rollback_verified: bool | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def summary(self) -> str:
        """One line for people and models."""
        text = f"{self.strategy} deployment of {self.version}: {self.status.upper()}"
        if self.previous_version:
            text += f" (previous: {self.previous_version})"
        if self.time_to_rollback_s is not None:
            text += f"; traffic restored {self.time_to_rollback_s:.2f}s after the first failure"
        if self.rollback_verified is False:
            text += "; production is NOT healthy after the rollback"
        if self.reason:
            text += f"; reason: {self.reason}"
        return text


def status_of(state: EngineState, label: str) -> OutcomeStatus:
    """Where the deployment of `label` stands, from the recorded steps."""
    if state.rollback_phase == "finished":
        return "rolled_back"
    if state.needs_rollback():
        return "needs_rollback"
    if label in state.promoted:
        return "deployed"
    if label in state.failed:
        return "failed"
    return "in_progress"


def build_outcome(state: EngineState, label: str, strategy: str) -> DeploymentOutcome:
    """The `DeploymentOutcome` of `label` as the engine's state records it."""
    first, restored = state.first_failure_ts, state.traffic_restored_ts
    previous = state.previous
    if label.startswith("flag:"):
        before = state.flags_before.get(label.removeprefix("flag:"))
        previous = None if before is None else f"{label}={'on' if before else 'off'}"
    return DeploymentOutcome(
        status=status_of(state, label),
        version=label,
        previous_version=previous,
        strategy=strategy,
        steps=list(state.records),
        checks=list(state.checks),
        analysis=list(state.analyses),
        first_failure_ts=first,
        traffic_restored_ts=restored,
        time_to_rollback_s=None if first is None or restored is None else restored - first,
        incidents=list(state.incidents),
        rollback_verified=state.rollback_verified,
        reason=state.failed.get(label) or state.rollback_reason,
    )


@dataclass(frozen=True)
class PlanContext:
    """What a strategy needs to describe its plan without changing anything."""

    label: str
    ref: str
    previous: str | None
    settings: StrategySettings
    window_for: Callable[[int], float]  # observation time at a given traffic share
    target: Target
    state: TargetState


class Strategy(Protocol):
    """A way to roll a version out, written once against the engine's operations."""

    name: str

    def label_for(self, spec: VersionSpec, settings: StrategySettings) -> str:
        """The label this deployment is recorded under (a version, or `flag:<name>`)."""
        ...

    async def unsupported(self, engine: DeploymentEngine) -> str | None:
        """Why this strategy cannot run on the engine's target, or None if it can."""
        ...

    def plan_steps(self, ctx: PlanContext) -> list[str]:
        """The steps it would take, in order, in plain words."""
        ...

    async def run(self, engine: DeploymentEngine, spec: VersionSpec) -> DeploymentOutcome:
        """Carry the deployment out; failures are handled (rolled back) by the engine."""
        ...


def passed(result: Details) -> bool:
    """Whether a verdict step passed."""
    return result.get("passed") is True
