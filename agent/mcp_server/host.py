"""Where tool calls run: as jobs watched by the request, one rollout at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, InputRequiredResult

from agent.mcp_server.chat_run import ChatRuns
from agent.mcp_server.jobs import (
    CANCELLED,
    Job,
    JobRegistry,
    apply_retry,
    error_result,
    watch,
)
from agent.mcp_server.options import ServerOptions

Result = CallToolResult | InputRequiredResult
# Calls that change something: cancelling one mid-way settles production (see safe_stop).
MUTATING = frozenset({"hotfix_stage", "hotfix_shift_traffic", "hotfix_promote", "hotfix_rollback"})


class ToolHost:
    """Starts tool calls as jobs and watches them for the request (both protocol eras)."""

    def __init__(self, options: ServerOptions, jobs: JobRegistry, chat: ChatRuns) -> None:
        self.options = options
        self.jobs = jobs
        self.chat = chat
        self._rollout: Job | None = None  # the hotfix_deploy running now, if any

    def busy(self, tool: str) -> str | None:
        """Why `tool` may not start now: one rollout at a time on one production."""
        if self._rollout is not None and not self._rollout.done.is_set():
            return f"{tool} refused: a hotfix_deploy is running ({self._rollout.last_message})"
        if tool == "hotfix_deploy":
            return self.chat.in_progress()
        return None

    async def run(
        self,
        ctx: Context[Any, Any],
        tool: str,
        work: Callable[[Job], Awaitable[CallToolResult]],
        cleanup: Callable[[Job], Awaitable[CallToolResult]],
    ) -> Result:
        """Start the job of one call (or, on a 2026-07-28 retry, find it) and watch it."""
        if ctx.request_state:
            job = apply_retry(self.jobs, ctx, tool)
            if job is None:
                return error_result("this call is no longer known to the server (restarted?); "
                                    "see the runs in hotfix://runs")  # fmt: skip
        else:
            refusal = self.busy(tool) if tool in MUTATING or tool == "hotfix_deploy" else None
            if refusal is not None:
                return error_result(refusal)
            job = self.jobs.start(tool, work, cleanup)
            if tool == "hotfix_deploy":
                self._rollout = job
        return await watch(job, ctx, self.options.heartbeat_s)

    async def granular(self, ctx: Context[Any, Any], tool: str, args: dict[str, Any]) -> Result:
        """One call of a granular tool in the chat run, through the gate."""
        clean = {key: value for key, value in args.items() if value is not None}

        async def work(job: Job) -> CallToolResult:
            return await self.chat.call(job, tool, clean)

        async def cleanup(job: Job) -> CallToolResult:
            del job
            what = await self.chat.settle() if tool in MUTATING else None
            return error_result(f"{tool} cancelled ({CANCELLED})" + (f": {what}" if what else ""))

        return await self.run(ctx, tool, work, cleanup)
