"""`monitor`: the post-fix-monitoring agent, started by the user from a run's handoff packet.

The same `run_monitor` as `hotfix monitor`: it watches production against the packet's
baselines and, on a regression, rolls back only after the user approves the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from agent.mcp_server.approvals import ElicitationApprover
from agent.mcp_server.jobs import CANCELLED, Job, error_result
from agent.mcp_server.options import ServerOptions
from agent.mcp_server.outputs import HandoffSuggestion, run_links, run_uri, tool_result


class MonitorOutput(BaseModel):
    """What `monitor` returns."""

    run_id: str = Field(description="The monitoring run.")
    monitored_run: str
    status: str = Field(description="healthy, rolled_back, rollback_recommended, ...")
    version: str | None = None
    samples: int
    regression: list[str]
    recommendations: list[str]
    summary: str
    report_uri: str
    journal_uri: str
    next: HandoffSuggestion | None = None


def _describe(kind: str, data: dict[str, Any]) -> str | None:
    if kind == "tool_requested":
        return f"calling {data.get('tool')}"
    if kind == "tool_finished":
        summary = str(data.get("summary") or "").splitlines()
        return f"{data.get('tool')} {data.get('status')}" + (f": {summary[0]}" if summary else "")
    if kind == "model_turn":
        return f"turn {data.get('turn')}"
    return None


@dataclass
class MonitorRun:
    """One `monitor` call."""

    options: ServerOptions
    run_id: str
    duration: str | None = None

    async def work(self, job: Job) -> CallToolResult:
        from agent.cli_monitor import parse_duration
        from handoffs.monitoring.run import MonitorError, MonitorOptions, run_monitor

        try:
            duration_s = parse_duration(self.duration) if self.duration else None
        except Exception as exc:
            return error_result(str(exc))

        def on_event(kind: str, data: dict[str, Any]) -> None:
            message = _describe(kind, data)
            if message is not None:
                job.emit(message)

        workspace = self.options.workspace.resolve()
        factory = self.options.target_factory
        target = factory(self.options.load_config(), workspace) if factory else None
        try:
            result = await run_monitor(MonitorOptions(
                run=self.run_id, workspace=workspace,
                approver=ElicitationApprover(job, self.options.approval_timeout_s),
                duration_s=duration_s, front_end="mcp", on_event=on_event,
                target=target, verifier=self.options.verifier,
            ))  # fmt: skip
        except MonitorError as exc:
            return error_result(str(exc))
        doc = result.to_json()
        nxt: dict[str, Any] = doc.get("next_agent") or {}
        run_id = str(doc["run_id"])
        output = MonitorOutput(
            run_id=run_id, monitored_run=str(doc["monitored_run"]), status=str(doc["status"]),
            version=doc.get("version"), samples=int(doc.get("samples") or 0),
            regression=list(doc.get("regression") or []),
            recommendations=list(doc.get("recommendations") or []),
            summary=str(doc.get("summary") or ""), report_uri=run_uri(run_id, "report.md"),
            journal_uri=run_uri(run_id, "journal.jsonl"),
            next=HandoffSuggestion(label=str(nxt.get("label")), agent=str(nxt.get("agent")),
                                   prompt=str(nxt.get("prompt") or ""),
                                   packet_uri=run_uri(run_id, "handoff.json")) if nxt else None,
        )  # fmt: skip
        text = f"{output.status} · monitoring run {run_id} of {output.monitored_run}"
        text += "\n" + output.summary if output.summary else ""
        return tool_result(output, text, run_links(result.run.run_dir))

    async def cleanup(self, job: Job) -> CallToolResult:
        del job
        return error_result(
            f"monitoring of {self.run_id} cancelled ({CANCELLED}); if it had started a "
            f"rollback, `hotfix rollback {self.run_id}` finishes it"
        )
