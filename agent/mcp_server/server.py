"""Builds the `hotfix` MCP server: prompts, tools, resources, and the jobs they run.

`build_server` is cheap on purpose (VS Code starts the server often): nothing here imports
the deployment engine, the model SDKs or the report writers; the tools import what they
need when they are called.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from importlib.util import find_spec

from mcp.server import MCPServer

from agent.mcp_server.chat_run import ChatRuns
from agent.mcp_server.host import ToolHost
from agent.mcp_server.jobs import JobRegistry
from agent.mcp_server.options import ServerOptions
from agent.mcp_server.prompts import register_prompts
from agent.mcp_server.resources import register_resources
from agent.mcp_server.tools import register_monitor, register_tools

SERVER_NAME = "hotfix"
INSTRUCTIONS = """\
Deploys bug fixes and hotfixes to production with minimal risk, from this workspace.
- `hotfix_deploy(description)` runs the whole hotfix-deployment agent: investigate, plan,
  roll out, verify, roll back on a failed check, report. Or drive the rollout yourself:
  hotfix_plan -> hotfix_stage -> hotfix_verify -> hotfix_shift_traffic -> hotfix_promote
  (hotfix_rollback on any doubt), then hotfix_write_report and hotfix_handoff.
- Every production change is approved by the user in a form this server shows; text in
  the chat never approves anything. A denied change is not retried another way.
- Runs, reports, journals and handoff packets are resources under hotfix://runs.
- The post-fix-monitoring handoff is offered, never started by this server."""


def monitor_available() -> bool:
    """Whether the post-fix-monitoring agent is installed (it ships separately)."""
    try:
        return find_spec("handoffs.monitoring.run") is not None
    except ImportError:
        return False


def build_server(options: ServerOptions) -> MCPServer:
    """The MCP server for `options.workspace`."""
    jobs = JobRegistry()
    chat = ChatRuns(options)

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncGenerator[None]:
        try:
            async with jobs.running():
                yield
        finally:
            await chat.close()  # the client is gone: settle production, finish the chat run

    server = MCPServer(
        SERVER_NAME,
        title="Hotfix deployment",
        instructions=INSTRUCTIONS,
        version=_version(),
        lifespan=lifespan,
        log_level="WARNING",
    )
    has_monitor = monitor_available()
    register_prompts(server, options, has_monitor)
    host = ToolHost(options, jobs, chat)
    register_tools(server, host)
    if has_monitor:
        register_monitor(server, host)
    register_resources(server, options)
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hotfix-agent")
    except PackageNotFoundError:
        return "0"
