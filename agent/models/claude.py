"""Claude through the official `anthropic` SDK: streaming, prompt caching, retries.

Prompt caching: the system prompt and the tool list are the stable prefix, with a cache
breakpoint on the system block and on the last tool; a third, rolling breakpoint sits on the
last block of the last user message, so each turn reads the previous turn's cache. Other
`cache_control` marks in the conversation are dropped (the API allows four).

Retries: the SDK retries HTTP 408/409/429/5xx/529 and connection errors itself
(`max_retries`). An error event in the middle of a stream (`overloaded_error`, `api_error`)
or a stream cut short arrives after the HTTP 200, where the SDK does not retry; this client
replays the whole turn, sharing one `max_retries` budget with the SDK's own retries.
A replayed turn streams its text to `on_text` again.

Tool input is parsed strictly once each call is complete (`agent.models._turn_stream`): a
call whose input is not a complete JSON object is returned flagged in
`ModelResponse.invalid_tool_inputs`, for the loop to answer with an error, never to run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from agent.config import ModelConfig
from agent.models._turn_stream import StreamProtocolError, TurnAssembler
from agent.models.base import ContentBlock, Message, ModelError, ModelRequest, ModelResponse
from agent.models.providers import (
    BLOCKED_MESSAGE,
    BuiltClient,
    Provider,
    build_sdk_client,
    detect_provider,
    requests_blocked,
)

if TYPE_CHECKING:
    import httpx2
    from anthropic import APIStatusError, AsyncStream
    from anthropic.types import RawMessageStreamEvent

    from agent.models.providers import SdkClient

TextCallback = Callable[[str], None]

# Error events worth replaying a turn for; anything else (invalid_request_error, ...) is final.
_TRANSIENT_STREAM_ERRORS = frozenset({"overloaded_error", "api_error"})
_MAX_BACKOFF_S = 30.0


class ModelRequestError(ModelError):
    """A turn failed for good; carries what the API said."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        retries: int = 0,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type
        self.request_id = request_id
        self.retries = retries


class _IncompleteStream(Exception):
    """The stream ended (or broke) before `message_stop`."""


class ClaudeModel:
    """A `ModelClient` for Claude on the Anthropic API, Foundry, Bedrock or Vertex.

    Args:
        model_id: The API model id (see `agent.models.catalog.resolve_model`).
        config: Provider, retries and timeout; defaults to `ModelConfig()`.
        on_text: Called with every text delta as it streams (the CLI's live view).
        http_client: An `httpx2.AsyncClient` for the SDK; tests inject a mocked one. Without
            it, `HOTFIX_BLOCK_MODEL_REQUESTS=1` makes construction fail.
        environ: Environment used to pick the provider (default `os.environ`).
        retry_backoff_s: First delay before replaying a turn; doubles each time.
        sleep: Awaitable sleep, injectable so tests don't wait.

    Raises:
        ModelError: real requests are blocked in this environment.
    """

    def __init__(
        self,
        model_id: str,
        config: ModelConfig | None = None,
        *,
        on_text: TextCallback | None = None,
        http_client: httpx2.AsyncClient | None = None,
        environ: Mapping[str, str] | None = None,
        retry_backoff_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        env = os.environ if environ is None else environ
        if http_client is None and requests_blocked(env):
            raise ModelError(BLOCKED_MESSAGE)
        self._model_id = model_id
        self._config = config or ModelConfig()
        self._on_text = on_text
        self._http_client = http_client
        self._environ = env
        self._backoff_s = retry_backoff_s
        self._sleep = sleep
        # With credentials nowhere in sight the SDK still finds on-disk profiles itself.
        self.provider: Provider = detect_provider(self._config, env) or "anthropic"
        self._built: BuiltClient | None = None

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def sdk_client(self) -> SdkClient:
        """The SDK client, constructed (and `anthropic` imported) on first use."""
        if self._built is None:
            self._built = build_sdk_client(
                self.provider, self._config, http_client=self._http_client, environ=self._environ
            )
        return self._built.client

    async def aclose(self) -> None:
        if self._built is not None:
            built, self._built = self._built, None
            await built.aclose()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Stream one assistant turn and return it assembled.

        Raises:
            ModelRequestError: the API refused the turn, or it still failed after the retries.
        """
        import anthropic
        import httpx2

        params = build_params(self._model_id, request)
        client = self.sdk_client
        budget = self._config.max_retries
        used = 0  # retries spent so far, the SDK's and ours
        while True:
            attempt_client = (
                client if used == 0 else client.with_options(max_retries=max(budget - used, 0))
            )
            try:
                return await self._stream_turn(attempt_client, params)
            except anthropic.APIStatusError as exc:
                used += _sdk_retries_taken(exc)
                if not _is_transient_stream_error(exc) or used >= budget:
                    raise _request_error(exc, used) from exc
                delay = _retry_after(exc) or self._backoff(used)
            except (_IncompleteStream, httpx2.TransportError) as exc:
                if used >= budget:
                    raise ModelRequestError(
                        f"Claude stream for {self._model_id} broke off after {used} retries: "
                        f"{exc or type(exc).__name__}",
                        retries=used,
                    ) from exc
                delay = self._backoff(used)
            except anthropic.APIConnectionError as exc:
                raise ModelRequestError(
                    f"cannot reach the {self.provider} endpoint for {self._model_id} after "
                    f"{budget} retries: {exc}",
                    retries=budget,
                ) from exc
            except (anthropic.AnthropicError, ImportError) as exc:
                raise ModelRequestError(f"Claude request failed: {exc}") from exc
            used += 1
            await self._sleep(delay)

    async def _stream_turn(self, client: SdkClient, params: dict[str, Any]) -> ModelResponse:
        assembler = TurnAssembler(self._on_text)
        stream: AsyncStream[RawMessageStreamEvent] = await client.messages.create(
            **params, stream=True
        )
        try:
            async with stream:
                async for event in stream:
                    assembler.feed(event)
        except (StreamProtocolError, ValueError) as exc:
            # An event that is not JSON or does not fit the turn: as broken as a cut stream.
            raise _IncompleteStream(f"unreadable stream: {exc}") from exc
        if not assembler.finished:
            raise _IncompleteStream("the stream ended before message_stop")
        return assembler.response()

    def _backoff(self, retries_used: int) -> float:
        delay = min(self._backoff_s * (2.0**retries_used), _MAX_BACKOFF_S)
        return delay * (1 - 0.25 * random.random())


def build_params(model_id: str, request: ModelRequest) -> dict[str, Any]:
    """The `messages.stream` arguments for `request`, with the cache breakpoints set.

    The system block and the tool list are rebuilt the same way every turn, so their JSON
    is byte-identical and the cached prefix keeps matching. `request` is not modified.
    """
    params: dict[str, Any] = {"model": model_id, "max_tokens": request.max_tokens}
    if request.system:
        params["system"] = [
            {"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}
        ]
    if request.tools:
        tools = [spec.to_api() for spec in request.tools]
        tools[-1] = {**tools[-1], "cache_control": {"type": "ephemeral"}}
        params["tools"] = tools
    params["messages"] = with_rolling_breakpoint(request.messages)
    return params


def with_rolling_breakpoint(messages: list[Message]) -> list[Message]:
    """A copy of `messages` whose only cache mark is on the last user message's last block."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    result: list[Message] = []
    for index, message in enumerate(messages):
        content: Any = message.get("content")
        if isinstance(content, str):
            if index != last_user:
                result.append(message)
                continue
            content = [{"type": "text", "text": content}]
        elif not isinstance(content, list):
            result.append(message)
            continue
        blocks: list[ContentBlock] = [
            {k: v for k, v in block.items() if k != "cache_control"} for block in content
        ]
        if (
            index == last_user
            and blocks
            and blocks[-1].get("type") not in ("thinking", "redacted_thinking")
        ):
            blocks[-1]["cache_control"] = {"type": "ephemeral"}
        result.append({**message, "content": blocks})
    return result


def _sdk_retries_taken(exc: APIStatusError) -> int:
    try:
        return int(exc.response.request.headers.get("x-stainless-retry-count", "0"))
    except (RuntimeError, ValueError):
        return 0


def _is_transient_stream_error(exc: APIStatusError) -> bool:
    # An error event inside a stream comes with the stream's own status, 200.
    return exc.status_code < 400 and exc.type in _TRANSIENT_STREAM_ERRORS


def _retry_after(exc: APIStatusError) -> float | None:
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            value = float(headers.get(name, "")) * scale
        except ValueError:
            continue
        if 0 < value <= _MAX_BACKOFF_S:
            return value
    return None


def _request_error(exc: APIStatusError, retries: int) -> ModelRequestError:
    error_type = exc.type or type(exc).__name__
    detail = exc.api_message or _short(exc.body)
    where = "mid-stream" if exc.status_code < 400 else f"HTTP {exc.status_code}"
    message = (
        f"Claude request failed ({where}) {error_type}: {detail} "
        f"[request id {exc.request_id or 'unknown'}, {retries} retries]"
    )
    return ModelRequestError(
        message,
        status_code=exc.status_code,
        error_type=exc.type,
        request_id=exc.request_id,
        retries=retries,
    )


def _short(body: object) -> str:
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return text[:300]
