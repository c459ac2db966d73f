"""HTTP helpers shared by the checks: client lifetime, URL joining, error wording."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import httpx2

_EXCERPT_CHARS = 200


@asynccontextmanager
async def client_for(
    client: httpx2.AsyncClient | None, *, timeout_s: float = 5.0
) -> AsyncGenerator[httpx2.AsyncClient, None]:
    """Use the caller's client, or open (and close) one of our own."""
    if client is not None:
        yield client
        return
    # trust_env=False: a proxy from the environment must never sit between us and the target.
    async with httpx2.AsyncClient(
        timeout=timeout_s, trust_env=False, verify=_tls_context()
    ) as own:
        yield own


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~0.2 s of CPU; every check opens a client, so load it once.
    import httpcore2

    return httpcore2.default_ssl_context()


def join_url(base_url: str, path: str) -> str:
    """`base_url` + `path` with exactly one slash between them."""
    if not path:
        return base_url
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def describe_error(exc: Exception, timeout_s: float) -> str:
    """A short, stable description of why a request got no response."""
    if isinstance(exc, httpx2.TimeoutException):
        return f"timed out after {timeout_s:g}s"
    if isinstance(exc, httpx2.ConnectError):
        return f"connection failed: {str(exc) or type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def excerpt(text: str, limit: int = _EXCERPT_CHARS) -> str:
    """The start of a response body on one line, for failure messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
