"""Stopping a run safely: after an MCP cancel, a client going away, Ctrl-C or SIGTERM.

Production must be left on a verified version: a candidate that has traffic and was not
promoted is rolled back (when `auto_rollback` is on, the engine's own policy for failures),
a candidate that never had traffic is removed, a promoted one stays, a rollback that was cut
short is finished. The journal records why the run stopped and what was done, so the report
and `hotfix runs` say so.

The command line's side (SIGINT / SIGTERM) is `agent.graceful_stop`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from agent.config import HotfixConfig
from agent.journal import JOURNAL_NAME, Journal, Notice, RunFinished, read_journal
from tools.base import ToolContext
from tools.deploy.engine import DeploymentEngine
from tools.deploy.steps import EngineState, step_label
from tools.deploy.strategies.base import status_of
from tools.deploy.target import Target

Level = Literal["info", "warning", "error"]


def rollback_unfinished(st: EngineState) -> bool:
    """A rollback started and part of it is left: traffic, its verification, or clean-up."""
    if st.rollback_phase is None:
        return False
    if st.rollback_phase != "finished" or st.rollback_verified is None:
        return True
    return bool(set(st.staged) - set(st.baseline or {}))  # a candidate not yet retired


def close_interrupted_steps(engine: DeploymentEngine, why: str) -> None:
    """Record an end for every step an interrupted process left open; none is run again.

    A deployment whose outcome is known (deployed, rolled back...) ends `finished` with it;
    any other step ends `failed`, with `why` in its reason.
    """
    st = engine.state
    kinds = {record["step_id"]: record["kind"] for record in st.records}
    for sid, details in list(st.in_flight.items()):
        kind, label = kinds[sid], str(details.get("label") or step_label(sid))
        status = status_of(st, label) if kind == "deploy" else "in_progress"
        if status != "in_progress":
            engine.steps.write(sid, kind, "finished", {"label": label, "status": status})
        else:
            engine.steps.write(sid, kind, "failed", {"label": label, "reason": f"{sid} {why}"})


async def settle_production(engine: DeploymentEngine, reason: str) -> tuple[Level, str]:
    """Leave production on a verified version after an interruption; (level, what was done).

    Steps the interruption cut short are recorded as ended (`close_interrupted_steps`).
    Never raises for a target failure: what could not be done is the answer, so the caller
    can journal it and tell the user how to finish by hand.
    """
    level, what = await _settle(engine, reason)
    if level != "error":  # after an error the open steps are what is left to finish
        close_interrupted_steps(engine, f"was interrupted ({reason}) and not resumed")
    return level, what


async def _settle(engine: DeploymentEngine, reason: str) -> tuple[Level, str]:
    st = engine.state
    run = engine.run_id or "RUN"
    if st.rollback_phase == "finished" and not rollback_unfinished(st):
        return "info", "production had already been rolled back in this run"
    unpromoted = sorted(label for label in st.exposed if label not in st.promoted)
    if st.rollback_phase is not None or st.needs_rollback() or unpromoted:
        if st.rollback_phase is None and not engine.settings.auto_rollback:
            return "error", (
                f"{', '.join(unpromoted) or 'the candidate'} may have production traffic and "
                f"auto_rollback is off: production needs `hotfix rollback {run}`"
            )
        try:
            await engine.rollback(st.rollback_reason or f"stopped safely: {reason}")
        except Exception as exc:
            return "error", (
                f"the rollback failed ({type(exc).__name__}: {exc}); "
                f"finish it with `hotfix rollback {run}`"
            )
        weights = ", ".join(f"{k} {v}%" for k, v in sorted(engine.state.weights.items()))
        if engine.state.rollback_verified:
            return "warning", f"rolled back to {st.previous}: traffic {weights}; health verified"
        return "error", f"rolled back to {st.previous} (traffic {weights}) but health NOT verified"
    # A stage cut short may have started the version anyway: retiring reconciles it.
    staging = {sid.removeprefix("stage:") for sid in st.in_flight if sid.startswith("stage:")}
    staged = sorted(label for label in set(st.staged) | staging if label not in st.exposed)
    if staged:
        for label in staged:
            await engine.retire_step(label, quietly=True)
        return "info", f"removed {', '.join(staged)}, which never had traffic; production unchanged"
    if st.promoted:
        return (
            "info",
            f"production runs {', '.join(sorted(st.promoted))}, promoted after verification",
        )
    return "info", "production was not changed"


async def stop_run_safely(
    run_dir: Path,
    workspace: Path,
    config: HotfixConfig,
    reason: str,
    *,
    target: Target | None = None,
) -> str:
    """Settle production for the interrupted run in `run_dir` from its journal alone.

    The run's own process state is gone (the loop was cancelled), so the deployment engine is
    rebuilt from the journal, appending to it. Returns what was done, in words.
    """
    from agent.session import build_redactor
    from tools.deploy.tools import open_deploy_session

    path = run_dir / JOURNAL_NAME
    changed = any(record.get("type") == "step" for record in read_journal(path))
    journal = Journal(path, build_redactor(config), run_dir.name)
    try:
        journal.write(Notice(level="warning", message=f"interrupted: {reason}; stopping safely"))
        if not changed:
            level: Level = "info"
            what = "no deployment step had started; production was not changed"
        else:
            if target is None:
                from tools.deploy.targets.factory import build_target

                target = build_target(config, workspace)
            ctx = ToolContext(
                workspace=workspace,
                config=config,
                redactor=build_redactor(config),
                journal=journal,
                run_id=journal.run_id,
            )
            session = open_deploy_session(ctx, target, resume=True)
            level, what = await settle_production(session.engine, reason)
        journal.write(Notice(level=level, message=f"stopped safely after an interruption: {what}"))
        journal.write(
            RunFinished(
                status="cancelled", stop_reason="cancelled", turns=0, tool_calls=0, summary=what
            )
        )
    finally:
        journal.close()
    return what


def session_config(
    workspace: Path,
    *,
    config_path: Path | None = None,
    target: str | None = None,
    strategy: str | None = None,
) -> HotfixConfig:
    """The configuration a run used: its config file plus `--target` / `--strategy`."""
    from agent.config import load_config
    from tools.deploy.settings import normalize_strategy

    config = load_config(workspace, config_path)
    if target:
        config.deploy.target = target
    if strategy:
        config.deploy.strategy.default = normalize_strategy(strategy)
    return config
