"""One running MCP server: started as a child process, supervised, restarted, timed out.

The `mcp.Client` lives in a supervisor task (its task groups must be entered and left in
one task); calls come from the agent's tasks. One call runs at a time, so an elicitation
the server sends always belongs to the call in flight, and is answered by that call's
handler (the gate). A server that dies is started again on the next call, at most
`max_restarts` times; a call that was in flight when it died is reported, not retried,
unless it was read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.mcp_bridge.settings import McpServerConfig

if TYPE_CHECKING:
    from mcp import Client
    from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, Tool

ElicitHandler = Callable[["ElicitRequestParams"], Awaitable["ElicitResult"]]

TELEMETRY_OFF = {
    "AZURE_MCP_COLLECT_TELEMETRY": "false",
    "AZURE_MCP_COLLECT_TELEMETRY_MICROSOFT": "false",
}

_CONNECTION_CLOSED = -32000
_REQUEST_TIMEOUT = -32001


class BridgeError(Exception):
    """The server could not be started, died too often, or a call failed at the transport."""


class ServerDied(BridgeError):
    """The server process went away during a call."""


class _StrayLineFilter(logging.Filter):
    """Counts (and hides) the parse errors a non-JSON line on the server's stdout causes."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Failed to parse JSONRPC message"):
            self.count += 1
            return False
        return True


_STRAY_LINES = _StrayLineFilter()
logging.getLogger("mcp.client.stdio").addFilter(_STRAY_LINES)


def stray_lines_seen() -> int:
    """Non-protocol lines MCP servers wrote on stdout so far (`@azure/mcp` does)."""
    return _STRAY_LINES.count


def server_environment(
    config: McpServerConfig, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """What the child gets on top of mcp's safe defaults: its HOME, passed and own variables.

    HOME is isolated (the Azure server unpacks ~40 MB into `$HOME/.net`); the Azure CLI's
    login stays reachable through `AZURE_CONFIG_DIR`. Azure MCP telemetry is off, both
    streams: with only `AZURE_MCP_COLLECT_TELEMETRY=false`, `@azure/mcp` 2.0.5 still looks up
    `*.in.applicationinsights.azure.com` and probes IMDS (169.254.169.254) for its Microsoft
    stream (seen with strace); `AZURE_MCP_COLLECT_TELEMETRY_MICROSOFT=false` stops both.
    """
    env = os.environ if environ is None else environ
    out = {k: v for k, v in env.items() if any(fnmatch.fnmatchcase(k, p) for p in config.pass_env)}
    home = config.home_path()
    real_home = env.get("HOME") or str(Path.home())
    out.setdefault("AZURE_CONFIG_DIR", str(Path(real_home) / ".azure"))
    out["HOME"] = str(home)
    out.update(TELEMETRY_OFF)  # a config's `env` may say otherwise
    out.update(config.env)
    return out


class ServerConnection:
    """A supervised connection to one MCP server over stdio."""

    def __init__(self, config: McpServerConfig, *, cwd: Path | None = None) -> None:
        self.config = config
        self.cwd = cwd
        self.restarts = 0
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._failure: BaseException | None = None
        self._lock = asyncio.Lock()
        self._elicit: ElicitHandler | None = None

    @property
    def alive(self) -> bool:
        return self._client is not None and self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Spawn the server and complete the MCP handshake.

        Raises:
            BridgeError: It did not start or answer within `startup_timeout_s`.
        """
        home = self.config.home_path()
        await asyncio.to_thread(home.mkdir, parents=True, exist_ok=True)
        ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._failure = None
        self._task = asyncio.create_task(self._supervise(ready), name=f"mcp {self.config.name}")
        try:
            await asyncio.wait_for(ready.wait(), self.config.startup_timeout_s)
        except TimeoutError:
            await self.aclose()
            raise BridgeError(
                f"MCP server {self.config.name} did not answer within "
                f"{self.config.startup_timeout_s:g}s ({' '.join(self.config.command)})"
            ) from None
        if self._client is None:
            reason = self._failure
            raise BridgeError(
                f"MCP server {self.config.name} could not be started "
                f"({' '.join(self.config.command)}): {type(reason).__name__}: {reason}"
            )

    async def _supervise(self, ready: asyncio.Event) -> None:
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        program, *args = self.config.command
        params = StdioServerParameters(
            command=program, args=args, env=server_environment(self.config), cwd=self.cwd
        )
        # The server's stderr goes to a log beside its HOME, not over our terminal.
        path = self.config.home_path().parent / "server.log"
        try:
            log = await asyncio.to_thread(path.open, "a", encoding="utf-8")
            with log:
                await self._run_client(stdio_client(params, errlog=log), ready)
        except Exception as exc:  # reported by start() or the next call
            self._failure = exc
        finally:
            self._client = None
            ready.set()

    async def _run_client(self, transport: Any, ready: asyncio.Event) -> None:
        from mcp import Client
        from mcp.types import Implementation

        async with Client(
            transport,
            elicitation_callback=self._on_elicit,
            client_info=Implementation(name="hotfix-agent", version="0.1.0"),
            cache=None,
        ) as client:
            self._client = client
            ready.set()
            await self._stop.wait()

    async def _on_elicit(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        from mcp.types import ElicitResult

        if self._elicit is None:  # nobody to ask: fail closed
            return ElicitResult(action="decline")
        return await self._elicit(params)

    async def list_tools(self) -> list[Tool]:
        """Every tool the server offers (all pages)."""
        client = await self._connected()
        tools: list[Tool] = []
        cursor: str | None = None
        for _ in range(100):
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        on_elicit: ElicitHandler | None = None,
        retry_if_died: bool = False,
    ) -> CallToolResult:
        """Call tool `name`; elicitations during the call go to `on_elicit`.

        Raises:
            BridgeError: Timeout, transport failure, or the server died (`ServerDied`).
        """
        from mcp import MCPError

        async with self._lock:
            for attempt in (1, 2):
                client = await self._connected()
                self._elicit = on_elicit
                try:
                    return await client.call_tool(
                        name, arguments, read_timeout_seconds=self.config.call_timeout_s
                    )
                except MCPError as exc:
                    if exc.code == _REQUEST_TIMEOUT:
                        raise BridgeError(
                            f"{self.config.name}/{name} did not answer within "
                            f"{self.config.call_timeout_s:g}s"
                        ) from exc
                    if exc.code != _CONNECTION_CLOSED:
                        raise BridgeError(f"{self.config.name}/{name}: {exc.message}") from exc
                    await self._stop_client()
                    if not retry_if_died or attempt == 2:
                        raise ServerDied(
                            f"MCP server {self.config.name} died during {name}; it will be "
                            "restarted on the next call (the call may or may not have run)"
                        ) from exc
                finally:
                    self._elicit = None
        raise AssertionError("unreachable")

    async def _connected(self) -> Client:
        if not self.alive:
            if self._task is not None:
                if self.restarts >= self.config.max_restarts:
                    raise BridgeError(
                        f"MCP server {self.config.name} stopped after {self.restarts} "
                        "restart(s); not restarting it again in this run"
                    )
                self.restarts += 1
                await self._stop_client()
            await self.start()
        assert self._client is not None
        return self._client

    async def _stop_client(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 10.0)

    async def aclose(self) -> None:
        """Stop the server process."""
        await self._stop_client()
        self._task = None
