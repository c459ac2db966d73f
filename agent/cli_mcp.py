"""CLI commands for VS Code: `hotfix mcp` (the MCP server) and `hotfix init`.

Registered on `agent.cli.app` when `agent.cli` imports this module. `hotfix mcp` writes
nothing to stdout itself: on stdio that stream belongs to the protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent.cli import (
    EXIT_OK,
    ConfigOpt,
    JsonOpt,
    WorkspaceOpt,
    _emit_json,  # pyright: ignore[reportPrivateUsage]
    _fail,  # pyright: ignore[reportPrivateUsage]
    app,
)


@app.command("mcp")
def mcp_command(
    workspace: WorkspaceOpt = Path("."),
    config: ConfigOpt = None,
    transport: Annotated[
        str, typer.Option("--transport", help="stdio (what VS Code starts) or http.")
    ] = "stdio",
    port: Annotated[
        int | None, typer.Option("--port", help="Port on 127.0.0.1 for --transport http.")
    ] = None,
    approval_timeout: Annotated[
        float,
        typer.Option("--approval-timeout", help="Seconds an approval form waits before denying."),
    ] = 300.0,
) -> None:
    """Serve the hotfix prompts, tools and resources over MCP (for VS Code chat)."""
    if transport not in ("stdio", "http"):
        raise _fail(f"--transport must be stdio or http, not {transport!r}", False)
    if transport == "http" and port is None:
        raise _fail("--transport http needs --port N", False)
    from agent.mcp_server.entry import run_mcp

    run_mcp(workspace, config, transport, port, approval_timeout)


@app.command("init")
def init_command(
    workspace: WorkspaceOpt = Path("."),
    azure: Annotated[
        bool | None,
        typer.Option(
            "--azure/--no-azure",
            help="Also configure the Azure MCP server (azure/*); default: as the last init.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files even if they were edited.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set this repository up for VS Code: mcp.json, agent files, a starter hotfix.toml."""
    from agent.mcp_server.init import init_workspace

    if not workspace.is_dir():
        raise _fail(f"{workspace} is not a directory", as_json)
    result = init_workspace(workspace, azure=azure, force=force)
    if as_json:
        _emit_json(result.to_json())
        raise typer.Exit(EXIT_OK)
    console = Console()
    for name, action in result.files.items():
        colour = {"kept": "yellow", "unchanged": "dim"}.get(action, "green")
        console.print(f"[{colour}]{action:>11}[/]  {name}", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(
        "Next: open the folder in VS Code, start the `hotfix` server (MCP: List Servers), "
        "pick the Hotfix Deployment agent, and type /mcp.hotfix.deploy <description>.",
        highlight=False,
    )
