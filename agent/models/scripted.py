"""A model that replays assistant turns from a script: for tests, evals and demos.

Script file format (JSON)::

    {"model": "scripted",                      # optional
     "turns": [
        [{"type": "text", "text": "Looking."},
         {"type": "tool_use", "name": "readFile", "input": {"path": "app.py"}}],
        {"content": [{"type": "text", "text": "Done."}], "stop_reason": "end_turn"}
     ]}

A turn is a list of content blocks or an object with `content` and an optional
`stop_reason` (default: `tool_use` when the turn has tool_use blocks, else `end_turn`).
Tool-use ids may be omitted; they become `toolu_scripted_<n>`, numbered through the script.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from agent.models.base import ContentBlock, ModelError, ModelRequest, ModelResponse, Usage


class ScriptError(ModelError):
    """The script is malformed; the message names the turn and block."""


class ScriptExhausted(ModelError):
    """The model was asked for a turn the script does not have."""


@dataclass(frozen=True)
class ScriptedTurn:
    """One assistant turn to replay."""

    content: list[ContentBlock]
    stop_reason: str


_REQUIRED: dict[str, tuple[tuple[str, type], ...]] = {
    "text": (("text", str),),
    "tool_use": (("name", str), ("input", dict)),
    "thinking": (("thinking", str), ("signature", str)),
    "redacted_thinking": (("data", str),),
}


class ScriptedModel:
    """Replays scripted turns in order; fails loudly on a call the script does not cover.

    Attributes:
        calls: Every `ModelRequest` received, in order (for assertions in tests).
    """

    def __init__(
        self, turns: Sequence[ScriptedTurn], *, model: str = "scripted", source: str = "<script>"
    ) -> None:
        self._turns = list(turns)
        self._model = model
        self._source = source
        self.calls: list[ModelRequest] = []

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedModel:
        """Load and validate a script file.

        Raises:
            ScriptError: unreadable file, invalid JSON, or a malformed turn or block.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScriptError(f"{path}: cannot read the script: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ScriptError(f"{path}: not valid JSON: {exc}") from exc
        return cls.from_data(data, source=str(path))

    @classmethod
    def from_data(cls, data: Any, *, source: str = "<script>") -> ScriptedModel:
        """Build from the parsed script (`{"turns": [...], "model": ...}`).

        Raises:
            ScriptError: a malformed turn or block; turns and blocks are counted from 1.
        """
        if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
            raise ScriptError(f'{source}: expected an object with a "turns" list')
        model = data.get("model", "scripted")
        if not isinstance(model, str):
            raise ScriptError(f'{source}: "model" must be a string')
        counter = [0]
        turns = [
            _parse_turn(raw, number, counter, source)
            for number, raw in enumerate(data["turns"], start=1)
        ]
        return cls(turns, model=model, source=source)

    @property
    def model_id(self) -> str:
        return self._model

    @property
    def remaining(self) -> int:
        """Turns not yet replayed."""
        return len(self._turns) - len(self.calls)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Return the next scripted turn (a deep copy) and record a snapshot of `request`.

        Raises:
            ScriptExhausted: every scripted turn has already been returned.
        """
        # Snapshot: the loop keeps appending to the same message list after this call, but
        # never edits a message once sent, so copying the list (not every message) suffices
        # and keeps long scripted runs linear.
        self.calls.append(
            ModelRequest(
                system=request.system,
                tools=list(request.tools),
                messages=list(request.messages),
                max_tokens=request.max_tokens,
            )
        )
        index = len(self.calls) - 1
        if index >= len(self._turns):
            raise ScriptExhausted(
                f"scripted model has {len(self._turns)} turns; call "
                f"{index + 1} was not scripted ({self._source})"
            )
        turn = self._turns[index]
        content: list[ContentBlock] = _copy_json(turn.content)
        prompt = [request.system, [spec.to_api() for spec in request.tools], request.messages]
        usage = Usage(
            input_tokens=_estimate_tokens(prompt), output_tokens=_estimate_tokens(content)
        )
        return ModelResponse(
            content=content, stop_reason=turn.stop_reason, model=self._model, usage=usage
        )

    def assert_complete(self) -> None:
        """Raise AssertionError when scripted turns were never requested."""
        if self.remaining > 0:
            raise AssertionError(
                f"scripted model has {len(self._turns)} turns but only "
                f"{len(self.calls)} were requested ({self._source})"
            )

    async def aclose(self) -> None:
        return None


def _parse_turn(raw: Any, number: int, counter: list[int], source: str) -> ScriptedTurn:
    where = f"{source}: turn {number}"
    stop_reason: Any = None
    if isinstance(raw, dict):
        blocks, stop_reason = raw.get("content"), raw.get("stop_reason")
        unknown = set(raw) - {"content", "stop_reason"}
        if unknown:
            raise ScriptError(f"{where}: unknown keys {sorted(unknown)}")
        if stop_reason is not None and not isinstance(stop_reason, str):
            raise ScriptError(f"{where}: stop_reason must be a string")
    else:
        blocks = raw
    if not isinstance(blocks, list) or not blocks:
        raise ScriptError(f"{where}: expected a non-empty list of content blocks")
    content = [
        _parse_block(block, f"{where}, block {index}", counter)
        for index, block in enumerate(blocks, start=1)
    ]
    if stop_reason is None:
        has_tool_use = any(block["type"] == "tool_use" for block in content)
        stop_reason = "tool_use" if has_tool_use else "end_turn"
    return ScriptedTurn(content=content, stop_reason=stop_reason)


def _parse_block(raw: Any, where: str, counter: list[int]) -> ContentBlock:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise ScriptError(f'{where}: a content block must be an object with a string "type"')
    block: ContentBlock = dict(raw)
    kind = block["type"]
    if kind not in _REQUIRED:
        raise ScriptError(
            f"{where}: unsupported block type {kind!r} (expected one of {', '.join(_REQUIRED)})"
        )
    if kind == "tool_use":
        block.setdefault("input", {})
    for key, expected in _REQUIRED[kind]:
        if not isinstance(block.get(key), expected):
            raise ScriptError(
                f"{where}: {kind} block needs {key!r} as a JSON "
                f"{'object' if expected is dict else 'string'}"
            )
    if kind == "tool_use":
        counter[0] += 1
        if "id" not in block:
            block["id"] = f"toolu_scripted_{counter[0]}"
        elif not isinstance(block["id"], str) or not block["id"]:
            raise ScriptError(f"{where}: tool_use id must be a non-empty string")
    return block


def _estimate_tokens(value: Any) -> int:
    # About four characters per token: good enough for budgets and usage reports.
    try:
        chars = len(json.dumps(value, default=str))
    except (RecursionError, ValueError):  # nested too deep for the (recursive) encoder
        chars = sum(len(str(leaf)) + 3 for leaf in _leaves(value))
    return max(1, chars // 4)


def _children(value: Any) -> list[tuple[Any, Any]]:
    """(key, child) pairs of a JSON container; [] for anything else."""
    if isinstance(value, dict):
        return list(cast(dict[Any, Any], value).items())
    if isinstance(value, list | tuple):
        return list(enumerate(cast(list[Any], value)))
    return []


def _leaves(value: Any) -> Iterator[Any]:
    """Every key and scalar inside `value`, found without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict | list | tuple):
            for key, child in _children(item):
                if isinstance(key, str):
                    yield key
                stack.append(child)
        else:
            yield item


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-like data, made without recursion.

    A scripted turn may nest deeper than `copy.deepcopy` (recursive) can follow; the model
    must hand it over intact so that the harness, not the test double, decides about it.
    """
    holder: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, holder, 0)]
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, dict):
            copied: Any = dict.fromkeys(cast(dict[Any, Any], item))  # keeps the key order
        elif isinstance(item, list | tuple):
            copied = [None] * len(cast(list[Any], item))
        else:
            copied = item if isinstance(item, str | int | float | None) else copy.deepcopy(item)
        parent[key] = copied
        stack.extend((child, copied, k) for k, child in _children(item))
    return holder[0]
