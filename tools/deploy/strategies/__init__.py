"""Deployment strategies, each written once against the engine's operations.

`run_strategy` wraps a whole deployment in a journaled `deploy:<label>` step, so that
`resume_strategy` can finish it after a crash: every step already done is skipped.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from tools.base import ToolError
from tools.deploy.settings import normalize_strategy
from tools.deploy.steps import EngineRefusal
from tools.deploy.strategies.base import DeploymentOutcome, Strategy, status_of
from tools.deploy.strategies.blue_green import BlueGreenStrategy
from tools.deploy.strategies.canary import CanaryStrategy
from tools.deploy.strategies.feature_flag import FeatureFlagStrategy
from tools.deploy.strategies.rolling import RollingStrategy
from tools.deploy.target import VersionSpec

if TYPE_CHECKING:
    from tools.deploy.engine import DeploymentEngine

__all__ = ["DeploymentOutcome", "Strategy", "get_strategy", "resume_strategy", "run_strategy"]

_STRATEGIES: dict[str, Strategy] = {
    "blue-green": BlueGreenStrategy(),
    "canary": CanaryStrategy(),
    "rolling": RollingStrategy(),
    "feature-flag": FeatureFlagStrategy(),
}


def get_strategy(name: str) -> Strategy:
    """The strategy called `name` (aliases such as `blue_green` accepted).

    Raises:
        EngineRefusal: Unknown name.
    """
    try:
        return _STRATEGIES[normalize_strategy(name)]
    except ValueError as exc:
        raise EngineRefusal(str(exc)) from exc


async def run_strategy(engine: DeploymentEngine, spec: VersionSpec, name: str) -> DeploymentOutcome:
    """Deploy `spec` with strategy `name` end to end; never leaves a failure unhandled.

    An error from the target or a refusal mid-way is recorded as the failure of the
    deployment and handled like a failed verification (rollback, or clean-up when the
    version never had traffic); the outcome says what happened.
    """
    strategy = get_strategy(name)
    label = strategy.label_for(spec, engine.settings)
    engine.require_open("deploy")
    sid = f"deploy:{label}"
    if sid in engine.state.completed:
        return engine.outcome(label, strategy.name)
    if label in engine.state.failed:
        raise EngineRefusal(f"{label} already failed in this run: {engine.state.failed[label]}")
    reason = await strategy.unsupported(engine)
    if reason is not None:
        raise EngineRefusal(reason)
    started = {
        "label": label,
        "version": spec.label,
        "ref": spec.ref,
        "artifact": spec.artifact,
        "strategy": strategy.name,
    }
    if sid not in engine.state.in_flight:  # a resumed deployment is already recorded as started
        engine.steps.write(sid, "deploy", "started", started)
    try:
        await strategy.run(engine, spec)
    except Exception as exc:
        failure = f"{strategy.name} deployment of {label} stopped: {exc}"
        failed = {**started, "reason": failure, "ts": engine.clock()}
        engine.steps.write(sid, "deploy", "failed", failed)
        with contextlib.suppress(ToolError):  # a failed rollback shows as needs_rollback
            await engine.handle_failure(label)
        return engine.outcome(label, strategy.name)
    status = status_of(engine.state, label)
    engine.steps.write(sid, "deploy", "finished", {"label": label, "status": status})
    return engine.outcome(label, strategy.name)


async def resume_strategy(engine: DeploymentEngine) -> DeploymentOutcome | None:
    """Finish what the journal shows unfinished, and report the run's last deployment.

    An interrupted rollback is completed; an interrupted deployment is run again from the
    top, every finished step being skipped and a half-done one reconciled with the target.
    Returns the outcome of the run's last deployment, or None when it deployed nothing.
    """
    st = engine.state
    pending = [sid for sid in st.in_flight if sid.startswith("deploy:")]
    last = next(reversed(st.deployments.values()), None)
    if st.rollback_phase in ("started", "failed") or (
        st.needs_rollback() and engine.settings.auto_rollback
    ):
        await engine.rollback(st.rollback_reason or st.needs_rollback() or "resumed rollback")
    if st.rollback_phase is not None or st.needs_rollback() or not pending:
        if last is None:
            return None
        label = str(last["label"])
        for sid in pending:
            finished = {"label": label, "status": status_of(st, label)}
            engine.steps.write(sid, "deploy", "finished", finished)
        return engine.outcome(label, str(last["strategy"]))
    started = st.in_flight[pending[-1]]
    spec = VersionSpec(str(started["version"]), str(started["ref"]), started.get("artifact"))
    return await run_strategy(engine, spec, str(started["strategy"]))
