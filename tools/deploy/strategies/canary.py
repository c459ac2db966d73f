"""Canary: give the new version a growing share of production traffic, judging each step.

stage → health + smoke on the version's own URL → for each step (10, 50, 100 % by
default): set the weights, drive synthetic traffic through the production URL for the
analysis window (the local demo has no users), compare the candidate's errors and latency
with the previous version's over that window; at 100 % verify through production and
promote. Any failed step rolls back at once (the engine does it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.deploy.strategies.base import DeploymentOutcome, PlanContext, passed

if TYPE_CHECKING:
    from tools.deploy.engine import DeploymentEngine
    from tools.deploy.settings import StrategySettings
    from tools.deploy.target import VersionSpec


async def walk_steps(engine: DeploymentEngine, spec: VersionSpec, percents: list[int]) -> None:
    """Stage, verify, then move traffic step by step; stops at the first failed verdict."""
    label = spec.label
    await engine.stage(spec)
    if not passed(await engine.verify(label)):
        return
    for percent in percents:
        await engine.shift(label, percent)
        if percent < 100:
            verdict = await engine.observe(label, percent)
        else:
            verdict = await engine.verify(label, where="production")
        if not passed(verdict):
            return
    await engine.promote(label)
    await engine.retire_previous(label)


def describe_steps(ctx: PlanContext, percents: list[int]) -> list[str]:
    """Plan lines for a walk through `percents`."""
    lines = [
        f"stage {ctx.label} (ref {ctx.ref}) beside {ctx.previous or 'production'}, no traffic",
        f"health check + smoke tests directly on {ctx.label}'s own URL",
    ]
    for percent in percents:
        if percent < 100:
            window_s = max(ctx.settings.canary.bake_s or 0.0, ctx.window_for(percent))
            lines.append(
                f"route {percent}% of production traffic to {ctx.label}; drive traffic for "
                f"{window_s:g}s and compare errors/latency with {ctx.previous}; fail ⇒ rollback"
            )
        else:
            lines.append(f"route 100% to {ctx.label}; health + smoke through production")
    lines.append(f"promote {ctx.label}, then retire {ctx.previous}")
    return lines


class CanaryStrategy:
    """Gradual traffic shift with analysis at every step."""

    name = "canary"

    def label_for(self, spec: VersionSpec, settings: StrategySettings) -> str:
        return spec.label

    async def unsupported(self, engine: DeploymentEngine) -> str | None:
        return None

    def plan_steps(self, ctx: PlanContext) -> list[str]:
        return describe_steps(ctx, ctx.settings.canary.steps)

    async def run(self, engine: DeploymentEngine, spec: VersionSpec) -> DeploymentOutcome:
        await walk_steps(engine, spec, engine.settings.canary.steps)
        return engine.outcome(spec.label, self.name)
