"""Assembles one streamed Messages API turn from its raw events, strictly.

The SDK's own accumulator parses tool input leniently (a JSON prefix is accepted, so a call
cut off mid-argument arrives as a smaller, wrong call) and raises a bare `ValueError` on
JSON it cannot parse, which loses the whole turn. Here each tool call's input is parsed only
once its block is complete; a call whose input is not a complete JSON object is kept in the
turn with empty input and listed in `ModelResponse.invalid_tool_inputs`, so the loop answers
it with an error instead of running it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.models.base import ContentBlock, ModelResponse, Usage

if TYPE_CHECKING:
    from anthropic.types import RawMessageStreamEvent

_RAW_SHOWN = 300  # characters of an unparseable input quoted back to the model


class StreamProtocolError(Exception):
    """The events do not form a turn (a delta for a block that was never started, ...)."""


class TurnAssembler:
    """Feed it every raw stream event of one turn; then read `response()`.

    Args:
        on_text: Called with every text delta as it arrives.
    """

    def __init__(self, on_text: Callable[[str], None] | None = None) -> None:
        self._on_text = on_text
        self._model = ""
        self._stop_reason: str | None = None
        self._usage = Usage()
        self._blocks: list[dict[str, Any]] = []
        self._json: dict[int, list[str]] = {}
        self._closed: set[int] = set()
        self.started = False
        self.finished = False

    def feed(self, event: RawMessageStreamEvent) -> None:
        """Apply one event.

        Raises:
            StreamProtocolError: the event does not fit the turn so far.
        """
        if event.type == "message_start":
            message = event.message
            self.started = True
            self._model = message.model
            self._usage = Usage(
                input_tokens=message.usage.input_tokens,
                output_tokens=message.usage.output_tokens,
                cache_read_tokens=message.usage.cache_read_input_tokens or 0,
                cache_write_tokens=message.usage.cache_creation_input_tokens or 0,
            )
            return
        if not self.started:
            raise StreamProtocolError(f"{event.type} before message_start")
        if event.type == "content_block_start":
            if event.index != len(self._blocks):
                raise StreamProtocolError(f"block {event.index} started out of order")
            self._blocks.append(event.content_block.to_dict(mode="json", exclude_none=True))
        elif event.type == "content_block_delta":
            self._delta(event.index, event.delta.to_dict(mode="json", exclude_none=True))
        elif event.type == "content_block_stop":
            self._block(event.index)
            self._closed.add(event.index)
        elif event.type == "message_delta":
            self._stop_reason = event.delta.stop_reason
            usage = event.usage
            self._usage.output_tokens = usage.output_tokens
            # Totals on message_delta are cumulative and optional: they overwrite when sent.
            if usage.input_tokens is not None:
                self._usage.input_tokens = usage.input_tokens
            if usage.cache_read_input_tokens is not None:
                self._usage.cache_read_tokens = usage.cache_read_input_tokens
            if usage.cache_creation_input_tokens is not None:
                self._usage.cache_write_tokens = usage.cache_creation_input_tokens
        elif event.type == "message_stop":
            self.finished = True

    def response(self) -> ModelResponse:
        """The assembled turn; tool calls with unusable input are listed as invalid."""
        content: list[ContentBlock] = []
        invalid: dict[str, str] = {}
        for index, block in enumerate(self._blocks):
            kind = block.get("type")
            if kind == "text":
                content.append({"type": "text", "text": block.get("text", "")})
                continue
            if "input" in block:
                parsed, problem = self._input(index, block)
                if problem is None and not parsed and self._cut_off(index):
                    problem = "the call was cut off at max_tokens before its input was streamed"
                block = {**block, "input": parsed}
                if kind == "tool_use" and problem is not None:
                    invalid[str(block.get("id"))] = problem
            if kind == "tool_use":
                block = {k: block[k] for k in ("type", "id", "name", "input") if k in block}
            content.append(block)
        return ModelResponse(
            content=content,
            stop_reason=self._stop_reason,
            model=self._model,
            usage=self._usage,
            invalid_tool_inputs=invalid,
        )

    def _cut_off(self, index: int) -> bool:
        return self._stop_reason == "max_tokens" and index == len(self._blocks) - 1

    def _block(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self._blocks):
            raise StreamProtocolError(f"event for block {index}, which was never started")
        return self._blocks[index]

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self._block(index)
        kind = delta.get("type")
        if kind == "text_delta":
            text = str(delta.get("text", ""))
            block["text"] = str(block.get("text", "")) + text
            if self._on_text is not None and text:
                self._on_text(text)
        elif kind == "input_json_delta":
            self._json.setdefault(index, []).append(str(delta.get("partial_json", "")))
        elif kind == "thinking_delta":
            block["thinking"] = str(block.get("thinking", "")) + str(delta.get("thinking", ""))
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature", "")
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))

    def _input(self, index: int, block: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        if index not in self._closed:
            return {}, "the call was cut off before its input was complete"
        pieces = self._json.get(index)
        if pieces is None:
            start = block.get("input")
            if isinstance(start, dict):
                return dict(start), None  # pyright: ignore[reportUnknownArgumentType]
            return {}, f"its input is {type(start).__name__}, not a JSON object"
        raw = "".join(pieces)
        if not raw.strip():
            return {}, None  # a call without arguments streams no JSON at all
        try:
            value: Any = json.loads(raw)
        except ValueError as exc:
            return {}, f"its input is not valid JSON ({exc}): {raw[:_RAW_SHOWN]}"
        if not isinstance(value, dict):
            return {}, f"its input is a JSON {type(value).__name__}, not an object"
        return value, None  # pyright: ignore[reportUnknownVariableType]
