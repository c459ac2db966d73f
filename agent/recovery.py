"""`hotfix rollback RUN` and `hotfix resume RUN`: pick a run up again from its journal.

The deploying process may have died (Ctrl-C, kill -9, a closed laptop) while production kept
running in its own daemon. A new process rebuilds the run's deployment engine from the
journal, appends to the same journal, and either rolls production back to what it was
before the run, or finishes what the run was doing. Both are production changes: they go
through the gate and the approver like any tool call of the agent, with the run's change
windows (outside one, resuming a deployment takes an explicit override; a rollback is
exempt) and its webhooks (`waiting_for_approval`, `rolled_back`, `finished`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent.approvers import Approver
from agent.config import load_config
from agent.journal import (
    JOURNAL_NAME,
    Journal,
    JournalBusy,
    Notice,
    RunFinished,
    iter_journal,
    read_journal,
)
from agent.runs import find_run
from agent.safe_stop import close_interrupted_steps, rollback_unfinished
from agent.session import build_redactor
from agent.single_call import one_call_runner
from agent.tool_runner import CallRecord
from tools.base import Tool, ToolCall, ToolContext, ToolResult
from tools.deploy.notify import NotifyingApprover, notifier_from_config
from tools.deploy.steps import EngineState
from tools.deploy.target import Target
from tools.deploy.targets.factory import build_target
from tools.deploy.tools import DeploySession, HotfixDeploy, HotfixRollback, VersionArgs
from tools.deploy.tools import open_deploy_session as _open_session

Command = Literal["rollback", "resume"]
EXIT_OK, EXIT_FAILED, EXIT_DENIED = 0, 1, 3


class RecoveryError(Exception):
    """The run cannot be picked up (unknown run, environment gone); nothing was changed."""


@dataclass
class RecoveryResult:
    """What `hotfix rollback` / `hotfix resume` did to a run."""

    run_id: str
    run_dir: Path
    command: Command
    status: str  # the deployment's status afterwards, or "denied" / "nothing_to_do"
    call_status: str | None  # ok | error | denied; None when no production call was needed
    summary: str
    deployment: dict[str, Any] | None
    production: dict[str, Any]

    @property
    def exit_code(self) -> int:
        """0 production is healthy on a finished state, 3 denied, 1 anything else."""
        if self.call_status == "denied":
            return EXIT_DENIED
        finished = self.status in ("deployed", "rolled_back", "nothing_to_do")
        return EXIT_OK if finished and self.production.get("healthy") else EXIT_FAILED

    def to_json(self) -> dict[str, Any]:
        """The document `--json` prints."""
        return {
            "run_id": self.run_id, "command": self.command, "status": self.status,
            "call_status": self.call_status, "summary": self.summary,
            "deployment": self.deployment, "production": self.production,
            "journal": str(self.run_dir / JOURNAL_NAME), "exit_code": self.exit_code,
        }  # fmt: skip


class _ResumeDeploy(HotfixDeploy):
    """`hotfix_deploy` of the run's version, carried on from its journal (gated as such)."""

    async def execute(self, args: VersionArgs, ctx: ToolContext) -> ToolResult:
        session: DeploySession = ctx.extras["deploy"]
        outcome = await session.engine.resume_deployment()
        if outcome is None:
            return ToolResult(text="the run had no deployment to resume", data={})
        session.last_outcome = outcome
        return ToolResult(text=outcome.summary(), data=outcome.to_dict())


async def recover_run(
    command: Command,
    run_id: str,
    *,
    workspace: Path,
    approver: Approver,
    config_path: Path | None = None,
    target: Target | None = None,
    journal_listeners: Sequence[Callable[[dict[str, Any]], None]] = (),
) -> RecoveryResult:
    """Roll back (`rollback`) or finish (`resume`) the run `run_id` from its journal.

    Raises:
        RecoveryError: the run is unknown, another process still drives it, or its
            environment no longer runs.
    """
    root, run_dir = _locate(workspace, run_id)
    _refuse_monitoring_run(run_dir)
    config = load_config(root, config_path)
    redactor = build_redactor(config)
    path = run_dir / JOURNAL_NAME
    try:  # first: while another process drives the run, nothing else may touch production
        journal = Journal(path, redactor, run_dir.name)  # cuts a torn last line
    except JournalBusy as exc:
        raise RecoveryError(str(exc)) from None
    for listener in journal_listeners:
        journal.add_listener(listener)
    try:
        target = target or build_target(config, root)
        _require_environment(target)
    except BaseException:
        journal.close()
        raise
    already_finished = any(r.get("type") == "run_finished" for r in read_journal(path))
    # Webhooks and change windows apply as in the run itself (agent.session.run_session).
    notifier = notifier_from_config(config, journal, redactor, service=root.name)
    try:
        ctx = ToolContext(
            workspace=root, config=config, redactor=redactor, journal=journal, run_id=journal.run_id
        )
        session = _open_session(ctx, target, resume=True, notifier=notifier)
        call = _call_for(command, session, run_dir.name)
        if call is None and already_finished:
            # Nothing to do for a run that stated its end: leave its journal as it is.
            return _result(command, run_dir, session, None, await _production(session))
        journal.write(Notice(level="info", message=(
            f"`hotfix {command} {run_dir.name}` picked this run up from its journal "
            f"(pid {os.getpid()})")))  # fmt: skip
        record: CallRecord | None = None
        if call is not None:
            gated = NotifyingApprover(approver, notifier) if notifier else approver
            tool, tool_call = call
            record = await one_call_runner(tool, ctx, gated).run_one(tool_call)
        if record is None or record.status == "ok":
            close_interrupted_steps(session.engine, f"was interrupted and not resumed by {command}")
        production = await _production(session)
        result = _result(command, run_dir, session, record, production)
        journal.write(
            Notice(
                level="info" if result.exit_code == EXIT_OK else "warning",
                message=f"after `hotfix {command}`: {result.summary}; production "
                f"{'healthy' if production['healthy'] else 'NOT healthy'}",
            )
        )
        journal.write(_finished(command, result, record))
        if notifier is not None and record is not None:
            notifier.send("finished", {"status": result.status, "summary": result.summary,
                                       "command": f"hotfix {command}"})  # fmt: skip
    finally:
        if notifier is not None:
            await notifier.aclose()  # waits at most the webhook timeout, after the journal
        journal.close()
    return result


def _finished(command: Command, result: RecoveryResult, record: CallRecord | None) -> RunFinished:
    if result.status == "nothing_to_do":
        # The run died before its deployment started: production was never changed.
        status = "cancelled" if result.exit_code == EXIT_OK else "failed"
        summary = "the run was interrupted before it changed production; " + result.summary
    else:
        status = "completed" if result.exit_code == EXIT_OK else "failed"
        summary = result.summary
    return RunFinished(
        status=status, stop_reason=command, turns=0,
        tool_calls=0 if record is None else 1, summary=summary,
    )  # fmt: skip


def _refuse_monitoring_run(run_dir: Path) -> None:
    """A post-fix-monitoring run has no deployment of its own to resume: its rollback is
    finished by the monitoring agent again, from the deployment run's packet."""
    from handoffs.contract import packet_from_text
    from handoffs.report import MONITORING_AGENT

    started = next(iter_journal(run_dir / JOURNAL_NAME), {})
    if started.get("agent") != MONITORING_AGENT:
        return
    packet = packet_from_text(str(started.get("description", "")))
    deployment = packet.run_id if packet is not None else "DEPLOYMENT_RUN"
    raise RecoveryError(
        f"run {run_dir.name} is a post-fix-monitoring run; to finish a rollback it started, "
        f"run `hotfix monitor {deployment} --rollback REASON` (repeating it is safe)"
    )


def _locate(workspace: Path, run_id: str) -> tuple[Path, Path]:
    root = workspace.resolve()
    try:
        return root, find_run(root, run_id)
    except LookupError as exc:
        raise RecoveryError(str(exc)) from None


def _call_for(
    command: Command, session: DeploySession, run_id: str
) -> tuple[Tool, ToolCall] | None:
    """The production call that does what `command` needs, or None when nothing is left."""
    st = session.engine.state
    if rollback_unfinished(st) or (command == "resume" and st.needs_rollback()):
        reason = st.rollback_reason or st.needs_rollback() or f"`hotfix {command} {run_id}`"
        return _rollback_call(reason)
    if st.rollback_phase == "finished":
        return None
    if command == "rollback":
        if not _changed_production(st):
            return None
        return _rollback_call(f"`hotfix rollback {run_id}` asked to restore the previous version")
    unfinished = [
        (label, d) for label, d in st.deployments.items() if f"deploy:{label}" not in st.completed
    ]
    if not unfinished:
        return None
    _label, details = unfinished[-1]
    args: dict[str, Any] = {"version_ref": details.get("ref"), "strategy": details.get("strategy")}
    return _ResumeDeploy(), ToolCall(id="recovery_1", tool="hotfix_deploy", args=args)


def _rollback_call(reason: str) -> tuple[Tool, ToolCall]:
    return HotfixRollback(), ToolCall(
        id="recovery_1", tool="hotfix_rollback", args={"reason": reason}
    )


def _changed_production(st: EngineState) -> bool:
    """Whether the run did anything a rollback could undo."""
    rolling = any(record["kind"] == "rolling" for record in st.records)
    return st.baseline is not None or bool(st.flags_before) or rolling


def _require_environment(target: Target) -> None:
    from tools.deploy.targets.local import LocalTarget, environment_status

    # A LocalTarget would start a fresh, empty environment on first use: refuse instead.
    if isinstance(target, LocalTarget) and environment_status(target.state_dir) is None:
        raise RecoveryError(
            f"the local environment in {target.state_dir} is not running, so there is no "
            "production to recover (start it with `hotfix demo --keep-running` or redeploy)"
        )


async def _production(session: DeploySession) -> dict[str, Any]:
    state = await session.engine.target.state()
    health = await session.engine.verifier.health(state.production_url)
    return {
        "url": state.production_url,
        "weights": state.weights,
        "healthy": health.get("passed") is True,
    }


def _result(
    command: Command,
    run_dir: Path,
    session: DeploySession,
    record: CallRecord | None,
    production: dict[str, Any],
) -> RecoveryResult:
    engine = session.engine
    deployment: dict[str, Any] | None = None
    if engine.state.deployments:
        label, details = list(engine.state.deployments.items())[-1]
        deployment = engine.outcome(label, str(details.get("strategy") or "")).to_dict()
        deployment.pop("steps", None)
    if record is None:
        status = deployment["status"] if deployment else "nothing_to_do"
        summary = f"nothing left to {command}: the run is {status}"
    elif record.status == "denied":
        status, summary = "denied", record.text
    else:
        status = deployment["status"] if deployment else engine.state.rollback_phase or "failed"
        if engine.state.rollback_phase == "finished":
            status = "rolled_back"
        summary = record.text
    return RecoveryResult(
        run_dir.name,
        run_dir,
        command,
        status,
        None if record is None else record.status,
        summary,
        deployment,
        production,
    )
