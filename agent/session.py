"""One run of an agent, wired together: config, journal, tools, gate, model, loop.

Every front end (CLI, MCP server, eval runner) builds `SessionOptions` and calls
`run_session`; they differ only in their approver and in how they show events.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.approvers import Approver
from agent.config import HotfixConfig, load_config
from agent.definitions import AgentDefinition, Handoff, find_definition
from agent.gate import Gate
from agent.journal import Journal, Notice, RunFinished, RunStarted
from agent.loop import AgentLoop, LoopLimits, LoopResult, StopReason
from agent.models.base import ModelClient
from agent.models.factory import create_model, has_model_credentials
from agent.policy import Policy
from agent.redaction import Redactor
from agent.tool_output import cap_text
from tools.base import Tool, ToolContext
from tools.deploy.notify import Notifier, NotifyingApprover, notifier_from_config
from tools.deploy.settings import normalize_strategy
from tools.deploy.target import Target
from tools.deploy.targets.factory import build_target
from tools.deploy.tools import DeploySession, open_deploy_session
from tools.deploy.verifier import Verifier
from tools.deploy.windows import window_guard_from_config
from tools.mcp_bridge.settings import server_aliases
from tools.mcp_bridge.tools import GATE_KEY
from tools.registry import ToolRegistry, default_registry

EventCallback = Callable[[str, dict[str, Any]], None]


@dataclass
class SessionOptions:
    """What a front end asks for."""

    description: str
    workspace: Path
    approver: Approver
    model: str | None = None
    agent: str = "hotfix-deployment"
    config_path: Path | None = None
    front_end: str = "cli"
    target: str | None = None
    strategy: str | None = None
    on_event: EventCallback | None = None
    on_text: Callable[[str], None] | None = None
    http_client: Any = None
    # An already-built model (evals, tests); takes precedence over `model`.
    model_client: ModelClient | None = None
    # A deployment target and verifier to use instead of the ones the config names (evals
    # run against simulated targets; tests against in-memory ones).
    deploy_target: Target | None = None
    verifier: Verifier | None = None
    # The engine's clock and sleep (a fake clock makes bake and analysis windows instant).
    deploy_clock: Callable[[], float] | None = None
    deploy_sleep: Callable[[float], Awaitable[None]] | None = None
    extra_tools: list[Tool] = field(default_factory=list[Tool])
    # Called with every journal record once it is written (telemetry, live views, tests).
    journal_listeners: list[Callable[[dict[str, Any]], None]] = field(
        default_factory=list[Callable[[dict[str, Any]], None]])


@dataclass
class RunResult:
    """How a run ended, for the front end to show."""

    run_id: str
    run_dir: Path
    status: str
    stop_reason: str
    final_text: str
    detail: str
    turns: int
    tool_calls: int
    model: str
    usage: dict[str, int]
    notices: list[str]
    handoffs: list[Handoff]
    extras: dict[str, Any] = field(default_factory=dict[str, Any])
    could_deploy: bool = False  # the agent had the deployment tools

    @property
    def journal_path(self) -> Path:
        return self.run_dir / "journal.jsonl"

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "status": self.status, "stop_reason": self.stop_reason,
            "summary": self.final_text, "detail": self.detail, "turns": self.turns,
            "tool_calls": self.tool_calls, "model": self.model, "usage": self.usage,
            "notices": self.notices, "run_dir": str(self.run_dir),
            "journal": str(self.journal_path),
            "handoffs": [h.model_dump() for h in self.handoffs], **self.extras,
        }


def build_redactor(config: HotfixConfig) -> Redactor:
    """Secrets from the environment plus the names the config marks as secret."""
    return Redactor.from_environment(extra_names=config.secrets.env_names)


def limits_from(config: HotfixConfig) -> LoopLimits:
    limits = config.limits
    return LoopLimits(max_turns=limits.max_turns, max_tool_calls=limits.max_tool_calls,
                      token_budget=limits.token_budget, wall_clock_s=limits.wall_clock_s,
                      tool_output_chars=limits.tool_output_chars,
                      max_tokens=config.model.max_tokens)


def select_tools(definition: AgentDefinition,
                 registry: ToolRegistry) -> tuple[list[Tool], list[str]]:
    """The tools an agent definition asks for (errors on unknown names)."""
    return registry.select(definition.tools)


async def run_session(options: SessionOptions) -> RunResult:
    """Run one agent to completion and journal everything it did."""
    workspace = options.workspace.resolve()
    config = load_config(workspace, options.config_path)
    if options.target:
        config.deploy.target = options.target
    if options.strategy:
        config.deploy.strategy.default = normalize_strategy(options.strategy)
    if not config.mcp.servers:
        return await _run(options, workspace, config, [])
    from tools.mcp_bridge import open_bridges

    # Bridged MCP servers (the Azure MCP server among them) live exactly as long as the run.
    async with open_bridges(config.mcp.servers, cwd=workspace) as bridged:
        return await _run(options, workspace, config, list(bridged))


async def _run(options: SessionOptions, workspace: Path, config: HotfixConfig,
               bridged: list[Tool]) -> RunResult:
    redactor = build_redactor(config)
    definition = find_definition(options.agent, [workspace / ".github" / "agents"])
    registry = default_registry([*options.extra_tools, *bridged],
                                server_aliases(config.mcp.servers))
    tools, notices = select_tools(definition, registry)
    if options.model_client is not None:
        model: ModelClient = options.model_client
    else:
        model, model_notices = create_model(
            options.model or _definition_model(definition), config.model,
            on_text=options.on_text, http_client=options.http_client,
        )
        notices += model_notices
    journal = Journal.create(workspace, redactor)
    for listener in options.journal_listeners:
        journal.add_listener(listener)
    shutdown_telemetry = _attach_telemetry(config, journal)
    ctx = ToolContext(workspace=workspace, config=config, redactor=redactor, journal=journal,
                      run_id=journal.run_id)
    notifier = notifier_from_config(config, journal, redactor, service=workspace.name)
    deploy_session = None
    if any(tool.source == "hotfix" for tool in tools):
        deploy_session = _open_deploy(options, ctx, notifier)
    approver = NotifyingApprover(options.approver, notifier) if notifier else options.approver
    gate = Gate(Policy(config.gate), approver, journal, redactor,
                window_guard=window_guard_from_config(config))
    ctx.extras[GATE_KEY] = gate  # bridged MCP servers' elicitations are answered through it
    system = definition.render(workspace=str(workspace), target=config.deploy.target,
                               strategy=config.deploy.strategy.default,
                               date=datetime.now(UTC).date().isoformat(),
                               tools=[t.name for t in tools])
    journal.write(RunStarted(run_id=journal.run_id, description=options.description,
                             agent=definition.slug, model=model.model_id,
                             workspace=str(workspace), config_source=config.source,
                             front_end=options.front_end))
    for notice in notices:
        journal.write(Notice(level="warning", message=notice))
    loop = AgentLoop(model=model, tools=tools, gate=gate, ctx=ctx, journal=journal,
                     redactor=redactor, system_prompt=system, limits=limits_from(config),
                     on_event=options.on_event)
    try:
        outcome = await loop.run(options.description)
        status = _status(outcome)
        _finish(journal, loop, outcome.stop_reason, status,
                outcome.final_text or outcome.detail)
    except BaseException:
        _finish(journal, loop, StopReason.CANCELLED, "cancelled", "the run was interrupted")
        raise
    finally:
        with contextlib.suppress(Exception):
            await model.aclose()
        if notifier is not None:
            await _notify_finished(notifier, deploy_session, loop)
        if deploy_session is not None:
            await _close_target(deploy_session.engine.target)
        if shutdown_telemetry is not None:
            shutdown_telemetry()  # after run_finished, so the root span is complete
        journal.close()
    return RunResult(
        run_id=journal.run_id, run_dir=journal.run_dir, status=status,
        stop_reason=outcome.stop_reason.value, final_text=redactor.text(outcome.final_text),
        detail=outcome.detail, turns=outcome.turns, tool_calls=outcome.tool_calls,
        model=model.model_id, usage=_usage(outcome), notices=notices,
        handoffs=definition.handoffs if outcome.completed else [],
        extras=_deployment_extras(deploy_session), could_deploy=deploy_session is not None,
    )


def _open_deploy(options: SessionOptions, ctx: ToolContext,
                 notifier: Notifier | None) -> DeploySession:
    target = options.deploy_target or build_target(ctx.config, ctx.workspace)
    attach = getattr(target, "attach_journal", None)
    if callable(attach) and ctx.journal is not None:
        attach(ctx.journal, ctx.redactor)  # cloud targets journal each API operation
    timing: dict[str, Any] = {}
    if options.deploy_clock is not None:
        timing["clock"] = options.deploy_clock
    if options.deploy_sleep is not None:
        timing["sleep"] = options.deploy_sleep
    return open_deploy_session(ctx, target, verifier=options.verifier, notifier=notifier,
                               **timing)


async def _close_target(target: object) -> None:
    # Cloud targets run background probes; the local target has nothing to close.
    close: Callable[[], Awaitable[None]] | None = getattr(target, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def _notify_finished(notifier: Notifier, session: DeploySession | None,
                           loop: AgentLoop) -> None:
    # `engine.deploy` announces its own end; runs that drove the steps one by one get a
    # `finished` here. Waits at most the webhook timeout, and only after the journal is final.
    if session is not None and session.last_outcome is None and session.engine.state.records:
        notifier.send("finished", {"turns": loop.turns, "tool_calls": loop.tool_calls})
    await notifier.aclose()


def _attach_telemetry(config: HotfixConfig, journal: Journal) -> Callable[[], None] | None:
    endpoint = config.telemetry.otlp_endpoint
    if not endpoint:
        return None
    from agent.telemetry import JournalTracer, open_otlp

    tracer, shutdown = open_otlp(endpoint)
    journal.add_listener(JournalTracer(tracer, journal.run_id))
    return shutdown


def _deployment_extras(session: DeploySession | None) -> dict[str, Any]:
    if session is None or session.last_outcome is None:
        return {}
    return {"deployment": session.last_outcome.to_dict()}


def _definition_model(definition: AgentDefinition) -> str | None:
    # The definition's model applies when Claude can be reached; offline the factory falls
    # back to the runbook planner. HOTFIX_MODEL still overrides both.
    if definition.model and not os.environ.get("HOTFIX_MODEL") and has_model_credentials():
        return definition.model
    return None


def _status(outcome: LoopResult) -> str:
    if outcome.completed:
        return "completed"
    if outcome.stop_reason is StopReason.MODEL_ERROR:
        return "failed"
    return "stopped"


def _usage(outcome: LoopResult) -> dict[str, int]:
    u = outcome.usage
    return {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens, "cache_write_tokens": u.cache_write_tokens}


_SUMMARY_CHARS = 20_000


def _finish(journal: Journal, loop: AgentLoop, reason: StopReason, status: str,
            summary: str) -> None:
    u = loop.usage
    # The journal keeps a bounded summary; the whole final text is the run's result.
    summary, _ = cap_text(summary, _SUMMARY_CHARS)
    journal.write(RunFinished(
        status=status, stop_reason=reason.value, turns=loop.turns, tool_calls=loop.tool_calls,
        input_tokens=u.input_tokens, output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens,
        summary=summary,
    ))


__all__ = ["ModelClient", "RunResult", "SessionOptions", "run_session"]
