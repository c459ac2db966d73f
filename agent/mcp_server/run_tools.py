"""Tools the granular MCP surface adds to the `hotfix_*` deployment tools.

Health check and smoke tests on their own (read-only probes that record no verdict; the
verdict that gates traffic is `hotfix_verify`), and the report and handoff of a run,
derived from its journal. They live here, not in the registry, because only a chat model
driving the rollout through MCP needs them; they go through the same gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolError, ToolResult
from tools.deploy.tools import DeploySession


class ProbeArgs(ToolArgs):
    label: str | None = Field(
        default=None,
        description="A staged version's label; omit to check production through its URL.",
    )


class RunArgs(ToolArgs):
    run_id: str | None = Field(
        default=None, description="A run id (or unique prefix); omit for this chat's run."
    )


class _RunTool(Tool):
    source: ClassVar[str] = "hotfix"
    concurrent_safe: ClassVar[bool] = False


async def _target_url(ctx: ToolContext, label: str | None) -> tuple[str, Path | None]:
    session = ctx.extras.get("deploy")
    if not isinstance(session, DeploySession):
        raise ToolError("no deployment target is set up for this run")
    state = await session.engine.target.state()
    if label is None:
        return state.production_url, None
    version = state.versions.get(label)
    if version is None:
        raise ToolError(f"{label} is not running on {session.engine.target.name}")
    details: dict[str, Any] = version.details
    workdir = next((details[k] for k in ("worktree", "workdir", "path") if details.get(k)), None)
    return version.url, Path(str(workdir)) if workdir else None


def _verifier(ctx: ToolContext) -> Any:
    session: DeploySession = ctx.extras["deploy"]
    return session.engine.verifier


class HotfixHealthCheck(_RunTool):
    name = "hotfix_health_check"
    description = (
        "Run the configured health check once against production, or a staged version's own "
        "URL. A probe only: it records no verdict (hotfix_verify does that)."
    )
    args_model = ProbeArgs
    effect = Effect.READ

    async def run(self, args: ProbeArgs, ctx: ToolContext) -> ToolResult:
        url, _ = await _target_url(ctx, args.label)
        check: dict[str, Any] = await _verifier(ctx).health(url)
        verdict = "passed" if check.get("passed") else "FAILED"
        return ToolResult(f"health check of {args.label or 'production'} {verdict}", check)


class HotfixSmokeTests(_RunTool):
    name = "hotfix_smoke_tests"
    description = (
        "Run the configured smoke tests once against production, or a staged version's own "
        "URL. A probe only: it records no verdict (hotfix_verify does that)."
    )
    args_model = ProbeArgs
    effect = Effect.READ

    async def run(self, args: ProbeArgs, ctx: ToolContext) -> ToolResult:
        url, workdir = await _target_url(ctx, args.label)
        results: list[dict[str, Any]] = await _verifier(ctx).smoke(url, workdir)
        failed = [str(r.get("name")) for r in results if not r.get("passed")]
        text = f"{len(results) - len(failed)} of {len(results)} smoke tests passed"
        if failed:
            text += "; failed: " + ", ".join(failed)
        return ToolResult(text, {"results": results, "passed": not failed})


def _run_dir(ctx: ToolContext, run_id: str | None) -> Path:
    from agent.journal import runs_root
    from agent.runs import find_run

    if run_id is None:
        if ctx.run_id is None:
            raise ToolError("no run yet in this chat; name one with run_id")
        return runs_root(ctx.workspace) / ctx.run_id
    try:
        return find_run(ctx.workspace, run_id)
    except LookupError as exc:
        raise ToolError(str(exc)) from None


# The next two write only documents derived from a journal into that run's own directory,
# which the journal already occupies: bookkeeping of the harness, so the gate treats them as
# reads (no approval), while their MCP annotations say honestly that they write files.
class HotfixWriteReport(_RunTool):
    name = "hotfix_write_report"
    description = (
        "Write the run's deployment report (report.md, report.html, report.json) from its "
        "journal and return where it is. Nothing outside the run's directory changes."
    )
    args_model = RunArgs
    effect = Effect.READ

    async def run(self, args: RunArgs, ctx: ToolContext) -> ToolResult:
        from handoffs.report import write_outputs

        run_dir = _run_dir(ctx, args.run_id)
        paths = write_outputs(run_dir)
        data = {"run_id": run_dir.name, "markdown": str(paths.markdown), "html": str(paths.html),
                "json": str(paths.json)}  # fmt: skip
        return ToolResult(f"report of run {run_dir.name}: {paths.markdown}", data)


class HotfixHandoff(_RunTool):
    name = "hotfix_handoff"
    description = (
        "Write the run's handoff packet for the post-fix-monitoring agent and return it as a "
        "suggestion. It never starts the monitoring agent: offer it to the user."
    )
    args_model = RunArgs
    effect = Effect.READ

    async def run(self, args: RunArgs, ctx: ToolContext) -> ToolResult:
        from agent.mcp_server.outputs import handoff_suggestion
        from handoffs.report import write_outputs

        run_dir = _run_dir(ctx, args.run_id)
        write_outputs(run_dir)
        suggestion = handoff_suggestion(run_dir)
        if suggestion is None:
            raise ToolError(f"run {run_dir.name} has no handoff packet")
        text = f"handoff ready: {suggestion.label} → {suggestion.agent} (not started). " + (
            suggestion.prompt
        )
        return ToolResult(text, {"run_id": run_dir.name, **suggestion.model_dump(mode="json")})


RUN_TOOLS: tuple[type[Tool], ...] = (
    HotfixHealthCheck,
    HotfixSmokeTests,
    HotfixWriteReport,
    HotfixHandoff,
)
