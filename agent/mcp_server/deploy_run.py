"""`hotfix_deploy`: the whole agent loop, run inside the MCP server as a job.

The same `run_session` as `hotfix run`, with approvals as elicitation forms and progress
from the journal. Claude drives when the environment has credentials; otherwise the
runbook planner does (the model factory decides). The result carries the summary, links to
the report and journal, and the post-fix-monitoring handoff as a suggestion that is never
started here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp_types import CallToolResult

from agent.mcp_server.approvals import ElicitationApprover
from agent.mcp_server.jobs import CANCELLED, Job, error_result
from agent.mcp_server.options import ServerOptions
from agent.mcp_server.outputs import (
    DeployOutput,
    handoff_suggestion,
    run_links,
    run_uri,
    tool_result,
)
from agent.mcp_server.progress import JournalProgress

if TYPE_CHECKING:
    from tools.deploy.target import Target


@dataclass
class DeployRun:
    """One `hotfix_deploy` call: its work and its clean-up when interrupted."""

    options: ServerOptions
    description: str
    target: str | None = None
    strategy: str | None = None
    progress: JournalProgress | None = field(default=None, init=False)
    deploy_target: Target | None = field(default=None, init=False)

    async def work(self, job: Job) -> CallToolResult:
        from agent.journal import runs_root
        from agent.session import SessionOptions, run_session
        from handoffs.report import write_outputs

        self.progress = JournalProgress(job.emit)
        factory = self.options.target_factory
        if factory is not None:  # tests and embedders; otherwise the config names the target
            config = self.options.load_config(self.target, self.strategy)
            self.deploy_target = factory(config, self.options.workspace.resolve())
        result = await run_session(
            SessionOptions(
                description=self.description,
                workspace=self.options.workspace,
                approver=ElicitationApprover(job, self.options.approval_timeout_s),
                model=None,
                config_path=self.options.config_path,
                front_end="mcp",
                target=self.target,
                strategy=self.strategy,
                journal_listeners=[self.progress],
                deploy_target=self.deploy_target,
                verifier=self.options.verifier,
            )
        )
        job.emit("writing the report and the handoff packet")
        write_outputs(result.run_dir)
        deployment: dict[str, Any] = result.extras.get("deployment") or {}
        run_dir = runs_root(self.options.workspace.resolve()) / result.run_id
        output = DeployOutput(
            run_id=result.run_id,
            status=str(deployment.get("status") or result.status),
            run_status=result.status,
            stop_reason=result.stop_reason,
            summary=result.final_text or result.detail,
            model=result.model,
            version=deployment.get("version"),
            previous_version=deployment.get("previous_version"),
            strategy=deployment.get("strategy"),
            report_uri=run_uri(result.run_id, "report.md"),
            journal_uri=run_uri(result.run_id, "journal.jsonl"),
            handoff=handoff_suggestion(run_dir) if deployment.get("status") else None,
        )
        text = f"{output.status} · run {output.run_id}\n{output.summary}"
        if output.handoff is not None:
            text += f"\nSuggested next: {output.handoff.label} (not started)."
        return tool_result(output, text, run_links(run_dir))

    async def cleanup(self, job: Job) -> CallToolResult:
        """After a cancel: leave production on a verified version and journal it."""
        from agent.journal import runs_root
        from agent.mcp_server.safe_stop import stop_run_safely

        run_id = self.progress.run_id if self.progress is not None else None
        if run_id is None:
            return error_result(f"cancelled before the run started ({CANCELLED})")
        workspace = self.options.workspace.resolve()
        try:
            what = await stop_run_safely(
                runs_root(workspace) / run_id,
                workspace,
                self.options.load_config(self.target, self.strategy),
                CANCELLED,
                target=self.deploy_target,
            )
        except Exception as exc:  # say so rather than hide it: production may need a hand
            what = f"stopping safely failed: {type(exc).__name__}: {exc}"
        return error_result(f"run {run_id} cancelled ({CANCELLED}): {what}")
