"""The run a chat model drives itself through the granular tools.

One run at a time: opened by the first granular call, journaled like any run, with one
deployment engine whose invariants hold across calls (no traffic before a passing
verification, and so on). Every call goes through the gate, so production changes ask
through an elicitation form even when the client auto-approves tools. A server restarted
mid-rollout resumes the unfinished chat run from its journal; a run whose deployment
concluded (promoted or rolled back) is finished when the next version is staged, or by the
handoff. When the client goes away, production is settled (`safe_stop`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from mcp_types import CallToolResult

from agent.mcp_server.approvals import Asker, ElicitationApprover, FormAnswer
from agent.mcp_server.jobs import CANCELLED, Job
from agent.mcp_server.options import ServerOptions
from agent.mcp_server.outputs import ToolOutcome, run_links, tool_result
from agent.mcp_server.progress import JournalProgress

if TYPE_CHECKING:
    from agent.journal import Journal
    from agent.tool_runner import CallRecord, ToolRunner
    from tools.deploy.target import Target
    from tools.deploy.tools import DeploySession

CHAT_FRONT_END = "mcp-chat"
GRANULAR_TOOLS = (
    "hotfix_status", "hotfix_plan", "hotfix_predeploy", "hotfix_stage", "hotfix_verify",
    "hotfix_shift_traffic", "hotfix_promote", "hotfix_rollback", "hotfix_health_check",
    "hotfix_smoke_tests", "hotfix_write_report", "hotfix_handoff",
)  # fmt: skip
# These read a run's journal; they need no running production.
RUN_DOCUMENTS = ("hotfix_write_report", "hotfix_handoff")


@dataclass
class ChatRun:
    """The journal, engine and gated runner of one chat-driven run."""

    journal: Journal
    session: DeploySession
    runner: ToolRunner

    @property
    def run_id(self) -> str:
        return self.journal.run_id

    def concluded(self) -> bool:
        """The deployment is over: rolled back, or promoted with nothing left exposed."""
        st = self.session.engine.state
        if st.rollback_phase == "finished":
            return True
        exposed = {label for label in st.exposed if label not in st.promoted}
        return bool(st.promoted) and not exposed and st.needs_rollback() is None

    def finish(self, status: str, reason: str, summary: str) -> None:
        from agent.journal import RunFinished

        calls = self.runner.calls_made
        self.journal.write(
            RunFinished(
                status=status, stop_reason=reason, turns=0, tool_calls=calls, summary=summary
            )
        )
        self.journal.close()


class _CurrentJob(Asker):
    """Asks, and reports progress, through whichever job is calling right now."""

    def __init__(self) -> None:
        self.job: Job | None = None

    async def ask(
        self, key: str, message: str, schema: dict[str, Any], timeout_s: float
    ) -> FormAnswer:
        if self.job is None:
            return FormAnswer("error", detail="no MCP request is waiting for this approval")
        return await self.job.ask(key, message, schema, timeout_s)

    def emit(self, message: str) -> None:
        if self.job is not None:
            self.job.emit(message)


class ChatRuns:
    """Runs the granular tools, one call at a time, in the current chat run."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self._run: ChatRun | None = None
        self._lock = anyio.Lock()
        self._current = _CurrentJob()
        self._opened = False

    async def call(self, job: Job, tool: str, args: dict[str, Any]) -> CallToolResult:
        """Validate, gate and run one granular call; its outcome as a tool result."""
        from tools.base import ToolCall

        async with self._lock:
            self._current.job = job
            try:
                target = self._run.session.engine.target if self._run else self._target()
                missing = await _production_missing(target)
                if missing is not None and tool not in RUN_DOCUMENTS:
                    output = ToolOutcome(tool=tool, status="error", text=missing)
                    return tool_result(output, f"error: {missing}")
                run = await self._active(target, fresh=tool == "hotfix_stage")
                call = ToolCall(id=f"mcp_{run.runner.calls_made + 1}", tool=tool, args=args)
                record = await run.runner.run_one(call)
                if (
                    tool == "hotfix_handoff"
                    and record.status == "ok"
                    and run.concluded()
                    and args.get("run_id") in (None, run.run_id)
                ):
                    # The handoff ends the chat run; the packet is rewritten to say so.
                    await self._close(run, "completed", "handoff", record.text)
                    record = _refreshed_handoff(record, run)
                return _outcome(tool, record, run)
            finally:
                self._current.job = None

    def in_progress(self) -> str | None:
        """Why another rollout must wait: this chat's run changed production and is not done."""
        run = self._run
        if run is None or run.session.engine.state.baseline is None or run.concluded():
            return None
        return (
            f"the chat's run {run.run_id} is mid-rollout; finish it (hotfix_promote or "
            "hotfix_rollback) before starting another"
        )

    async def settle(self, reason: str = CANCELLED) -> str | None:
        """Leave production on a verified version after an interruption; what was done."""
        run = self._run
        if run is None:
            return None
        with anyio.CancelScope(shield=True):
            return await self._settle(run, reason)

    async def _settle(self, run: ChatRun, reason: str) -> str:
        from agent.journal import Notice
        from agent.mcp_server.safe_stop import settle_production

        async with self._lock:
            level, what = await settle_production(run.session.engine, reason)
            run.journal.write(Notice(level=level, message=f"stopped safely ({reason}): {what}"))
        return what

    async def close(self) -> None:
        """The server is stopping: settle production and finish the open run."""
        run = self._run
        if run is None:
            return
        what = await self.settle("the MCP server stopped (client disconnected)")
        await self._close(run, "cancelled", "cancelled", what or "")

    async def _close(self, run: ChatRun, status: str, reason: str, summary: str) -> None:
        from handoffs.report import write_outputs

        run.finish(status, reason, summary)
        self._run = None
        # Cloud targets run background probes; the local target has nothing to close.
        close: Callable[[], Awaitable[None]] | None = getattr(
            run.session.engine.target, "aclose", None
        )
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
        with contextlib.suppress(Exception):  # derivable again later; closing must not fail
            write_outputs(run.journal.run_dir)

    def _target(self) -> Target:
        from tools.deploy.targets.factory import build_target

        factory = self.options.target_factory or build_target
        return factory(self.options.load_config(), self.options.workspace.resolve())

    async def _active(self, target: Target, fresh: bool) -> ChatRun:
        if self._run is not None and fresh and self._run.concluded():
            await self._close(self._run, "completed", "completed", "deployment concluded")
        if self._run is None:
            # Only the first run of this process may be one a previous process left open.
            self._run = self._open(target, None if self._opened else _unfinished(self.options))
            self._opened = True
        return self._run

    def _open(self, target: Target, resume: Path | None) -> ChatRun:
        from agent.gate import Gate
        from agent.journal import JOURNAL_NAME, Journal, RunStarted
        from agent.mcp_server.run_tools import RUN_TOOLS
        from agent.policy import Policy
        from agent.session import build_redactor
        from agent.tool_runner import ToolRunner
        from tools.base import ToolContext
        from tools.deploy.predeploy.tool import HotfixPredeploy
        from tools.deploy.tools import DEPLOY_TOOLS, open_deploy_session
        from tools.deploy.windows import window_guard_from_config

        workspace = self.options.workspace.resolve()
        config = self.options.load_config()
        redactor = build_redactor(config)
        if resume is not None:
            journal = Journal(resume / JOURNAL_NAME, redactor, resume.name)
        else:
            journal = Journal.create(workspace, redactor)
            journal.write(RunStarted(
                run_id=journal.run_id, agent="hotfix-deployment", model="mcp-client",
                description="a rollout driven by the MCP client's chat model (granular tools)",
                workspace=str(workspace), config_source=config.source, front_end=CHAT_FRONT_END,
            ))  # fmt: skip
        journal.add_listener(JournalProgress(self._current.emit))
        ctx = ToolContext(workspace=workspace, config=config, redactor=redactor, journal=journal,
                          run_id=journal.run_id)  # fmt: skip
        session = open_deploy_session(
            ctx, target, verifier=self.options.verifier, resume=bool(resume)
        )
        approver = ElicitationApprover(self._current, self.options.approval_timeout_s)
        gate = Gate(Policy(config.gate), approver, journal, redactor,
                    window_guard=window_guard_from_config(config))  # fmt: skip
        classes = (*DEPLOY_TOOLS, HotfixPredeploy, *RUN_TOOLS)
        tools = [cls() for cls in classes if cls.name in GRANULAR_TOOLS]
        runner = ToolRunner(tools=tools, gate=gate, ctx=ctx, journal=journal, redactor=redactor,
                            output_limit=config.limits.tool_output_chars,
                            on_event=lambda _kind, _data: None)  # fmt: skip
        return ChatRun(journal, session, runner)


async def _production_missing(target: Target) -> str | None:
    """Why there is no production to work on, or None.

    A local target would start a fresh, empty environment on its first call (a router on
    the production port, with nothing behind it): refuse instead, as `hotfix rollback` does.
    """
    from tools.deploy.targets.local import LocalTarget, environment_status

    if not isinstance(target, LocalTarget):
        return None
    if await anyio.to_thread.run_sync(environment_status, target.state_dir) is not None:
        return None
    return (
        f"the local environment in {target.state_dir} is not running, so there is no "
        "production to work on; start it first (the demo: `hotfix demo --keep-running`)"
    )


def _unfinished(options: ServerOptions) -> Path | None:
    """The newest chat run whose journal has no end (the server died mid-rollout)."""
    from agent.journal import JOURNAL_NAME, read_journal, runs_root

    root = runs_root(options.workspace.resolve())
    if not root.is_dir():
        return None
    for run_dir in sorted(root.iterdir(), key=lambda d: d.name, reverse=True)[:20]:
        records = read_journal(run_dir / JOURNAL_NAME)
        started = next((r for r in records if r.get("type") == "run_started"), {})
        if started.get("front_end") != CHAT_FRONT_END:
            continue
        return None if any(r.get("type") == "run_finished" for r in records) else run_dir
    return None


def _refreshed_handoff(record: CallRecord, run: ChatRun) -> CallRecord:
    from dataclasses import replace

    from agent.mcp_server.outputs import handoff_suggestion

    suggestion = handoff_suggestion(run.journal.run_dir)
    if suggestion is None:
        return record
    text = f"handoff ready: {suggestion.label} → {suggestion.agent} (not started). "
    data = {"run_id": run.run_id, **suggestion.model_dump(mode="json")}
    return replace(record, text=text + suggestion.prompt, data=data)


def _outcome(tool: str, record: CallRecord, run: ChatRun) -> CallToolResult:
    auth = record.authorization
    output = ToolOutcome(
        tool=tool, status=record.status, text=record.text, run_id=run.run_id, data=record.data,
        decision=auth.verdict.decision.value if auth is not None else None,
    )  # fmt: skip
    text = f"{record.status}: {record.text}" if record.status != "ok" else record.text
    run_dir = run.journal.run_dir
    links = run_links(run_dir) if tool in ("hotfix_write_report", "hotfix_handoff") else []
    return tool_result(output, text, links)
