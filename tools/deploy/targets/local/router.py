"""The production router: an HTTP/1.1 reverse proxy that splits traffic between versions.

Weights live in one immutable `_Table`; `set_weights` swaps the reference, so each request
sees either the old split or the new one, never a mixture. A request keeps the version it
was assigned until it ends, and `remove_upstream` waits for a version's in-flight requests to
drain before letting it go: that is what makes a switch zero-downtime.

Routing is smooth weighted round-robin (as in nginx): deterministic, and any window of
`sum(weights)` consecutive requests follows the weights exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from tools.deploy.targets.local import _http
from tools.deploy.targets.local._metrics import CONNECTION_FAILURE, MetricsStore
from tools.deploy.targets.local._pool import Upstream
from tools.deploy.targets.local._proxy import VERSION_HEADER, UpstreamFailed, forward

log = logging.getLogger(__name__)

STATS_PATH = "/_hotfix/stats"
IDEMPOTENT = frozenset({"GET", "HEAD"})


class _Table:
    """An immutable weight split plus the round-robin cursor that walks it."""

    def __init__(self, weights: dict[str, int]) -> None:
        self.weights = dict(weights)
        self._live = {label: w for label, w in weights.items() if w > 0}
        self._current = dict.fromkeys(self._live, 0)
        self._total = sum(self._live.values())

    def pick(self) -> str | None:
        best: str | None = None
        for label, weight in self._live.items():
            self._current[label] += weight
            if best is None or self._current[label] > self._current[best]:
                best = label
        if best is not None:
            self._current[best] -= self._total
        return best

    def other_than(self, label: str) -> str | None:
        """The heaviest live version except `label` (for the one retry)."""
        others = [(w, name) for name, w in self._live.items() if name != label]
        return max(others)[1] if others else None


class Router:
    """Reverse proxy on the production port.

    Args:
        metrics: Where request outcomes are recorded (a new store if omitted).
        connect_timeout_s: Limit on opening a connection to a version.
        response_timeout_s: Limit on waiting for a version's response head or body bytes.
        idle_timeout_s: Client keep-alive connections idle this long are closed.
    """

    def __init__(
        self,
        metrics: MetricsStore | None = None,
        *,
        connect_timeout_s: float = 2.0,
        response_timeout_s: float = 60.0,
        idle_timeout_s: float = 75.0,
    ) -> None:
        self.metrics = metrics or MetricsStore()
        self._connect_timeout = connect_timeout_s
        self._response_timeout = response_timeout_s
        self._idle_timeout = idle_timeout_s
        self._upstreams: dict[str, Upstream] = {}
        self._removing: set[str] = set()
        self._table = _Table({})
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 picks a free port); returns the port."""
        self._server = await asyncio.start_server(
            self._serve_client, host, port, limit=_http.MAX_HEAD_BYTES, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self, drain_timeout_s: float = 0.0) -> None:
        """Stop listening, then close every connection.

        Args:
            drain_timeout_s: How long requests in flight may take to finish first.
        """
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if drain_timeout_s > 0:
            waits = [u.wait_drained(drain_timeout_s) for u in self._upstreams.values()]
            await asyncio.gather(*waits)
        for writer in list(self._clients):
            writer.close()
        for upstream in self._upstreams.values():
            upstream.close()

    @property
    def weights(self) -> dict[str, int]:
        return dict(self._table.weights)

    @property
    def labels(self) -> list[str]:
        return sorted(self._upstreams)

    def add_upstream(self, label: str, host: str, port: int) -> None:
        """Make a version routable (it gets traffic only once given a weight)."""
        if label in self._upstreams:
            raise ValueError(f"version {label!r} is already registered")
        self._upstreams[label] = Upstream(label, host, port)

    def set_weights(self, weights: dict[str, int]) -> None:
        """Switch the traffic split atomically; every label must be registered."""
        unknown = sorted(set(weights) - set(self._upstreams))
        if unknown:
            raise ValueError(f"unknown versions: {', '.join(unknown)}")
        if any(w < 0 for w in weights.values()):
            raise ValueError("weights must not be negative")
        leaving = sorted(label for label, w in weights.items() if w > 0 and label in self._removing)
        if leaving:
            raise ValueError(f"versions being removed cannot get traffic: {', '.join(leaving)}")
        self._table = _Table(weights)

    def inflight(self, label: str) -> int:
        upstream = self._upstreams.get(label)
        return upstream.inflight if upstream else 0

    async def remove_upstream(self, label: str, drain_timeout_s: float) -> bool:
        """Forget a version once its in-flight requests finished; False if it timed out."""
        if self._table.weights.get(label, 0) > 0:
            raise ValueError(f"version {label!r} still has weight; shift traffic away first")
        upstream = self._upstreams.get(label)
        if upstream is None:
            return True
        self._removing.add(label)
        try:
            drained = await upstream.wait_drained(drain_timeout_s)
        finally:
            self._removing.discard(label)
        upstream.close()
        self._upstreams.pop(label, None)
        return drained

    def stats(self, window_s: float = 60.0) -> dict[str, Any]:
        """The JSON served at /_hotfix/stats."""
        since = time.time() - window_s
        labels = sorted(set(self._upstreams) | set(self.metrics.labels()))
        return {
            "port": self.port,
            "weights": self.weights,
            "versions": {
                label: {
                    "url": self._upstreams[label].url if label in self._upstreams else None,
                    "inflight": self.inflight(label),
                    "total": self.metrics.totals(label).summary(),
                    f"last_{int(window_s)}s": self.metrics.window(label, since).summary(),
                }
                for label in labels
            },
        }

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._clients.add(writer)
        peer = writer.get_extra_info("peername")
        client_ip = str(peer[0]) if isinstance(peer, tuple) else "unknown"
        try:
            keep = True
            while keep:
                async with asyncio.timeout(self._idle_timeout):
                    head = await _http.read_head(reader)
                if head is None:
                    break
                keep = _http.keeps_alive(head, head.start[2])
                if "100-continue" in head.tokens("expect"):
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = await _http.read_request_body(reader, head)
                keep = await self._handle(head, body, writer, keep, client_ip)
        except _http.ProtocolError as exc:
            with contextlib.suppress(OSError):
                writer.write(_http.json_response(400, {"error": str(exc)}))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # client went away or idled out
        except Exception:
            log.exception("router: unexpected error on a client connection")
        finally:
            self._clients.discard(writer)
            writer.close()

    async def _handle(
        self, head: _http.Head, body: bytes, writer: asyncio.StreamWriter, keep: bool, ip: str
    ) -> bool:
        method, target = head.start[0].upper(), head.start[1]
        if target.split("?", 1)[0] == STATS_PATH and method == "GET":
            writer.write(_http.json_response(200, self.stats(), keep_alive=keep))
            await writer.drain()
            return keep
        label = self._table.pick()
        if label is None:
            payload = {"error": "no version is serving"}
            writer.write(_http.json_response(503, payload, keep_alive=keep))
            await writer.drain()
            return keep
        upstream, retried = self._upstreams[label], False
        while True:
            current, started = upstream, time.monotonic()
            current.enter()
            try:
                result = await forward(
                    current,
                    head,
                    body,
                    writer,
                    client_keep_alive=keep,
                    client_ip=ip,
                    connect_timeout_s=self._connect_timeout,
                    response_timeout_s=self._response_timeout,
                    retry_stale=method in IDEMPOTENT,
                )
            except UpstreamFailed as exc:
                self.metrics.record(current.label, CONNECTION_FAILURE, _ms(started))
                log.warning("router: version %s failed: %s", current.label, exc)
                if exc.response_started:
                    return False  # the client already has part of a response: cut it off
                alternative = None
                if method in IDEMPOTENT and not exc.timed_out and not retried:
                    alternative = self._alternative(current.label)
                if alternative is None:
                    status = 504 if exc.timed_out else 502
                    payload = {"error": f"version {current.label} failed: {exc}"}
                    extra = [(VERSION_HEADER, current.label)]
                    writer.write(_http.json_response(status, payload, keep_alive=keep, extra=extra))
                    await writer.drain()
                    return keep
                upstream, retried = alternative, True
                continue
            finally:
                current.leave()
            self.metrics.record(current.label, result.status, _ms(started))
            return result.keep_client

    def _alternative(self, failed: str) -> Upstream | None:
        label = self._table.other_than(failed)  # the current table, not the request's snapshot
        return self._upstreams.get(label) if label is not None else None


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0
