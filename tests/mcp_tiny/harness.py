"""The bridge's tools behind a real gate and tool runner, as a session would use them."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent._approval import Approval, ApprovalRequest
from agent.approvers import DenyAllApprover
from agent.config import HotfixConfig
from agent.gate import Gate
from agent.journal import Journal, read_journal
from agent.policy import Policy
from agent.redaction import Redactor
from agent.tool_runner import CallRecord, ToolRunner
from tools.base import Tool, ToolCall, ToolContext
from tools.mcp_bridge import GATE_KEY, McpServerConfig, open_bridges

_runs = itertools.count(1)


@dataclass
class ApproveAll:
    """Approves every call once (or says no while `refusing`); remembers what it was asked."""

    name: str = "approve-all"
    refusing: bool = False
    asked: list[ApprovalRequest] = field(default_factory=list[ApprovalRequest])

    async def request(self, req: ApprovalRequest) -> Approval:
        self.asked.append(req)
        if self.refusing:
            return req.deny(self.name, "refused by the test")
        return req.approve(self.name)


@dataclass
class Harness:
    tools: dict[str, Tool]
    runner: ToolRunner
    journal_path: Path
    _counter: int = 0

    async def call(self, tool: str, **args: Any) -> CallRecord:
        """Run `tool` (its model-facing name) through the gate, like the loop does."""
        self._counter += 1
        return await self.runner.run_one(ToolCall(f"call_{self._counter}", tool, args))

    def records(self) -> list[dict[str, Any]]:
        return read_journal(self.journal_path)


@asynccontextmanager
async def bridged(
    tmp_path: Path, config: McpServerConfig, approver: Any = None
) -> AsyncGenerator[Harness]:
    """Start the server behind a gate with `approver` (deny-all by default)."""
    redactor = Redactor()
    run_id = f"run-{next(_runs)}"
    journal = Journal(tmp_path / run_id / "journal.jsonl", redactor, run_id)
    gate = Gate(Policy(), approver or DenyAllApprover(), journal, redactor)
    async with open_bridges([config], cwd=tmp_path) as tools:
        ctx = ToolContext(tmp_path, HotfixConfig(), redactor, journal, run_id, {GATE_KEY: gate})
        runner = ToolRunner(
            tools=tools,
            gate=gate,
            ctx=ctx,
            journal=journal,
            redactor=redactor,
            output_limit=20_000,
            on_event=lambda kind, data: None,
        )
        try:
            yield Harness({t.name: t for t in tools}, runner, journal.path)
        finally:
            journal.close()
