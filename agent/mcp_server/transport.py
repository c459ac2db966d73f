"""Serving the MCP server: stdio (what VS Code starts), or streamable HTTP on loopback.

On stdio, stdout is the protocol stream: while serving, the SDK points file descriptor 1
at stderr (and 0 at /dev/null), so stray prints and child processes cannot corrupt it; our
own diagnostics go to stderr. Over HTTP the server listens on 127.0.0.1 only and checks
the Host and Origin headers (DNS-rebinding protection), so a web page cannot reach it
through a hostile DNS name.
"""

from __future__ import annotations

import sys
from typing import Literal

import anyio
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

HOST = "127.0.0.1"
MCP_PATH = "/mcp"
Transport = Literal["stdio", "http"]


def http_security(port: int) -> TransportSecuritySettings:
    """Only this loopback port's own names are acceptable as Host or Origin."""
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"127.0.0.1:{port}", f"localhost:{port}"],
        allowed_origins=[f"http://127.0.0.1:{port}", f"http://localhost:{port}"],
    )


async def serve_http(server: MCPServer, port: int) -> None:
    """Serve streamable HTTP on `http://127.0.0.1:<port>/mcp` until cancelled."""
    import uvicorn

    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, transport_security=http_security(port), host=HOST
    )
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on")
    sys.stderr.write(f"hotfix MCP server on http://{HOST}:{port}{MCP_PATH}\n")
    await uvicorn.Server(config).serve()


def serve(server: MCPServer, transport: Transport = "stdio", port: int | None = None) -> None:
    """Run `server` until the client goes away (stdio) or the process is stopped (http)."""
    if transport == "stdio":
        anyio.run(server.run_stdio_async)
        return
    if port is None:
        raise ValueError("--transport http needs --port")
    anyio.run(serve_http, server, port)
