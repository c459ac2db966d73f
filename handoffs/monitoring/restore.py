"""Carry out the rollback procedure of a handoff packet, as journaled steps.

The packet's rollback plan says which way back exists: restore the recorded weights while
the previous version still runs; switch flags back; undo a native rolling update; or, once
the previous version was retired after promotion, start it again from its ref, check its
health on its own URL, switch all traffic to it, check production, retire the fix. Traffic
moves in one atomic update, stamped `traffic_restored_ts`; the steps use the engine's ids
(`stage:`, `verify:`, `rollback:1`, `rollback-verify:1`, `retire:`) so the monitoring run's
journal reads like any other rollback.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handoffs.monitoring.session import MonitorSession
from handoffs.report_model import RollbackOperation
from tools.base import ToolContext, ToolError
from tools.deploy.steps import ROLLBACK_ID, ROLLBACK_VERIFY_ID, Details
from tools.deploy.target import TargetError, VersionSpec

if TYPE_CHECKING:
    from tools.deploy.strategies.feature_flag import FlagStore


async def restore_previous(session: MonitorSession, ctx: ToolContext, reason: str) -> Details:
    """Roll production back as the packet's plan says; a summary of what happened.

    Raises:
        ToolError: there is nothing to roll back, or a step failed (production is then as
            the journal's last step left it; repeating the call is safe).
    """
    packet = session.packet
    plan = packet.rollback
    if session.state.rollback_phase == "finished":
        return summary(session)
    if packet.status != "deployed" or plan.state not in ("available", "redeploy"):
        raise ToolError(
            f"nothing to roll back: run {packet.run_id} ended {packet.status} and its rollback "
            f"plan is '{plan.state}' ({plan.summary})"
        )
    ops = {op.op: op for op in plan.operations}
    try:
        if "stage_previous" in ops:
            await _start_previous(session, ops["stage_previous"])
        await _switch_back(session, ctx, ops, reason)
        await _verify_production(session)
        retire = ops.get("retire")
        if retire is not None:
            await _retire(session, str(retire.args.get("label")))
    except TargetError as exc:
        raise ToolError(f"rollback step failed on the target: {exc}; retrying is safe") from exc
    return summary(session)


def summary(session: MonitorSession) -> Details:
    """What the rollback did, from the recorded steps."""
    st = session.state
    done = st.completed.get(ROLLBACK_ID, {})
    detected = (session.regression or {}).get("detected_at")
    restored = st.traffic_restored_ts
    return {
        "rolled_back": st.rollback_phase == "finished",
        "reason": st.rollback_reason,
        "weights": done.get("weights"),
        "flags": done.get("restore_flags"),
        "regression_detected_ts": detected,
        "traffic_restored_ts": restored,
        "time_to_rollback_s": None if detected is None or restored is None else restored - detected,
        "verified": st.rollback_verified,
    }


async def _start_previous(session: MonitorSession, op: RollbackOperation) -> None:
    label, ref = op.args.get("label"), op.args.get("ref")
    if not label or not ref:
        raise ToolError(
            f"the ref of the previous version {label} is not recorded in the packet: it cannot "
            "be started again automatically; redeploy it by hand"
        )
    spec = VersionSpec(str(label), str(ref))
    target = session.target

    async def stage() -> Details:
        staged = await target.stage(spec)
        return {"url": staged.url, "target_details": staged.details}

    started = {"label": spec.label, "ref": spec.ref, "for": "rollback"}
    done = await session.steps.run(f"stage:{spec.label}", "stage", started, stage)

    async def health() -> Details:
        check = await session.verifier.health(str(done["url"]))
        if check.get("passed"):
            return {"passed": True, "checks": [check]}
        why = f"{spec.label} is not healthy on its own URL; production traffic was not moved"
        return {"passed": False, "checks": [check], "reason": why}

    verify = {"label": spec.label, "where": "staged", "url": done["url"]}
    result = await session.steps.run(f"verify:{spec.label}", "verify", verify, health)
    if not result.get("passed"):
        await _retire(session, spec.label)
        raise ToolError(str(result.get("reason")))


async def _switch_back(
    session: MonitorSession, ctx: ToolContext, ops: dict[str, RollbackOperation], reason: str
) -> None:
    target = session.target
    weights: dict[str, int] | None = None
    if "set_weights" in ops:
        weights = {str(k): int(v) for k, v in dict(ops["set_weights"].args["weights"]).items()}
    flags: dict[str, bool] = (
        dict(ops["restore_flags"].args.get("flags") or {}) if ("restore_flags" in ops) else {}
    )
    undo = "undo_rolling_update" in ops
    baseline = dict((await target.state()).weights)

    async def restore() -> Details:
        out: Details = {}
        if undo:
            from tools.deploy.strategies.rolling import RollingTarget

            if not isinstance(target, RollingTarget):
                raise ToolError(f"target {target.name} cannot undo a rolling update")
            out["weights"] = (await target.undo_rolling_update()).weights
        elif weights is not None:
            out["weights"] = (await target.set_weights(weights)).weights
        restored = session.clock()
        if flags:
            store = _flag_store(session, ctx)
            for name, value in flags.items():
                await store.set(name, value)
            restored = session.clock()
        return {**out, "traffic_restored_ts": restored}

    started: dict[str, Any] = {
        "reason": reason,
        "restore_weights": weights,
        "restore_flags": flags,
        "undo_rolling_update": undo,
        # Not "baseline"/"previous": those keys mean "what a rollback restores" to EngineState.
        "weights_before": baseline,
        "replaced": session.packet.version,
        "regression": session.regression,
    }
    await session.steps.run(ROLLBACK_ID, "rollback", started, restore)


async def _verify_production(session: MonitorSession) -> None:
    url = (await session.target.state()).production_url

    async def check() -> Details:
        result = await session.verifier.health(url)
        if result.get("passed"):
            return {"passed": True, "checks": [result]}
        reason = f"production at {url} is unhealthy after the rollback"
        return {"passed": False, "checks": [result], "reason": reason, "ts": session.clock()}

    started = {"label": session.packet.previous_version or "production", "url": url}
    await session.steps.run(ROLLBACK_VERIFY_ID, "rollback-verify", started, check)


async def _retire(session: MonitorSession, label: str) -> None:
    target = session.target

    async def retire() -> Details:
        await target.retire(label)
        return {}

    # Clean-up: a failed retire is an incident in the journal, not a failed rollback.
    with contextlib.suppress(TargetError):
        await session.steps.run(f"retire:{label}", "retire", {"label": label}, retire)


def _flag_store(session: MonitorSession, ctx: ToolContext) -> FlagStore:
    from tools.deploy.strategies.feature_flag import flag_store_for

    file = ctx.config.deploy.strategy.feature_flag.file
    store = flag_store_for(session.target, ctx.workspace / Path(file) if file else None)
    if store is None:
        raise ToolError(f"target {session.target.name} has no feature flags to switch back")
    return store
