"""Cassettes: Messages API interactions recorded from a live run, replayed offline.

A cassette is a JSON file: `{"model": ..., "interactions": [{"request": {...},
"response": {...}}]}`. A request keeps its method, path and a structural key of the body
(model, and for every message its role, block types and tool names); volatile text such as
temp paths or timestamps is not compared. A response is either recorded bytes (`body`,
e.g. the SSE stream) or, in hand-written cassettes, a `message` (content blocks,
stop_reason, usage) rendered to SSE at replay, or an `error` (429/529 storms).

Replay is strict: a request that differs from the next recorded one, or one past the end,
is an unplayed interaction — the transport answers HTTP 400 (which no client retries) and
`ReplayTransport.errors` says what happened; `assert_complete` fails on leftover ones.
API keys never reach a cassette: request headers are not recorded and bodies are redacted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2

from agent.redaction import Redactor

_KEPT_HEADERS = ("content-type", "request-id", "retry-after", "retry-after-ms")


class CassetteError(Exception):
    """A cassette cannot be read, or replay went off the recording."""


def request_key(body: dict[str, Any]) -> dict[str, Any]:
    """What replay compares: the model and the shape of the conversation."""
    shape: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text"}] if isinstance(content, str) else content or []
        parts = [str(b.get("type")) + (f":{b['name']}" if b.get("name") else "") for b in blocks]
        shape.append(f"{message.get('role')}[{','.join(parts)}]")
    return {"model": body.get("model"), "messages": shape}


def sse_from_message(message: dict[str, Any], model: str) -> str:
    """A Messages API event stream for an assistant `message` (text and tool_use blocks)."""
    usage = {"input_tokens": 0, "output_tokens": 0, **message.get("usage", {})}
    blocks: list[dict[str, Any]] = message["content"]
    stop = message.get("stop_reason") or (
        "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    )
    start = {
        "type": "message_start",
        "message": {
            "id": message.get("id", "msg_cassette"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
        },
    }
    events: list[dict[str, Any]] = [start]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            opened: dict[str, Any] = {"type": "text", "text": ""}
            delta: dict[str, Any] = {"type": "text_delta", "text": block["text"]}
        else:
            opened = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            {"type": "content_block_start", "index": index, "content_block": opened},
            {"type": "content_block_delta", "index": index, "delta": delta},
            {"type": "content_block_stop", "index": index},
        ]
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


def load_cassette(path: Path) -> dict[str, Any]:
    """Read a cassette file.

    Raises:
        CassetteError: missing, not JSON, or without an `interactions` list.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CassetteError(f"{path}: cannot read cassette: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise CassetteError(f"{path}: a cassette is an object with an 'interactions' list")
    return data  # pyright: ignore[reportUnknownVariableType]


class ReplayTransport(httpx2.AsyncBaseTransport):
    """Serves a cassette's responses in order; strict about what is asked."""

    def __init__(self, cassette: dict[str, Any], source: str = "<cassette>") -> None:
        self.interactions: list[dict[str, Any]] = list(cassette["interactions"])
        self.model = str(cassette.get("model") or "claude-sonnet-5-5")
        self.source = source
        self.played = 0
        self.errors: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content or b"{}")
        if self.played >= len(self.interactions):
            return self._unplayed(f"request {self.played + 1} was not recorded ({self.source})")
        recorded = self.interactions[self.played]
        wanted = recorded.get("request") or {}
        key = request_key(body)
        if request.url.path != wanted.get("path", "/v1/messages") or (
            "key" in wanted and wanted["key"] != key
        ):
            return self._unplayed(
                f"request {self.played + 1} differs from the recording "
                f"({self.source}): got {key}, recorded {wanted.get('key')}"
            )
        self.played += 1
        return _response(recorded["response"], self.model)

    def assert_complete(self) -> None:
        """Raise `CassetteError` if replay went off the recording or left some unplayed."""
        if self.errors:
            raise CassetteError("; ".join(self.errors))
        left = len(self.interactions) - self.played
        if left:
            raise CassetteError(f"{left} recorded interaction(s) were never played ({self.source})")

    def _unplayed(self, message: str) -> httpx2.Response:
        self.errors.append(f"unplayed interaction: {message}")
        error = {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": f"cassette: unplayed interaction: {message}",
            },
        }
        return httpx2.Response(400, json=error)


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Passes requests to `inner` and records each exchange, redacted."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, redactor: Redactor | None = None) -> None:
        self.inner = inner
        self.redactor = redactor or Redactor.from_environment()
        self.interactions: list[dict[str, Any]] = []
        self.model: str | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content or b"{}")
        self.model = self.model or body.get("model")
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        headers = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
        self.interactions.append(
            {
                "request": {
                    "method": request.method,
                    "path": request.url.path,
                    "key": request_key(body),
                },
                "response": {
                    "status": response.status_code,
                    "headers": headers,
                    "body": self.redactor.text(content.decode("utf-8", "replace")),
                },
            }
        )
        return httpx2.Response(response.status_code, headers=headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def save(self, path: Path) -> Path:
        """Write what was recorded as a cassette file; its path."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"model": self.model, "interactions": self.interactions}
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        return path


def _response(recorded: dict[str, Any], model: str) -> httpx2.Response:
    status = int(recorded.get("status", 200))
    headers = dict(recorded.get("headers") or {})
    if "error" in recorded:
        headers.setdefault("retry-after-ms", "1")
        error = {"type": "error", "error": recorded["error"]}
        return httpx2.Response(status, headers=headers, json=error)
    if "message" in recorded:
        headers.setdefault("content-type", "text/event-stream")
        return httpx2.Response(
            status, headers=headers, content=sse_from_message(recorded["message"], model).encode()
        )
    return httpx2.Response(status, headers=headers, content=str(recorded["body"]).encode())
