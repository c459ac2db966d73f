"""The one small protocol every model client implements.

Messages and content blocks are plain dicts in Anthropic Messages API format (`text`,
`tool_use`, `tool_result`), so transcripts, cassettes and scripted turns need no mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

ContentBlock = dict[str, Any]
Message = dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it."""

    name: str
    description: str
    input_schema: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


@dataclass
class ModelRequest:
    """One turn's input: the stable prefix (system + tools) and the conversation."""

    system: str
    tools: list[ToolSpec]
    messages: list[Message]
    max_tokens: int = 8192


def first_user_text(request: ModelRequest) -> str:
    """The text of the first user message: the task a run was started with."""
    for message in request.messages:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(b.get("text", "") for b in content or [] if b.get("type") == "text")
    return ""


def tool_use_turn(blocks: list[ContentBlock], model_id: str) -> ModelResponse:
    """An assistant turn made of tool calls (for drivers that are not language models)."""
    return ModelResponse(content=blocks, stop_reason="tool_use", model=model_id, usage=Usage())


def final_turn(text: str, model_id: str) -> ModelResponse:
    """A final assistant answer (for drivers that are not language models)."""
    return ModelResponse(
        content=[{"type": "text", "text": text}],
        stop_reason="end_turn",
        model=model_id,
        usage=Usage(),
    )


@dataclass
class Usage:
    """Token counts of one turn, as the provider reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens


@dataclass
class ModelResponse:
    """One assistant turn."""

    content: list[ContentBlock]
    stop_reason: str | None
    model: str
    usage: Usage = field(default_factory=Usage)
    # tool_use id -> why its input cannot be used (not valid JSON, cut off); such a call is
    # answered with an error and never run.
    invalid_tool_inputs: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def tool_uses(self) -> list[ContentBlock]:
        return [block for block in self.content if block.get("type") == "tool_use"]

    @property
    def text(self) -> str:
        return "\n".join(b.get("text", "") for b in self.content if b.get("type") == "text")


class ModelError(Exception):
    """The model could not produce a turn (after the client's own retries)."""


class ModelClient(Protocol):
    """Anything that turns a `ModelRequest` into the next assistant turn."""

    @property
    def model_id(self) -> str: ...

    async def complete(self, request: ModelRequest) -> ModelResponse: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ToolObservation:
    """A tool result with its structured data, for drivers that are not language models."""

    tool: str
    status: str
    text: str
    data: dict[str, Any] | None


@runtime_checkable
class ToolDataObserver(Protocol):
    """Optional: a model client that wants each turn's structured tool results.

    The runbook planner decides from data, not from reading text; language models only ever
    see the `tool_result` blocks.
    """

    def observe_tool_results(self, observations: list[ToolObservation]) -> None: ...
