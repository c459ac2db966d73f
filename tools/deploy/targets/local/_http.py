"""Just enough HTTP/1.1 on asyncio streams for the router and the control API.

Messages are parsed by hand (no framework) so the router controls connection reuse, framing
and timing exactly. Bodies of requests are read whole; response bodies are relayed chunk by
chunk by the router.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
READ_CHUNK = 64 * 1024

# Hop-by-hop headers describe one connection, not the message; framing headers are rewritten
# by whoever sends the message on. Neither is forwarded as received.
NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "content-length",
    }
)


class ProtocolError(Exception):
    """The peer sent something that is not acceptable HTTP/1.1."""


@dataclass
class Head:
    """A request line or status line with its headers, as received."""

    start: tuple[str, str, str]  # (method, target, version) or (version, status, reason)
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        """The last value of header `name` (case-insensitive), or None."""
        lowered = name.lower()
        found: str | None = None
        for key, value in self.headers:
            if key.lower() == lowered:
                found = value
        return found

    def tokens(self, name: str) -> set[str]:
        """Comma-separated tokens of every `name` header, lower-cased."""
        lowered = name.lower()
        out: set[str] = set()
        for key, value in self.headers:
            if key.lower() == lowered:
                out.update(t.strip().lower() for t in value.split(",") if t.strip())
        return out

    def end_to_end(self) -> list[tuple[str, str]]:
        """Headers to forward: no hop-by-hop or framing ones, none named in `Connection`."""
        named = self.tokens("connection")
        return [
            (k, v)
            for k, v in self.headers
            if k.lower() not in NOT_FORWARDED and k.lower() not in named
        ]

    @property
    def is_chunked(self) -> bool:
        return "chunked" in self.tokens("transfer-encoding")

    def content_length(self) -> int | None:
        raw = self.get("content-length")
        if raw is None:
            return None
        if not raw.strip().isdigit():
            raise ProtocolError(f"bad Content-Length {raw!r}")
        return int(raw)


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """Read a start line and headers; None on a clean end of stream before any byte."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise ProtocolError("connection closed inside a message head") from exc
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("message head too large") from exc
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2:
        raise ProtocolError(f"bad start line {lines[0]!r}")
    start = (parts[0], parts[1], parts[2] if len(parts) > 2 else "")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"bad header line {line!r}")
        headers.append((name, value.strip()))
    return Head(start, headers)


async def iter_chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Yield the data of a chunked body; consumes the trailer section."""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise ProtocolError(f"bad chunk size {size_line!r}") from exc
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return
        yield await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")


async def iter_sized(reader: asyncio.StreamReader, length: int) -> AsyncIterator[bytes]:
    """Yield exactly `length` bytes in pieces."""
    remaining = length
    while remaining > 0:
        piece = await reader.read(min(READ_CHUNK, remaining))
        if not piece:
            raise asyncio.IncompleteReadError(b"", remaining)
        remaining -= len(piece)
        yield piece


async def read_request_body(reader: asyncio.StreamReader, head: Head) -> bytes:
    """Read a whole request body (requests without framing have none)."""
    if head.is_chunked:
        parts: list[bytes] = []
        size = 0
        async for piece in iter_chunked(reader):
            size += len(piece)
            if size > MAX_BODY_BYTES:
                raise ProtocolError("request body too large")
            parts.append(piece)
        return b"".join(parts)
    length = head.content_length() or 0
    if length > MAX_BODY_BYTES:
        raise ProtocolError("request body too large")
    return await reader.readexactly(length) if length else b""


def keeps_alive(head: Head, version: str) -> bool:
    """Whether the sender of `head` (speaking `version`) keeps the connection open after it."""
    tokens = head.tokens("connection")
    if version.upper() == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def encode_head(start_line: str, headers: list[tuple[str, str]]) -> bytes:
    """Serialise a start line and headers."""
    lines = [start_line, *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def simple_response(
    status: int, body: bytes, *, content_type: str, keep_alive: bool, extra: list[tuple[str, str]]
) -> bytes:
    """A complete response with a sized body."""
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Connection", "keep-alive" if keep_alive else "close"),
        *extra,
    ]
    return encode_head(f"HTTP/1.1 {status} {reason}", headers) + body


def json_response(
    status: int,
    payload: Any,
    *,
    keep_alive: bool = False,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    """A complete JSON response."""
    body = json.dumps(payload, sort_keys=True).encode()
    return simple_response(
        status, body, content_type="application/json", keep_alive=keep_alive, extra=extra or []
    )
