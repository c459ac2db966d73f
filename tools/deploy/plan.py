"""Deployment plans: what a strategy would do and how it would be undone, without doing it.

`build_plan` reads the target's state and the settings only; the plan is what the model
shows the user before asking to deploy, and what the report quotes as the rollback plan.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tools.deploy.strategies import get_strategy
from tools.deploy.strategies.base import PlanContext
from tools.deploy.strategies.rolling import RollingTarget

if TYPE_CHECKING:
    from tools.deploy.engine import DeploymentEngine
    from tools.deploy.target import TargetState, VersionSpec


@dataclass
class DeploymentPlan:
    """The steps of one deployment and its rollback procedure."""

    strategy: str
    version: str
    ref: str
    previous: str | None
    target: str
    production_url: str
    supported: bool
    steps: list[str]
    rollback: list[str]
    auto_rollback: bool
    notes: list[str] = field(default_factory=list[str])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def text(self) -> str:
        """Numbered steps and rollback procedure, for people and models."""
        head = f"{self.strategy} plan for {self.version} (ref {self.ref}) on {self.target}"
        lines = [head, f"production: {self.production_url}, now serving {self.previous}"]
        if not self.supported:
            return "\n".join([*lines, "NOT SUPPORTED: " + " ".join(self.notes)])
        lines += [f"{n}. {step}" for n, step in enumerate(self.steps, 1)]
        lines.append("rollback procedure:")
        lines += [f"  - {step}" for step in self.rollback]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


async def build_plan(
    engine: DeploymentEngine, spec: VersionSpec, strategy_name: str | None = None
) -> DeploymentPlan:
    """Plan deploying `spec` with `strategy_name` (the configured default when None)."""
    settings = engine.settings
    strategy = get_strategy(strategy_name or settings.default)
    state = await engine.target.state()
    label = strategy.label_for(spec, settings)
    previous = engine.state.previous or state.primary
    ctx = PlanContext(
        label, spec.ref, previous, settings, engine.verifier.window_for, engine.target, state
    )
    reason = await strategy.unsupported(engine)
    notes = [reason] if reason else []
    if engine.state.rollback_phase is not None:
        notes.append("a rollback already happened in this run; nothing more can be deployed")
    return DeploymentPlan(
        strategy=strategy.name,
        version=label,
        ref=spec.ref,
        previous=previous,
        target=engine.target.name,
        production_url=state.production_url,
        supported=reason is None,
        steps=[] if reason else strategy.plan_steps(ctx),
        rollback=rollback_procedure(ctx, strategy.name, settings.auto_rollback),
        auto_rollback=settings.auto_rollback,
        notes=notes,
    )


def rollback_procedure(ctx: PlanContext, strategy: str, automatic: bool) -> list[str]:
    """The exact steps that undo this deployment."""
    when = (
        "automatically, at the first failed verification or analysis"
        if automatic
        else "after approval: a failed check stops the run with needs_rollback"
    )
    health = f"health check production ({ctx.state.production_url})"
    if strategy == "feature-flag":
        flag = ctx.label.removeprefix("flag:")
        steps = [f"switch flag {flag} back to the value recorded before the switch", health]
    elif strategy == "rolling" and isinstance(ctx.target, RollingTarget):
        steps = ["undo the rolling update (the target returns to the previous revision)", health]
    else:
        steps = [
            f"route 100% of traffic back to {ctx.previous} in one atomic update — it keeps "
            "running until the new version is promoted, so this takes effect at once",
            health,
            f"retire {ctx.label}",
        ]
    return [f"when: {when} (or on request: hotfix_rollback)", *steps]


def describe_weights(state: TargetState) -> str:
    """`v1.0.0 90%, v1.4.3 10%`."""
    return ", ".join(f"{label} {share}%" for label, share in sorted(state.weights.items()))
