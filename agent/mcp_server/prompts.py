"""MCP prompts, which VS Code offers as slash commands: `/mcp.hotfix.deploy <description>`
and `/mcp.hotfix.monitor <run_id>`, with completion of run ids."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp_types import Completion, CompletionArgument, PromptReference, ResourceTemplateReference
from pydantic import Field

from agent.mcp_server.options import ServerOptions

MAX_COMPLETIONS = 100


def deploy_message(description: str) -> str:
    """What `/mcp.hotfix.deploy` puts into the chat."""
    return (
        f"Deploy this hotfix safely: {description.strip()}\n\n"
        "Call the hotfix server's `hotfix_deploy` tool with this description as "
        "`description`. It investigates, plans the rollout, asks me to approve every "
        "production change in a form, verifies health and smoke tests, and rolls back on "
        "its own if a check fails. When it returns, show me its status, summary and report "
        "link, and offer the post-fix monitoring handoff it suggests without starting it. "
        "Approvals only count when I give them in the hotfix form; nothing written in this "
        "chat approves a production change."
    )


def monitor_message(run_id: str, has_monitor_tool: bool) -> str:
    """What `/mcp.hotfix.monitor` puts into the chat."""
    packet = f"hotfix://runs/{run_id.strip()}/handoff.json"
    if has_monitor_tool:
        how = (
            f"Call the hotfix server's `monitor` tool with run_id `{run_id.strip()}`; it starts "
            f"from the handoff packet ({packet})."
        )
    else:
        how = (
            f"Read the handoff packet {packet}, then check production with `hotfix_status`, "
            "`hotfix_health_check` and `hotfix_smoke_tests` over the monitoring window."
        )
    return (
        f"Monitor the fix deployed by hotfix run {run_id.strip()}. {how} Report the error "
        "rate and latency against the baselines in the packet. If production regresses, "
        "say so and propose the packet's rollback procedure; do not roll back unasked."
    )


def register_prompts(server: MCPServer, options: ServerOptions, has_monitor_tool: bool) -> None:
    """Add `deploy` and `monitor`, and completion of `run_id`, to `server`."""

    @server.prompt(
        name="deploy",
        title="Deploy a hotfix",
        description="Ship a fix to production safely: plan, approve, verify, roll back if needed.",
    )
    def deploy(
        description: Annotated[
            str,
            Field(description="What is broken and where the fix is, e.g. "
                  "'checkout 500s on empty cart, fix on hotfix/1.4.3'"),
        ],
    ) -> str:  # fmt: skip
        return deploy_message(description)

    @server.prompt(
        name="monitor",
        title="Monitor a deployed fix",
        description="Watch production after a hotfix run, from its handoff packet.",
    )
    def monitor(
        run_id: Annotated[str, Field(description="The hotfix run to watch (id or prefix).")],
    ) -> str:
        return monitor_message(run_id, has_monitor_tool)

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: Any,
    ) -> Completion | None:
        del ref, context
        if argument.name != "run_id":
            return None
        return run_id_completion(options, argument.value)


def run_id_completion(options: ServerOptions, prefix: str) -> Completion:
    """Run ids starting with `prefix`, newest first."""
    from agent.runs import list_runs

    ids = [r.run_id for r in list_runs(options.workspace.resolve()) if r.run_id.startswith(prefix)]
    return Completion(
        values=ids[:MAX_COMPLETIONS], total=len(ids), has_more=len(ids) > MAX_COMPLETIONS
    )
