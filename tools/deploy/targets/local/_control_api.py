"""The environment daemon's control API: JSON over HTTP on a loopback port, token-guarded.

One request per connection. Every request must carry `Authorization: Bearer <token>`, the
token the daemon wrote to its state directory with owner-only permissions.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from tools.deploy.target import TargetError
from tools.deploy.targets.local import _http

log = logging.getLogger(__name__)


class RequestError(TargetError):
    """An API request that cannot be carried out, with the HTTP status to answer."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class ControlHandler(Protocol):
    """What the API exposes; implemented by the environment daemon."""

    def snapshot(self) -> dict[str, Any]: ...

    async def stage(self, request: dict[str, Any]) -> dict[str, Any]: ...

    async def set_weights(self, weights: dict[str, Any]) -> dict[str, Any]: ...

    async def retire(self, label: str) -> dict[str, Any]: ...

    def metrics(self, label: str, since: float) -> dict[str, Any]: ...

    def operations_since(self, seq: int) -> dict[str, Any]: ...

    def request_shutdown(self) -> None: ...


class ControlServer:
    """Serves `handler` on 127.0.0.1 to holders of `token`."""

    def __init__(self, handler: ControlHandler, token: str) -> None:
        self._handler = handler
        self._token = token.encode()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen on a free loopback port; returns it."""
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, limit=_http.MAX_HEAD_BYTES
        )
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        shutdown = False
        try:
            head = await asyncio.wait_for(_http.read_head(reader), 10.0)
            if head is None:
                return
            body = await _http.read_request_body(reader, head)
            status, payload = await self._dispatch(head, body)
            shutdown = status == 200 and head.start[1] == "/shutdown"
            writer.write(_http.json_response(status, payload))
            await writer.drain()
        except (OSError, _http.ProtocolError, asyncio.IncompleteReadError) as exc:
            log.debug("control: bad request: %s", exc)
        finally:
            writer.close()
            if shutdown:
                self._handler.request_shutdown()

    async def _dispatch(self, head: _http.Head, body: bytes) -> tuple[int, Any]:
        auth = (head.get("authorization") or "").encode()
        if not hmac.compare_digest(auth, b"Bearer " + self._token):
            return 401, {"error": "missing or wrong control token"}
        method = head.start[0].upper()
        url = urlsplit(head.start[1])
        try:
            data = _json_object(body) if method == "POST" else {}
            return 200, await self._route(method, url.path, parse_qs(url.query), data)
        except RequestError as exc:
            return exc.status, {"error": str(exc)}
        except TargetError as exc:
            return 409, {"error": str(exc)}
        except Exception as exc:
            log.exception("control: %s %s failed", method, url.path)
            return 500, {"error": f"{type(exc).__name__}: {exc}"}

    async def _route(
        self, method: str, path: str, query: dict[str, list[str]], data: dict[str, Any]
    ) -> Any:
        handler = self._handler
        match method, path:
            case "GET", "/state":
                return handler.snapshot()
            case "POST", "/stage":
                return await handler.stage(data)
            case "POST", "/weights":
                weights = data.get("weights")
                if not isinstance(weights, dict):
                    raise RequestError("body must be {'weights': {label: percent}}", 400)
                return await handler.set_weights(weights)
            case "POST", "/retire":
                return await handler.retire(_text(data.get("label"), "label"))
            case "GET", "/metrics":
                label = _text((query.get("label") or [None])[0], "label")
                try:
                    since = float((query.get("since") or ["0"])[0])
                except ValueError:
                    raise RequestError("since must be a number (epoch seconds)", 400) from None
                return handler.metrics(label, since)
            case "GET", "/operations":
                try:
                    seq = int((query.get("since") or ["0"])[0])
                except ValueError:
                    raise RequestError("since must be an operation number", 400) from None
                return handler.operations_since(seq)
            case "POST", "/shutdown":
                return {"ok": True}
            case _:
                raise RequestError(f"no endpoint {method} {path}", 404)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError as exc:
        raise RequestError(f"body is not JSON: {exc}", 400) from exc
    if not isinstance(value, dict):
        raise RequestError("body must be a JSON object", 400)
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise RequestError(f"{name} is required", 400)
    return value
