"""Turns the `tool_use` blocks of a model turn into calls under ids unique in the run.

The Messages API rejects a repeated tool_use id and a second result for one id, and a
replayed call must never run twice, so every block leaves here with an id no other call of
the run has, written into the block itself (the loop echoes those blocks as the assistant
turn). Here too is decided what a block cannot be run as at all: a replayed id, input that
is not an object, input the model client could not read, or arguments too deep or too big
to judge, journal or copy safely. Such a call keeps a small placeholder instead of its
arguments, so nothing downstream ever handles them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple, cast

from agent.journal import Journal, Notice
from agent.models.base import ContentBlock
from tools.base import ToolCall

# Real tool schemas nest a handful of levels; past this, copying, serialising and redacting
# (all recursive) risk RecursionError, and pydantic refuses to serialise past ~300 levels.
MAX_ARGUMENT_DEPTH = 64
# Far above any legitimate call (file writes included), far below what bloats the journal.
MAX_ARGUMENT_BYTES = 256 * 1024


class Claim(NamedTuple):
    """One block as a call, and why it must not run (None: it may, if the gate allows)."""

    call: ToolCall
    refusal: str | None
    unreadable: bool = False  # the model client could not read its input


class ToolUseIds:
    """Claims tool_use blocks for one run; one instance per `ToolRunner`."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._ids: set[str] = set()  # every tool_use id answered in this run
        self.turn = 0

    def claim_turn(
        self, tool_uses: list[ContentBlock], unreadable: Mapping[str, str]
    ) -> list[Claim]:
        """The call each block asks for, in order, and why not to run it.

        `unreadable` maps the ids the model sent to why the model client could not read
        that block's input.
        """
        self.turn += 1
        # Ids the model sent this turn are its own: a generated id must not take one.
        sent = {b.get("id") for b in tool_uses if isinstance(b.get("id"), str)}
        return [
            self._claim(block, index, sent, unreadable) for index, block in enumerate(tool_uses)
        ]

    def _claim(
        self,
        block: ContentBlock,
        index: int,
        reserved: set[Any],
        unreadable: Mapping[str, str],
    ) -> Claim:
        sent, name, raw_input = block.get("id"), str(block.get("name", "")), block.get("input")
        refusal: str | None = None
        if not isinstance(sent, str) or not sent:
            call_id = self._fresh_id(f"call_{self.turn}_{index}", reserved)
            note = f"tool_use {index + 1} of turn {self.turn} ({name}) came without an id"
        elif sent in self._ids:
            call_id = self._fresh_id(f"call_{self.turn}_{index}", reserved)
            note = f"tool_use id {sent!r} ({name}) repeats an id already used in this run"
            refusal = (
                f"not run: this tool_use repeats the id {sent!r} of an earlier call in this "
                "run, so it may be a replay; it was answered under a new id and never run. "
                "If the call is still needed, send it again."
            )
        else:
            call_id, note = sent, ""
        self._ids.add(call_id)
        if call_id != sent:
            block["id"] = call_id  # the echoed assistant turn names the id we answer
            self._journal.write(Notice(level="warning", message=f"{note}; id {call_id!r}"))
        why_unreadable = unreadable.get(sent) if isinstance(sent, str) else None
        if why_unreadable is not None:
            refusal = refusal or (
                f"not run: the call to {name} could not be read: {why_unreadable}. Send it "
                "again with its complete arguments as one JSON object."
            )
        if raw_input is None:
            raw_input = {}
        if not isinstance(raw_input, dict):
            refusal = refusal or (
                f"not run: the input of a tool_use must be a JSON object, not "
                f"{type(raw_input).__name__}"
            )
            raw_input = {}
        call = ToolCall(id=call_id, tool=name, args=dict(cast(dict[str, Any], raw_input)))
        oversized = refuse_oversized(call)
        if oversized is not None:
            call, refusal = oversized[0], refusal or oversized[1]
        return Claim(call, refusal, why_unreadable is not None)

    def _fresh_id(self, base: str, reserved: set[Any]) -> str:
        candidate, n = base, 1
        while candidate in self._ids or candidate in reserved:  # the model may send "call_1_0"
            n += 1
            candidate = f"{base}_{n}"
        return candidate


def refuse_oversized(call: ToolCall) -> tuple[ToolCall, str] | None:
    """`call` with its arguments replaced by a placeholder, and why, when they are too deep
    or too big to handle; None when they are fine."""
    problem = arguments_problem(call.args)
    if problem is None:
        return None
    omitted = ToolCall(id=call.id, tool=call.tool, args={"_omitted": problem})
    return omitted, f"not run: its {problem}; send a smaller call"


def arguments_problem(
    args: dict[str, Any],
    *,
    max_depth: int = MAX_ARGUMENT_DEPTH,
    max_bytes: int = MAX_ARGUMENT_BYTES,
) -> str | None:
    """Why `args` are too deep or too big to handle (None when they are fine).

    The depth is measured without recursion, so no nesting can overflow the stack here.
    """
    stack: list[tuple[Any, int]] = [(args, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            return f"arguments nest more than {max_depth} levels deep"
        if isinstance(value, dict):
            items = cast(dict[Any, Any], value).values()
        elif isinstance(value, list | tuple):
            items = cast(list[Any], value)
        else:
            continue
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list | tuple))
    size = len(json.dumps(args, ensure_ascii=False, default=str).encode())
    if size > max_bytes:
        return f"arguments are too large: {size} bytes (at most {max_bytes})"
    return None
