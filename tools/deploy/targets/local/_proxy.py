"""One request/response exchange between the router, a version and the router's client.

The request body is already buffered (so a failed attempt can be replayed on another
version); the response is relayed piece by piece. Failures are sorted by side: the version
failing raises `UpstreamFailed`, the client going away just ends the exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tools.deploy.targets.local import _http
from tools.deploy.targets.local._pool import Connection, Upstream

VERSION_HEADER = "X-Hotfix-Version"
_BODYLESS_STATUS = frozenset({204, 304})
_UPSTREAM_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


class UpstreamFailed(Exception):
    """The version did not deliver a complete response."""

    def __init__(self, message: str, *, response_started: bool = False, timed_out: bool = False):
        super().__init__(message)
        self.response_started = response_started
        self.timed_out = timed_out


@dataclass(frozen=True)
class Forwarded:
    """Outcome of a completed exchange: the version's status, and whether the client stays."""

    status: int
    keep_client: bool


async def forward(
    upstream: Upstream,
    head: _http.Head,
    body: bytes,
    writer: asyncio.StreamWriter,
    *,
    client_keep_alive: bool,
    client_ip: str,
    connect_timeout_s: float,
    response_timeout_s: float,
    retry_stale: bool,
) -> Forwarded:
    """Send `head`+`body` to `upstream` and relay its response to `writer`."""
    request = _encode_request(head, body, upstream, client_ip)
    conn, response = await _send(
        upstream, request, connect_timeout_s, response_timeout_s, retry_stale
    )
    try:
        status = int(response.start[1])
        length = response.content_length()
    except (ValueError, _http.ProtocolError) as exc:
        upstream.release(conn, reusable=False)
        raise UpstreamFailed(f"bad response head {response.start!r}: {exc}") from exc
    reader = conn[0]
    upstream_keep = _http.keeps_alive(response, response.start[0])
    headers = [*response.end_to_end(), (VERSION_HEADER, upstream.label)]
    headers.append(("Connection", "keep-alive" if client_keep_alive else "close"))
    pieces: AsyncIterator[bytes] | None = None
    chunked = False
    if head.start[0].upper() == "HEAD" or status in _BODYLESS_STATUS:
        if length is not None and status not in _BODYLESS_STATUS:
            headers.append(("Content-Length", str(length)))
    elif response.is_chunked:
        headers.append(("Transfer-Encoding", "chunked"))
        pieces, chunked = _http.iter_chunked(reader), True
    elif length is not None:
        headers.append(("Content-Length", str(length)))
        pieces = _http.iter_sized(reader, length)
    else:  # delimited by close: buffer it so the client connection can stay open
        try:
            data = await _read_to_eof(reader, response_timeout_s)
        finally:
            upstream.release(conn, reusable=False)
        upstream_keep, conn = False, None
        headers.append(("Content-Length", str(len(data))))
        pieces = _once(data)
    start_line = f"HTTP/1.1 {status} {response.start[2]}".rstrip()
    try:
        await _relay(
            _http.encode_head(start_line, headers), pieces, writer, chunked, response_timeout_s
        )
    except _ClientGone:
        if conn is not None:
            upstream.release(conn, reusable=False)
        return Forwarded(status, keep_client=False)
    except BaseException:
        if conn is not None:
            upstream.release(conn, reusable=False)
        raise
    if conn is not None:
        upstream.release(conn, reusable=upstream_keep)
    return Forwarded(status, keep_client=client_keep_alive)


class _ClientGone(Exception):
    pass


def _encode_request(head: _http.Head, body: bytes, upstream: Upstream, client_ip: str) -> bytes:
    method, target, _ = head.start
    headers = head.end_to_end()
    if head.get("host") is None:
        headers.append(("Host", f"{upstream.host}:{upstream.port}"))
    forwarded_for = head.get("x-forwarded-for")
    headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
    chain = f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip
    headers.append(("X-Forwarded-For", chain))
    if body or method.upper() in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Length", str(len(body))))
    headers.append(("Connection", "keep-alive"))
    return _http.encode_head(f"{method} {target} HTTP/1.1", headers) + body


async def _send(
    upstream: Upstream,
    request: bytes,
    connect_timeout_s: float,
    timeout_s: float,
    retry_stale: bool,
) -> tuple[Connection, _http.Head]:
    """Write the request and read the response head (skipping interim 1xx responses)."""
    for attempt in (1, 2):
        try:
            conn, reused = await upstream.connect(connect_timeout_s)
        except TimeoutError as exc:
            raise UpstreamFailed("connect timed out") from exc
        except OSError as exc:
            raise UpstreamFailed(f"connect failed: {exc}") from exc
        reader, writer = conn
        try:
            writer.write(request)
            await writer.drain()
            while True:
                async with asyncio.timeout(timeout_s):  # no extra task, unlike wait_for
                    response = await _http.read_head(reader)
                if response is None:
                    raise ConnectionResetError("connection closed before a response")
                code = response.start[1]
                if not (code.startswith("1") and code != "101"):
                    return conn, response
        except TimeoutError as exc:
            upstream.release(conn, reusable=False)
            raise UpstreamFailed("no response in time", timed_out=True) from exc
        except (*_UPSTREAM_ERRORS, _http.ProtocolError) as exc:
            upstream.release(conn, reusable=False)
            # A pooled connection the version dropped meanwhile is not the version's fault.
            if reused and retry_stale and attempt == 1:
                continue
            raise UpstreamFailed(f"{type(exc).__name__}: {exc}") from exc
    raise AssertionError("unreachable")


async def _relay(
    head: bytes,
    pieces: AsyncIterator[bytes] | None,
    writer: asyncio.StreamWriter,
    chunked: bool,
    timeout_s: float,
) -> None:
    """Send the response head with the first body piece (one write for small responses)."""
    pending = head
    if pieces is not None:
        iterator = aiter(pieces)
        while True:
            try:
                async with asyncio.timeout(timeout_s):
                    piece = await anext(iterator)
            except StopAsyncIteration:
                break
            except (*_UPSTREAM_ERRORS, _http.ProtocolError) as exc:
                started = not pending
                raise UpstreamFailed(
                    f"response broke off: {exc}", response_started=started
                ) from exc
            frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            await _send_to_client(writer, pending + frame)
            pending = b""
    await _send_to_client(writer, pending + (b"0\r\n\r\n" if chunked else b""))


async def _send_to_client(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        if data:
            writer.write(data)
        await writer.drain()
    except OSError as exc:
        raise _ClientGone from exc


async def _read_to_eof(reader: asyncio.StreamReader, timeout_s: float) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            async with asyncio.timeout(timeout_s):
                data = await reader.read(_http.READ_CHUNK)
            if not data:
                break
            size += len(data)
            if size > _http.MAX_BODY_BYTES:
                raise UpstreamFailed("response body too large")
            parts.append(data)
    except _UPSTREAM_ERRORS as exc:
        raise UpstreamFailed(f"response broke off: {exc}") from exc
    return b"".join(parts)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
