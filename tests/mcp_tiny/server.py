"""A tiny MCP server shaped like the Azure MCP server, for the bridge's tests.

Run as `python tests/mcp_tiny/server.py [--stray-line]`. Its tools carry the annotations the
Azure server uses (read-only, destructive, neither, none at all); one asks for confirmation
through elicitation before returning a secret, one answers like a call without credentials,
one sleeps (timeouts), one kills the process (restarts). With `--stray-line` it first
writes a non-JSON line on stdout, as `@azure/mcp` sometimes does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Elicit, Resolve
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

server = MCPServer("tiny-azure")
READ = ToolAnnotations(read_only_hint=True, destructive_hint=False)


class Confirm(BaseModel):
    confirm: bool


def ask_to_reveal(name: str) -> Elicit[Confirm]:
    return Elicit(f"Reveal the value of secret {name}?", Confirm)


@server.tool(annotations=READ)
def group_list() -> str:
    """List resource groups."""
    return "rg-shop, rg-data"


@server.tool(annotations=READ)
def subscription_list() -> CallToolResult:
    """List subscriptions (fails like Azure MCP without credentials)."""
    body = {"status": 401, "message": "No credentials: run az login", "results": None}
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(body))], is_error=True)


@server.tool(annotations=READ)
def keyvault_secret_get(name: str, confirmed: Annotated[Confirm, Resolve(ask_to_reveal)]) -> str:
    """Read a secret after the user confirms."""
    return f"secret {name} = s3cr3t-value" if confirmed.confirm else "not revealed"


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def storage_account_delete(account: str) -> str:
    """Delete a storage account."""
    with open(os.environ["TINY_CALLS_FILE"], "a") as calls:
        calls.write(f"storage_account_delete {account}\n")
    return f"deleted {account}"


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
def appservice_restart(app: str) -> str:
    """Restart an app (changes state, destroys nothing)."""
    return f"restarted {app}"


@server.tool()
def mystery() -> str:
    """A tool without hints."""
    return "?"


@server.tool(annotations=READ)
def env_report() -> str:
    """Where the server runs: HOME and the telemetry switch."""
    return json.dumps(
        {
            "home": os.environ.get("HOME"),
            "telemetry": os.environ.get("AZURE_MCP_COLLECT_TELEMETRY"),
            "pid": os.getpid(),
        }
    )


@server.tool(annotations=READ)
def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return "awake"


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
def crash() -> str:
    """Kill the server process."""
    os._exit(3)


@server.tool(annotations=READ)
def flaky_read() -> str:
    """Kill the server on the first call of the test, answer on the next ones."""
    marker = os.environ["TINY_CALLS_FILE"] + ".flaky"
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)
    return "read after restart"


if __name__ == "__main__":
    if "--stray-line" in sys.argv:
        sys.stdout.write("No X display available, skipping browser credential\n")
        sys.stdout.flush()
    server.run("stdio")
