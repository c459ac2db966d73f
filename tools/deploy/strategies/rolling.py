"""Rolling: replace instances batch by batch, checking each batch before the next.

Honest about where it applies:
- a target with a native rolling update (`rolling_update` / `undo_rolling_update`, e.g.
  Kubernetes) does it itself, gated by its readiness probes; the engine then verifies
  production and promotes, or undoes the update;
- a target that reports several instances (`TargetState.details["instances"]`) gets an
  emulation: each batch of `batch_size` instances is its share of traffic, moved with the
  same verified, analysed steps as a canary;
- a target with one instance per version (the local target) has nothing to roll: the
  strategy refuses and says which strategies fit instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tools.base import ToolError
from tools.deploy.steps import Details, EngineRefusal
from tools.deploy.strategies.base import DeploymentOutcome, PlanContext, passed
from tools.deploy.strategies.canary import describe_steps, walk_steps
from tools.deploy.target import TargetError

if TYPE_CHECKING:
    from tools.deploy.engine import DeploymentEngine
    from tools.deploy.settings import StrategySettings
    from tools.deploy.target import Target, TargetState, VersionSpec


@runtime_checkable
class RollingTarget(Protocol):
    """A target that rolls versions out natively."""

    async def rolling_update(self, version: VersionSpec, *, batch_size: int) -> TargetState: ...

    async def undo_rolling_update(self) -> TargetState: ...


def instance_count(state: TargetState) -> int:
    """Instances the target reports serving production (1 when it says nothing)."""
    value = state.details.get("instances")
    return value if isinstance(value, int) and value > 0 else 1


def batch_percents(instances: int, batch_size: int) -> list[int]:
    """Traffic share after each batch: 4 instances, batch 1 -> [25, 50, 75, 100]."""
    percents: list[int] = []
    done = 0
    while done < instances:
        done = min(instances, done + batch_size)
        percent = round(100 * done / instances)
        if not percents or percent > percents[-1]:
            percents.append(percent)
    return percents


def unsupported_reason(target: Target, state: TargetState) -> str | None:
    """Why rolling cannot run on `target`, or None."""
    if isinstance(target, RollingTarget) or instance_count(state) > 1:
        return None
    return (
        f"rolling is not supported on target {target.name}: it runs one instance per version "
        "and has no native rolling update, so there are no batches to roll. Use blue-green "
        "(switch all at once, instant switch-back) or canary (gradual traffic with analysis)."
    )


async def native_update(engine: DeploymentEngine, spec: VersionSpec) -> Details:
    """Journaled target-native rolling update (`rolling:<label>`)."""
    engine.require_open("start a rolling update")
    target = engine.target
    if not isinstance(target, RollingTarget):
        raise EngineRefusal(f"target {target.name} has no native rolling update")
    started = {"label": spec.label, "ref": spec.ref} | await engine.baseline_details()
    batch = engine.settings.rolling.batch_size

    async def action() -> Details:
        return {"weights": (await target.rolling_update(spec, batch_size=batch)).weights}

    try:
        return await engine.steps.run(f"rolling:{spec.label}", "rolling", started, action)
    except TargetError as exc:
        await engine.handle_failure(spec.label)
        raise ToolError(
            f"rolling update to {spec.label} failed: {exc}; {engine.after_failure()}"
        ) from exc


class RollingStrategy:
    """Native rolling update where the target has one; batch emulation where it can."""

    name = "rolling"

    def label_for(self, spec: VersionSpec, settings: StrategySettings) -> str:
        return spec.label

    async def unsupported(self, engine: DeploymentEngine) -> str | None:
        return unsupported_reason(engine.target, await engine.target.state())

    def plan_steps(self, ctx: PlanContext) -> list[str]:
        batch = ctx.settings.rolling.batch_size
        if isinstance(ctx.target, RollingTarget):
            return [
                f"native rolling update to {ctx.label}, {batch} instance(s) at a time, "
                "each batch gated by the target's readiness probes",
                "health check + smoke tests through the production URL",
                f"pass: promote {ctx.label}; fail: undo the rolling update, verify production",
            ]
        instances = instance_count(ctx.state)
        percents = batch_percents(instances, batch)
        lines = describe_steps(ctx, percents)
        lines.insert(2, f"emulated over {instances} instances, {batch} per batch: {percents}%")
        return lines

    async def run(self, engine: DeploymentEngine, spec: VersionSpec) -> DeploymentOutcome:
        if isinstance(engine.target, RollingTarget):
            await native_update(engine, spec)
            if passed(await engine.verify(spec.label, where="production")):
                await engine.promote(spec.label)
        else:
            state = await engine.target.state()
            batch = engine.settings.rolling.batch_size
            await walk_steps(engine, spec, batch_percents(instance_count(state), batch))
        return engine.outcome(spec.label, self.name)
