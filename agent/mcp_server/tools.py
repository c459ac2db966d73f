"""The MCP tools: `hotfix_deploy` (the whole agent loop) and the granular deployment tools.

Annotations say honestly what each tool can do; the gate decides what actually runs (hints
are advice to the client, never a safety mechanism). Every tool returns structured content.
The handlers are spelled out here rather than generated from the deployment tools' argument
models so that starting the server does not import the deployment engine;
`tests/test_mcp_server.py` checks that the two stay the same.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import Field

from agent.mcp_server.deploy_run import DeployRun
from agent.mcp_server.host import ToolHost
from agent.mcp_server.monitor_run import MonitorOutput, MonitorRun
from agent.mcp_server.outputs import DeployOutput, ToolOutcome

Deployed = Annotated[CallToolResult, DeployOutput] | InputRequiredResult
Outcome = Annotated[CallToolResult, ToolOutcome] | InputRequiredResult
Monitored = Annotated[CallToolResult, MonitorOutput] | InputRequiredResult

Ref = Annotated[str, Field(description="Git ref of the fix, e.g. `hotfix/1.4.3` or a SHA.")]
Strategy = Annotated[
    str | None,
    Field(description="blue-green, canary, rolling or feature-flag; default from the config."),
]
Label = Annotated[str, Field(description="Exact version label, as returned by hotfix_stage.")]
ProbeLabel = Annotated[
    str | None,
    Field(description="A staged version's label; omit to check production through its URL."),
]
RunId = Annotated[
    str | None, Field(description="A run id (or unique prefix); omit for this chat's run.")
]


def _hints(
    title: str, *, read_only: bool, destructive: bool = False, idempotent: bool = True,
    open_world: bool = True,
) -> ToolAnnotations:  # fmt: skip
    return ToolAnnotations(
        title=title, read_only_hint=read_only, destructive_hint=destructive,
        idempotent_hint=idempotent, open_world_hint=open_world,
    )  # fmt: skip


def register_tools(server: MCPServer, host: ToolHost) -> None:
    """Add every tool to `server`."""

    @server.tool(
        name="hotfix_deploy",
        description=(
            "Deploy a hotfix end to end from a description of the problem and where the fix "
            "is: investigate, check, plan, roll out with the configured strategy, verify, and "
            "roll back automatically if a check fails. Every production change asks the user "
            "in a form. Returns the outcome, links to the report and journal, and the "
            "post-fix-monitoring handoff as a suggestion (never started). Long: progress is "
            "reported at every step."
        ),
        annotations=_hints("Deploy a hotfix", read_only=False, destructive=True, idempotent=False),
    )
    async def hotfix_deploy(
        description: Annotated[
            str, Field(description="What is broken and where the fix is (branch, tag or SHA).")
        ],
        ctx: Context,
        target: Annotated[
            str | None, Field(description="Deployment target; default from hotfix.toml.")
        ] = None,
        strategy: Strategy = None,
    ) -> Deployed:
        run = DeployRun(host.options, description, target, strategy)
        return await host.run(ctx, "hotfix_deploy", run.work, run.cleanup)

    @server.tool(
        name="hotfix_status",
        description="Show the deployment target now: versions, traffic weights, and what this "
        "chat's run has staged, verified, promoted or rolled back. No side effects.",
        annotations=_hints("Deployment status", read_only=True),
    )
    async def hotfix_status(ctx: Context) -> Outcome:
        return await host.granular(ctx, "hotfix_status", {})

    @server.tool(
        name="hotfix_plan",
        description="Plan a rollout without changing anything: the strategy's steps and the "
        "exact rollback procedure.",
        annotations=_hints("Plan a rollout", read_only=True),
    )
    async def hotfix_plan(version_ref: Ref, ctx: Context, strategy: Strategy = None) -> Outcome:
        return await host.granular(ctx, "hotfix_plan",
                                   {"version_ref": version_ref, "strategy": strategy})  # fmt: skip

    @server.tool(
        name="hotfix_predeploy",
        description="Prepare the fix on a clean checkout of its ref: tests, build and package, "
        "secret scan and dependency audit, config validation, database backup and migrations, "
        "git tag (the configured steps only; asks for approval). Run it before hotfix_stage.",
        annotations=_hints(
            "Pre-deployment checks", read_only=False, destructive=True, idempotent=False
        ),
    )
    async def hotfix_predeploy(
        version_ref: Ref,
        ctx: Context,
        label: Annotated[
            str | None, Field(description="Version label; derived from the ref.")
        ] = None,
        base_ref: Annotated[
            str | None,
            Field(description="What the fix branched from, for the secret scan of its diff."),
        ] = None,
    ) -> Outcome:
        args = {"version_ref": version_ref, "label": label, "base_ref": base_ref}
        return await host.granular(ctx, "hotfix_predeploy", args)

    @server.tool(
        name="hotfix_health_check",
        description="Run the health check once against production or a staged version. A "
        "probe: records no verdict.",
        annotations=_hints("Health check", read_only=True),
    )
    async def hotfix_health_check(ctx: Context, label: ProbeLabel = None) -> Outcome:
        return await host.granular(ctx, "hotfix_health_check", {"label": label})

    @server.tool(
        name="hotfix_smoke_tests",
        description="Run the smoke tests once against production or a staged version. A "
        "probe: records no verdict.",
        annotations=_hints("Smoke tests", read_only=True),
    )
    async def hotfix_smoke_tests(ctx: Context, label: ProbeLabel = None) -> Outcome:
        return await host.granular(ctx, "hotfix_smoke_tests", {"label": label})

    @server.tool(
        name="hotfix_stage",
        description="Start the fix's version beside production with no production traffic "
        "(asks for approval). Returns its label and URL. Next: hotfix_verify.",
        annotations=_hints("Stage a version", read_only=False),
    )
    async def hotfix_stage(
        version_ref: Ref,
        ctx: Context,
        label: Annotated[
            str | None, Field(description="Version label; derived from the ref.")
        ] = None,
    ) -> Outcome:
        return await host.granular(ctx, "hotfix_stage",
                                   {"version_ref": version_ref, "label": label})  # fmt: skip

    @server.tool(
        name="hotfix_verify",
        description="Health check and smoke tests on a staged version's own URL; the passing "
        "verdict that traffic requires. A failure is final for that version and removes it.",
        annotations=_hints("Verify a version", read_only=False),
    )
    async def hotfix_verify(label: Label, ctx: Context) -> Outcome:
        return await host.granular(ctx, "hotfix_verify", {"label": label})

    @server.tool(
        name="hotfix_shift_traffic",
        description="Give a verified version `percent` % of production traffic, then judge it; "
        "a failed check rolls back at once. Production change: always asks for approval.",
        annotations=_hints("Shift production traffic", read_only=False, destructive=True),
    )
    async def hotfix_shift_traffic(
        label: Label,
        percent: Annotated[int, Field(ge=1, le=100, description="Share of traffic, 1-100.")],
        ctx: Context,
    ) -> Outcome:
        return await host.granular(ctx, "hotfix_shift_traffic",
                                   {"label": label, "percent": percent})  # fmt: skip

    @server.tool(
        name="hotfix_promote",
        description="Make a verified version the production version and retire the previous "
        "one. Production change: always asks for approval.",
        annotations=_hints("Promote to production", read_only=False, destructive=True),
    )
    async def hotfix_promote(label: Label, ctx: Context) -> Outcome:
        return await host.granular(ctx, "hotfix_promote", {"label": label})

    @server.tool(
        name="hotfix_rollback",
        description="Restore production traffic as it was before this chat's run and verify "
        "production health. Production change: asks for approval. Safe to repeat.",
        annotations=_hints("Roll back production", read_only=False, destructive=True),
    )
    async def hotfix_rollback(
        reason: Annotated[str, Field(min_length=1, description="Why production is rolled back.")],
        ctx: Context,
    ) -> Outcome:
        return await host.granular(ctx, "hotfix_rollback", {"reason": reason})

    @server.tool(
        name="hotfix_write_report",
        description="Write a run's deployment report (Markdown, HTML, JSON) from its journal "
        "and link it. Writes only into the run's own directory.",
        annotations=_hints("Write the report", read_only=False, open_world=False),
    )
    async def hotfix_write_report(ctx: Context, run_id: RunId = None) -> Outcome:
        return await host.granular(ctx, "hotfix_write_report", {"run_id": run_id})

    @server.tool(
        name="hotfix_handoff",
        description="Write a run's handoff packet for post-fix monitoring and return it as a "
        "suggestion to offer the user; it never starts the monitoring agent.",
        annotations=_hints("Hand off to monitoring", read_only=False, open_world=False),
    )
    async def hotfix_handoff(ctx: Context, run_id: RunId = None) -> Outcome:
        return await host.granular(ctx, "hotfix_handoff", {"run_id": run_id})


def register_monitor(server: MCPServer, host: ToolHost) -> None:
    """Add `monitor`: the post-fix-monitoring agent on a run's handoff packet."""

    @server.tool(
        name="monitor",
        description=(
            "Watch production after a hotfix run, starting from its handoff packet: sample "
            "error rate and latency against the baselines for the monitoring window. On a "
            "regression it proposes a rollback, which runs only if the user approves the form."
        ),
        annotations=_hints(
            "Monitor a deployed fix", read_only=False, destructive=True, idempotent=False
        ),
    )
    async def monitor(
        run_id: Annotated[str, Field(description="The deployment run to watch (id or prefix).")],
        ctx: Context,
        duration: Annotated[
            str | None,
            Field(description="How long to watch, e.g. 10m or 90s (default: the packet's)."),
        ] = None,
    ) -> Monitored:
        run = MonitorRun(host.options, run_id, duration)
        return await host.run(ctx, "monitor", run.work, run.cleanup)
