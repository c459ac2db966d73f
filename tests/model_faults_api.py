"""A fake Messages API for fault injection: scripted streamed turns, faults at any call.

The real `ClaudeModel` and `anthropic` SDK talk to it through `httpx2.MockTransport`, so
every retry is a real HTTP request the fake counts. A turn's call index is the number of
assistant messages in the request, so a retried request is the same call again.

Faults on the wire (`WIRE_FAULTS`) replace the answer to one call, once (transient) or on
every attempt (persistent). Faults in the model's output (`TURN_FAULTS`) are a whole bad
assistant turn inserted before the scripted one (see `faulty_turn`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2

MODEL = "claude-sonnet-5-5"
LABEL = "v1.4.3"
REF = "hotfix/1.4.3"

WIRE_FAULTS = (
    "http_429",  # rate limited, with retry-after
    "http_529",  # overloaded, with retry-after-ms
    "http_500",  # internal error, no retry hint: the SDK's own backoff
    "read_timeout",  # no response in time
    "connect_error",  # connection refused / reset before a response
    "reset_mid_stream",  # connection reset after part of the stream
    "overloaded_mid_stream",  # `event: error` overloaded_error after part of the stream
)
TURN_FAULTS = (
    "malformed_json",  # tool input that is not JSON
    "truncated_input",  # tool input cut off at max_tokens
    "schema_invalid",  # well-formed input the tool's schema refuses
    "unknown_tool",  # a tool that does not exist
)


@dataclass(frozen=True)
class Turn:
    """One scripted assistant turn; `raw_json` overrides a tool call's streamed input."""

    blocks: list[dict[str, Any]]
    stop_reason: str = "tool_use"
    raw_json: dict[int, str] = field(default_factory=dict[int, str])


def _tool(call_id: str, name: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": args}


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def conversation() -> list[Turn]:
    """A hotfix run: investigate and plan, stage, verify, 10 % canary, promote, report."""
    return [
        Turn(
            [
                _text(
                    "I'll read the checkout handler, see what production runs and plan a canary."
                ),
                _tool("toolu_01read", "readFile", path="checkout.py"),
                _tool("toolu_01status", "hotfix_status"),
                _tool("toolu_01plan", "hotfix_plan", version_ref=REF, strategy="canary"),
            ]
        ),
        Turn([_text("Staging the fix."), _tool("toolu_03stage", "hotfix_stage", version_ref=REF)]),
        Turn([_text("Verifying it."), _tool("toolu_04verify", "hotfix_verify", label=LABEL)]),
        Turn(
            [
                _text("Verified; giving it 10 % of traffic."),
                _tool("toolu_05shift", "hotfix_shift_traffic", label=LABEL, percent=10),
            ]
        ),
        Turn(
            [_text("The canary is clean."), _tool("toolu_06promote", "hotfix_promote", label=LABEL)]
        ),
        Turn([_text(f"{LABEL} is live: canary clean, promoted, previous retired.")], "end_turn"),
    ]


def faulty_turn(kind: str, before: Turn, index: int) -> Turn:
    """A bad turn to insert before `before`: its last call with arguments, broken by `kind`."""
    tools = [b for b in before.blocks if b["type"] == "tool_use" and b["input"]]
    # The final turn has no call: break a rollback, the most dangerous call to run by mistake.
    base = tools[-1] if tools else _tool("", "hotfix_rollback", reason="the model lost track")
    call: dict[str, Any] = {**base, "id": f"toolu_bad_{kind}_{index}"}
    args: dict[str, Any] = call["input"]
    text = _text("Next step.")
    if kind == "unknown_tool":
        return Turn([text, {**call, "name": "hotfix_force_promote"}])
    if kind == "schema_invalid":
        return Turn([text, {**call, "input": {**args, "force": True}}])
    encoded = json.dumps(args)
    if kind == "malformed_json":
        raw = encoded.replace('": "', '": ', 1)  # an unquoted string value
        return Turn([text, call], raw_json={1: raw})
    if kind == "truncated_input":
        return Turn([text, call], stop_reason="max_tokens", raw_json={1: encoded[:-2]})
    raise ValueError(f"unknown turn fault {kind!r}")


def sse_events(turn: Turn, request_id: str) -> list[dict[str, Any]]:
    """The Messages API stream events of `turn`."""
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": f"msg_{request_id}",
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 1200,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 2000,
                },
            },
        }
    ]
    for index, block in enumerate(turn.blocks):
        if block["type"] == "text":
            opened: dict[str, Any] = {"type": "text", "text": ""}
            halves = [
                block["text"][: len(block["text"]) // 2],
                block["text"][len(block["text"]) // 2 :],
            ]
            deltas = [{"type": "text_delta", "text": half} for half in halves]
        else:
            opened = {**block, "input": {}}
            raw = turn.raw_json.get(index, json.dumps(block["input"]))
            cut = len(raw) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in (raw[:cut], raw[cut:])
            ]
        events.append({"type": "content_block_start", "index": index, "content_block": opened})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": turn.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 90},
        }
    )
    events.append({"type": "message_stop"})
    return events


def encode(events: list[dict[str, Any]]) -> bytes:
    """SSE bytes; the SDK needs an `event:` line per event."""
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


class _BrokenStream(httpx2.AsyncByteStream):
    """A body that sends `prefix`, then fails like a reset connection."""

    def __init__(self, prefix: bytes) -> None:
        self._prefix = prefix

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._prefix
        raise httpx2.ReadError("[Errno 104] Connection reset by peer")


def _error(status: int, kind: str, request_id: str, **headers: str) -> httpx2.Response:
    body = {"type": "error", "error": {"type": kind, "message": kind.replace("_", " ")}}
    return httpx2.Response(status, json=body, headers={"request-id": request_id, **headers})


@dataclass
class Fault:
    """A wire fault at one call: once (`persistent=False`) or on every attempt."""

    kind: str
    call: int
    persistent: bool = False


class FakeMessagesApi:
    """Answers `POST /v1/messages` from `turns`, injecting `fault`; counts every request."""

    def __init__(self, turns: list[Turn], fault: Fault | None = None) -> None:
        self.turns = turns
        self.fault = fault
        self.bodies: list[dict[str, Any]] = []
        self.calls: list[int] = []  # the call index of each HTTP request, in order

    @property
    def requests(self) -> int:
        return len(self.calls)

    def attempts(self) -> Counter[int]:
        """HTTP requests per call index."""
        return Counter(self.calls)

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handle))

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        call = sum(1 for m in body["messages"] if m["role"] == "assistant")
        attempt = self.attempts()[call]
        self.calls.append(call)
        self.bodies.append(body)
        request_id = f"req_{call}_{attempt}"
        if call >= len(self.turns):
            return _error(400, "invalid_request_error", request_id)  # never retried
        fault = self.fault
        if fault is not None and fault.call == call and (fault.persistent or attempt == 0):
            return self._inject(fault.kind, self.turns[call], request, request_id)
        return self._sse(encode(sse_events(self.turns[call], request_id)), request_id)

    def _inject(
        self, kind: str, turn: Turn, request: httpx2.Request, request_id: str
    ) -> httpx2.Response:
        # Part of the turn: the start, its first block opened and half of its first delta.
        prefix = encode(sse_events(turn, request_id)[:3])
        if kind == "http_429":
            # Fractional seconds keep the test fast; the SDK honours them as sent.
            return _error(429, "rate_limit_error", request_id, **{"retry-after": "0.002"})
        if kind == "http_529":
            return _error(529, "overloaded_error", request_id, **{"retry-after-ms": "2"})
        if kind == "http_500":
            return _error(500, "api_error", request_id)
        if kind == "read_timeout":
            raise httpx2.ReadTimeout("timed out waiting for the response", request=request)
        if kind == "connect_error":
            raise httpx2.ConnectError("[Errno 104] Connection reset by peer", request=request)
        if kind == "reset_mid_stream":
            return httpx2.Response(
                200,
                stream=_BrokenStream(prefix),
                headers={"content-type": "text/event-stream", "request-id": request_id},
            )
        if kind == "overloaded_mid_stream":
            error = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
            }
            return self._sse(prefix + encode([error]), request_id)
        raise ValueError(f"unknown wire fault {kind!r}")

    @staticmethod
    def _sse(content: bytes, request_id: str) -> httpx2.Response:
        headers = {"content-type": "text/event-stream", "request-id": request_id}
        return httpx2.Response(200, content=content, headers=headers)
