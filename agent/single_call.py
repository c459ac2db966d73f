"""One tool call through the gate, outside any agent run (`hotfix tool`, `policy explain`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.approvers import Approver
from agent.config import HotfixConfig, load_config
from agent.gate import Gate
from agent.journal import Journal, RunFinished, RunStarted
from agent.policy import Policy, Verdict
from agent.session import build_redactor
from agent.tool_runner import ToolRunner
from tools.base import Tool, ToolCall, ToolContext
from tools.mcp_bridge.tools import GATE_KEY
from tools.registry import UnknownToolError, default_registry


@dataclass
class CallOutcome:
    """Result of a single gated call."""

    tool: str
    status: str  # ok | error | denied | invalid
    text: str
    data: dict[str, Any] | None
    decision: str
    rule: str | None
    run_id: str

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "error": 1, "denied": 3, "invalid": 2}.get(self.status, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "status": self.status,
            "output": self.text,
            "data": self.data,
            "decision": self.decision,
            "rule": self.rule,
            "run_id": self.run_id,
            "exit_code": self.exit_code,
        }


async def explain_call(
    tool_name: str, args: dict[str, Any], *, workspace: Path, config_path: Path | None = None
) -> Verdict:
    """What the gate would decide for this call under the workspace's config."""
    root = workspace.resolve()  # noqa: ASYNC240 (one call per process; nothing else runs)
    config = load_config(root, config_path)
    async with _resolved(tool_name, root, config) as tool:
        return Policy(config.gate, redactor=build_redactor(config)).explain(tool, args)


async def call_tool(
    tool_name: str,
    args: dict[str, Any],
    *,
    workspace: Path,
    approver: Approver,
    config_path: Path | None = None,
) -> CallOutcome:
    """Validate, gate and run one call; journaled like any run."""
    root = workspace.resolve()  # noqa: ASYNC240 (one call per process; nothing else runs)
    config = load_config(root, config_path)
    async with _resolved(tool_name, root, config) as tool:
        return await _gated_call(tool, args, root, config, approver)


@contextlib.asynccontextmanager
async def _resolved(tool_name: str, root: Path, config: HotfixConfig) -> AsyncGenerator[Tool]:
    """The tool called `tool_name`: a built-in one, or a configured MCP server's (whose
    servers then run for the duration of the block)."""
    tool = default_registry().get(tool_name)
    if tool is None and config.mcp.servers:
        from tools.mcp_bridge import open_bridges

        async with open_bridges(config.mcp.servers, cwd=root) as bridged:
            tool = default_registry(bridged).get(tool_name)
            if tool is None:
                raise UnknownToolError(f"unknown tool {tool_name!r}")
            yield tool
        return
    if tool is None:
        raise UnknownToolError(f"unknown tool {tool_name!r}")
    yield tool


def one_call_runner(tool: Tool, ctx: ToolContext, approver: Approver) -> ToolRunner:
    """A runner for `tool` alone, gated as in a run: the config's rules, the secrets it names
    (which no call's arguments may carry) and its change windows. `ctx.journal` is required."""
    from tools.deploy.windows import window_guard_from_config

    config, redactor, journal = ctx.config, ctx.redactor, ctx.journal
    if journal is None:
        raise ValueError("a gated call needs the run's journal (ctx.journal)")
    gate = Gate(Policy(config.gate, redactor=redactor), approver, journal, redactor,
                window_guard=window_guard_from_config(config))  # fmt: skip
    ctx.extras[GATE_KEY] = gate  # an MCP server's questions during the call go to the gate
    return ToolRunner(
        tools=[tool], gate=gate, ctx=ctx, journal=journal, redactor=redactor,
        output_limit=config.limits.tool_output_chars, on_event=lambda _kind, _data: None,
    )  # fmt: skip


async def _gated_call(
    tool: Tool, args: dict[str, Any], root: Path, config: HotfixConfig, approver: Approver
) -> CallOutcome:
    redactor = build_redactor(config)
    with Journal.create(root, redactor) as journal:
        journal.write(
            RunStarted(
                run_id=journal.run_id,
                description=f"hotfix tool {tool.name}",
                agent="(single call)",
                model="(none)",
                workspace=str(root),
                config_source=config.source,
                front_end="tool",
            )
        )
        ctx = ToolContext(
            workspace=root, config=config, redactor=redactor, journal=journal, run_id=journal.run_id
        )
        runner = one_call_runner(tool, ctx, approver)
        record = await runner.run_one(ToolCall(id="call_1", tool=tool.name, args=args))
        journal.write(
            RunFinished(
                status=record.status,
                stop_reason="completed",
                turns=0,
                tool_calls=1,
                summary=record.text[:500],
            )
        )
    verdict = record.authorization.verdict if record.authorization else None
    return CallOutcome(
        tool=tool.name,
        status=record.status,
        text=record.text,
        data=record.data,
        decision=verdict.decision.value if verdict else "-",
        rule=verdict.rule if verdict else None,
        run_id=journal.run_id,
    )
