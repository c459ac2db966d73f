"""The rollback procedure, shared by every strategy and by the `hotfix_rollback` tool.

Order matters for time-to-rollback: restore traffic first (one atomic weight update, or the
target's own undo of a rolling update), stamp `traffic_restored_ts`, then revert flags,
then verify production health, then retire the versions that failed. Nothing waits in
between. A rollback is recorded once per run as `rollback:1`; after it starts, the engine
refuses everything but status and report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.base import ToolError
from tools.deploy.steps import ROLLBACK_ID, ROLLBACK_VERIFY_ID, Details, EngineRefusal
from tools.deploy.target import TargetError

if TYPE_CHECKING:
    from tools.deploy.engine import DeploymentEngine


async def run_rollback(engine: DeploymentEngine, reason: str) -> Details:
    """Put production back as it was before this run changed it; verify it.

    Raises:
        EngineRefusal: There is nothing to roll back, or the previous version is gone.
        ToolError: The target failed to restore traffic (retrying is safe).
    """
    from tools.deploy.strategies.rolling import RollingTarget

    st = engine.state
    if st.rollback_phase != "finished":
        baseline = st.baseline
        flags = dict(st.flags_before)
        native = any(record["kind"] == "rolling" for record in st.records)
        if baseline is None and not flags and not native:
            raise EngineRefusal(
                "nothing to roll back: this run has not changed production traffic or flags"
            )
        if baseline and not native and set(baseline) <= st.retired:
            raise EngineRefusal(
                f"the previous version ({', '.join(baseline)}) was retired after promotion; "
                "roll back by deploying it again"
            )
        target = engine.target

        async def restore() -> Details:
            out: Details = {}
            if native and isinstance(target, RollingTarget):
                out["weights"] = (await target.undo_rolling_update()).weights
            elif baseline is not None:
                out["weights"] = (await target.set_weights(baseline)).weights
            restored = engine.clock()
            if flags:
                store = engine.flag_store()
                for name, value in flags.items():
                    await store.set(name, value)
                restored = engine.clock()
            return {**out, "traffic_restored_ts": restored}

        started = {
            "reason": reason,
            "restore_weights": baseline,
            "restore_flags": flags,
            "undo_rolling_update": native,
            "first_failure_ts": st.first_failure_ts,
        }
        try:
            await engine.steps.run(ROLLBACK_ID, "rollback", started, restore)
        except (TargetError, OSError) as exc:
            raise ToolError(
                f"rollback failed: {exc}; production may still serve the new version — "
                "retry hotfix_rollback (it is safe to repeat) or restore traffic by hand"
            ) from exc
    await _verify_production(engine)
    for label in sorted(set(st.staged) - set(st.baseline or {})):
        await engine.retire_step(label, quietly=True)
    return rollback_summary(engine)


async def _verify_production(engine: DeploymentEngine) -> None:
    url = (await engine.target.state()).production_url

    async def check() -> Details:
        result = await engine.verifier.health(url)
        if result.get("passed"):
            return {"passed": True, "checks": [result]}
        reason = f"production at {url} is unhealthy after the rollback"
        return {"passed": False, "checks": [result], "reason": reason, "ts": engine.clock()}

    started = {"label": engine.state.previous or "production", "url": url}
    await engine.steps.run(ROLLBACK_VERIFY_ID, "rollback-verify", started, check)


def rollback_summary(engine: DeploymentEngine) -> Details:
    """What the rollback did and how fast, as recorded."""
    st = engine.state
    done = st.completed.get(ROLLBACK_ID, {})
    first, restored = st.first_failure_ts, st.traffic_restored_ts
    return {
        "rolled_back": st.rollback_phase == "finished",
        "reason": st.rollback_reason,
        "weights": done.get("weights"),
        "flags": done.get("restore_flags"),
        "first_failure_ts": first,
        "traffic_restored_ts": restored,
        "time_to_rollback_s": None if first is None or restored is None else restored - first,
        "verified": st.rollback_verified,
    }
