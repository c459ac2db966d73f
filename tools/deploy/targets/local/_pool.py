"""One upstream version as the router sees it: address, keep-alive pool, in-flight count."""

from __future__ import annotations

import asyncio
import contextlib

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Upstream:
    """A version process reachable at host:port, with idle keep-alive connections to it."""

    def __init__(self, label: str, host: str, port: int, *, max_idle: int = 32) -> None:
        self.label = label
        self.host = host
        self.port = port
        self._max_idle = max_idle
        self._idle: list[Connection] = []
        self.inflight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self.closed = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    def enter(self) -> None:
        """A request was assigned to this version."""
        self.inflight += 1
        self._drained.clear()

    def leave(self) -> None:
        """A request assigned to this version finished (however it ended)."""
        self.inflight -= 1
        if self.inflight <= 0:
            self.inflight = 0
            self._drained.set()

    async def wait_drained(self, timeout_s: float) -> bool:
        """Wait until no request is in flight; False if `timeout_s` passed first."""
        try:
            await asyncio.wait_for(self._drained.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def connect(self, timeout_s: float) -> tuple[Connection, bool]:
        """An idle pooled connection if one is still open, else a new one; and whether reused."""
        while self._idle:
            reader, writer = self._idle.pop()
            # A version that closed an idle connection has already delivered EOF to us.
            if reader.at_eof() or writer.is_closing():
                writer.close()
                continue
            return (reader, writer), True
        conn = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), timeout_s)
        return conn, False

    def release(self, conn: Connection, *, reusable: bool) -> None:
        """Give a connection back after a complete exchange, or close it."""
        reader, writer = conn
        open_ = not reader.at_eof() and not writer.is_closing()
        if reusable and open_ and not self.closed and len(self._idle) < self._max_idle:
            self._idle.append(conn)
            return
        writer.close()

    def close(self) -> None:
        """Close idle connections; connections in use are closed when released."""
        self.closed = True
        while self._idle:
            _, writer = self._idle.pop()
            with contextlib.suppress(Exception):
                writer.close()
