"""A front door for the `hotfix` console script that starts `hotfix mcp` quickly.

VS Code starts the MCP server often, and the full CLI (typer, rich, the gate's rule engine)
costs about as much again as a sixth of the MCP SDK's own import. `main` serves `hotfix mcp`
straight from here and hands every other command (and `hotfix mcp --help`) to `agent.cli`.
The options match the `mcp` command of `agent.cli_mcp`, which calls `run_mcp` too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run_mcp(
    workspace: Path,
    config: Path | None = None,
    transport: str = "stdio",
    port: int | None = None,
    approval_timeout_s: float = 300.0,
) -> None:
    """Build the server for `workspace` and serve it until the client goes away."""
    from agent.mcp_server.options import ServerOptions
    from agent.mcp_server.server import build_server
    from agent.mcp_server.transport import serve

    options = ServerOptions(
        workspace=workspace.resolve(), config_path=config, approval_timeout_s=approval_timeout_s
    )
    try:
        serve(build_server(options), "http" if transport == "http" else "stdio", port)
    except KeyboardInterrupt:
        return


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotfix mcp", add_help=False)
    parser.add_argument("--workspace", "-w", type=Path, default=Path("."))
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--approval-timeout", type=float, default=300.0)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: `hotfix mcp ...` here, anything else in `agent.cli`."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["mcp"] and not {"-h", "--help"} & set(args):
        options, unknown = _parser().parse_known_args(args[1:])
        if not unknown and (options.transport == "stdio" or options.port is not None):
            run_mcp(options.workspace, options.config, options.transport, options.port,
                    options.approval_timeout)  # fmt: skip
            return
    from agent.cli import main as cli_main  # errors and help come from the full CLI

    cli_main()
