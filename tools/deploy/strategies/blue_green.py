"""Blue-green: start the new version beside the old, switch all traffic at once.

stage → health + smoke directly on the staged URL → (baseline window of the old version,
when the bake is analysed) → switch weights 100 % to the new version (one atomic router
update) → health + smoke through the production URL → bake: the new version serves alone
while the old one keeps running for an instant switch-back, with analysis of the traffic
during the bake against the pre-switch baseline (or, with analysis off, a health check at
its end) → promote → retire the old version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.deploy.steps import Details
from tools.deploy.strategies.base import DeploymentOutcome, PlanContext, passed

if TYPE_CHECKING:
    from tools.deploy.engine import DeploymentEngine
    from tools.deploy.settings import StrategySettings
    from tools.deploy.target import VersionSpec


async def _baseline_window(engine: DeploymentEngine, label: str, window_s: float) -> float:
    """Start of the old version's reference window, recorded as `baseline:<label>`."""

    async def action() -> Details:
        if not engine.verifier.generates_load:
            # Real users: the window just before the switch is the baseline; no wait.
            return {"since": engine.clock() - window_s}
        url = (await engine.target.state()).production_url
        since = engine.clock()
        load = await engine.verifier.drive_load(url, window_s)
        return {"since": since, "load": load}

    started = {"label": label, "window_s": window_s}
    done = await engine.steps.run(f"baseline:{label}", "baseline", started, action)
    return float(done["since"])


async def _bake_health(engine: DeploymentEngine, label: str, bake_s: float) -> Details:
    """Bake without analysis: wait, then production must still be healthy."""

    async def action() -> Details:
        await engine.sleep(bake_s)
        check = await engine.verifier.health((await engine.target.state()).production_url)
        if check.get("passed"):
            return {"passed": True, "checks": [check]}
        reason = f"production unhealthy at the end of the {bake_s:g}s bake of {label}"
        return {"passed": False, "checks": [check], "reason": reason, "ts": engine.clock()}

    started = {"label": label, "where": "bake", "bake_s": bake_s}
    result = await engine.steps.run(f"bake:{label}", "verify", started, action)
    if not passed(result):
        await engine.handle_failure(label)
    return result


class BlueGreenStrategy:
    """All-at-once switch with the old version on standby until the bake ends."""

    name = "blue-green"

    def label_for(self, spec: VersionSpec, settings: StrategySettings) -> str:
        return spec.label

    async def unsupported(self, engine: DeploymentEngine) -> str | None:
        return None

    def plan_steps(self, ctx: PlanContext) -> list[str]:
        bake = ctx.settings.blue_green
        old = ctx.previous or "the current version"
        lines = [
            f"stage {ctx.label} (ref {ctx.ref}) beside {old}, no traffic",
            f"health check + smoke tests directly on {ctx.label}'s own URL",
        ]
        if bake.analysis and bake.bake_s > 0:
            window = min(ctx.window_for(100), bake.bake_s)
            lines.append(f"measure {old} for {window:g}s as the baseline")
        lines += [
            f"switch 100% of production traffic to {ctx.label} (one atomic update)",
            "health check + smoke tests through the production URL",
        ]
        if bake.bake_s > 0:
            watch = "compare its traffic with the baseline" if bake.analysis else "then health"
            lines.append(f"bake {bake.bake_s:g}s with {old} on standby; {watch}")
        lines.append(f"promote {ctx.label}, then retire {old}")
        return lines

    async def run(self, engine: DeploymentEngine, spec: VersionSpec) -> DeploymentOutcome:
        await self._roll_out(engine, spec)
        return engine.outcome(spec.label, self.name)

    async def _roll_out(self, engine: DeploymentEngine, spec: VersionSpec) -> None:
        label, settings = spec.label, engine.settings.blue_green
        await engine.stage(spec)
        if not passed(await engine.verify(label)):
            return
        analyse = settings.analysis and settings.bake_s > 0
        since: float | None = None
        if analyse:
            window = min(engine.verifier.analysis_window_s, settings.bake_s)
            since = await _baseline_window(engine, label, window)
        await engine.shift(label, 100)
        if not passed(await engine.verify(label, where="production")):
            return
        if settings.bake_s > 0:
            if analyse:
                bake_id = f"bake:{label}"
                verdict = await engine.observe(
                    label, 100, step_id=bake_id, duration_s=settings.bake_s, baseline_since=since
                )
            else:
                verdict = await _bake_health(engine, label, settings.bake_s)
            if not passed(verdict):
                return
        await engine.promote(label)
        await engine.retire_previous(label)
