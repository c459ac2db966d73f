"""The agent loop as an explicit step machine.

model turn -> tool calls (each through the gate) -> results -> next turn, until the model
gives a final answer, a limit is hit, or the run is stopped. Every `tool_use` always gets a
`tool_result`: denials, tool errors, invalid arguments and input the model client could not
read (`ModelResponse.invalid_tool_inputs`) come back as `is_error` results with the reason,
never as a crash, and such calls never run.

When a limit or a model failure stops the run, nobody is left to drive a rollout it had
begun, so production is settled first (`settle_production`: an exposed, unpromoted candidate
is rolled back, a staged one removed) and what was done is journalled and reported.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agent._loop_safety import settle_after_stop
from agent.gate import Gate
from agent.journal import Journal, ModelTurn, Notice
from agent.models.base import (
    ContentBlock,
    Message,
    ModelClient,
    ModelError,
    ModelRequest,
    ToolDataObserver,
    ToolObservation,
    ToolSpec,
    Usage,
)
from agent.redaction import Redactor
from agent.tool_runner import ToolRunner
from tools.base import Tool, ToolContext


class StopReason(StrEnum):
    """Why a run ended; written to the journal's `run_finished` event."""

    COMPLETED = "completed"
    HANDOFF = "handoff"
    MAX_TURNS = "max_turns"
    MAX_TOOL_CALLS = "max_tool_calls"
    TOKEN_BUDGET = "token_budget"  # noqa: S105 (a stop reason, not a password)
    WALL_CLOCK = "wall_clock"
    MODEL_ERROR = "model_error"
    CANCELLED = "cancelled"


# Stops where the run ends with nobody driving it on: production is settled first.
_SETTLED_STOPS = frozenset(
    {
        StopReason.MAX_TURNS,
        StopReason.MAX_TOOL_CALLS,
        StopReason.TOKEN_BUDGET,
        StopReason.WALL_CLOCK,
        StopReason.MODEL_ERROR,
    }
)


@dataclass(frozen=True)
class LoopLimits:
    max_turns: int = 60
    max_tool_calls: int = 300
    token_budget: int = 3_000_000
    wall_clock_s: float = 3600.0
    tool_output_chars: int = 40_000
    max_tokens: int = 8192


@dataclass(frozen=True)
class NextStepRunAgain:
    """Tool results were added; ask the model again."""


@dataclass(frozen=True)
class NextStepFinalOutput:
    text: str


@dataclass(frozen=True)
class NextStepHandoff:
    agent: str
    prompt: str


@dataclass(frozen=True)
class NextStepStop:
    reason: StopReason
    detail: str


NextStep = NextStepRunAgain | NextStepFinalOutput | NextStepHandoff | NextStepStop


@dataclass
class LoopResult:
    """How a run of the loop ended."""

    stop_reason: StopReason
    final_text: str
    detail: str
    turns: int
    tool_calls: int
    usage: Usage
    messages: list[Message] = field(default_factory=list[Message])

    @property
    def completed(self) -> bool:
        return self.stop_reason in (StopReason.COMPLETED, StopReason.HANDOFF)


class AgentLoop:
    """Drives one agent from a user message to a final answer or an explicit stop."""

    def __init__(
        self,
        *,
        model: ModelClient,
        tools: list[Tool],
        gate: Gate,
        ctx: ToolContext,
        journal: Journal,
        redactor: Redactor,
        system_prompt: str,
        limits: LoopLimits,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self._model = model
        self._ctx = ctx
        self._journal = journal
        self._redactor = redactor
        self._limits = limits
        self._on_event = on_event or (lambda _kind, _data: None)
        self._system = redactor.text(system_prompt)
        self._specs = [ToolSpec(t.name, t.description, t.input_schema()) for t in tools]
        self._runner = ToolRunner(
            tools=tools,
            gate=gate,
            ctx=ctx,
            journal=journal,
            redactor=redactor,
            output_limit=limits.tool_output_chars,
            on_event=self._on_event,
        )
        self.messages: list[Message] = []
        self.turns = 0
        self.usage = Usage()
        self._started = 0.0

    @property
    def tool_calls(self) -> int:
        return self._runner.calls_made

    async def run(self, user_message: str) -> LoopResult:
        """Run until the model answers without tools, or a limit or error stops it."""
        self._started = time.monotonic()
        self.messages.append(
            {
                "role": "user",
                "content": [{"type": "text", "text": self._redactor.text(user_message)}],
            }
        )
        while True:
            step = await self._step()
            if isinstance(step, NextStepRunAgain):
                continue
            if isinstance(step, NextStepFinalOutput):
                return self._result(StopReason.COMPLETED, step.text, "")
            if isinstance(step, NextStepHandoff):
                return self._result(StopReason.HANDOFF, "", f"{step.agent}: {step.prompt}")
            detail = step.detail
            if step.reason in _SETTLED_STOPS:
                settled = await self._settle_production(step)
                if settled:
                    detail = f"{detail}; production: {settled}"
            return self._result(step.reason, "", detail)

    async def _step(self) -> NextStep:
        limit = self._limit_reached()
        if limit is not None:
            return limit
        request = ModelRequest(
            system=self._system,
            tools=self._specs,
            messages=self.messages,
            max_tokens=self._limits.max_tokens,
        )
        started = time.monotonic()
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that arrives as the call completes, and a Ctrl-C must stop the run.
            async with asyncio.timeout(self._remaining_s()):
                response = await self._model.complete(request)
        except TimeoutError:
            return NextStepStop(StopReason.WALL_CLOCK, "wall-clock limit hit during a model turn")
        except ModelError as exc:
            self._journal.write(Notice(level="error", message=f"model error: {exc}"))
            return NextStepStop(StopReason.MODEL_ERROR, str(exc))
        self.turns += 1
        self.usage.add(response.usage)
        self.messages.append({"role": "assistant", "content": response.content})
        tool_uses = response.tool_uses
        self._journal.write(
            ModelTurn(
                turn=self.turns,
                model=response.model,
                stop_reason=response.stop_reason,
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
                cache_read_tokens=response.usage.cache_read_tokens,
                cache_write_tokens=response.usage.cache_write_tokens,
                duration_ms=int((time.monotonic() - started) * 1000),
                text=_summarise(response.text),
                tool_uses=[{"id": b.get("id"), "name": b.get("name")} for b in tool_uses],
            )
        )
        self._on_event(
            "model_turn",
            {
                "turn": self.turns,
                "text": response.text,
                "tool_uses": [b.get("name") for b in tool_uses],
            },
        )
        if not tool_uses:
            return NextStepFinalOutput(response.text)
        unreadable = response.invalid_tool_inputs
        # Unreadable calls are answered (invalid) whatever the budget; the rest share it.
        runnable = sum(1 for b in tool_uses if str(b.get("id")) not in unreadable)
        budget = self._limits.max_tool_calls - self.tool_calls
        deadline = self._started + self._limits.wall_clock_s
        results = await self._runner.run_all(
            tool_uses, budget=budget, deadline=deadline, unreadable=unreadable
        )
        self.messages.append({"role": "user", "content": results})
        if isinstance(self._model, ToolDataObserver):
            self._model.observe_tool_results(
                [
                    ToolObservation(r.call.tool, r.status, r.text, r.data)
                    for r in self._runner.last_records
                ]
            )
        if runnable > budget:
            return NextStepStop(
                StopReason.MAX_TOOL_CALLS,
                f"tool-call limit of {self._limits.max_tool_calls} reached",
            )
        return NextStepRunAgain()

    async def _settle_production(self, step: NextStepStop) -> str:
        return await settle_after_stop(
            self._ctx, self._journal, self._on_event, step.reason.value, step.detail
        )

    def _limit_reached(self) -> NextStepStop | None:
        limits = self._limits
        if self.turns >= limits.max_turns:
            return NextStepStop(StopReason.MAX_TURNS, f"turn limit of {limits.max_turns} reached")
        if self.usage.total >= limits.token_budget:
            return NextStepStop(
                StopReason.TOKEN_BUDGET,
                f"token budget of {limits.token_budget} used ({self.usage.total} tokens)",
            )
        if self._remaining_s() <= 0:
            return NextStepStop(
                StopReason.WALL_CLOCK, f"wall-clock limit of {limits.wall_clock_s:.0f} s reached"
            )
        return None

    def _remaining_s(self) -> float:
        return self._limits.wall_clock_s - (time.monotonic() - self._started)

    def _result(self, reason: StopReason, text: str, detail: str) -> LoopResult:
        return LoopResult(
            stop_reason=reason,
            final_text=text,
            detail=detail,
            turns=self.turns,
            tool_calls=self.tool_calls,
            usage=self.usage,
            messages=self.messages,
        )


def _summarise(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + f" [... {len(text) - limit} more]"


__all__ = ["AgentLoop", "ContentBlock", "LoopLimits", "LoopResult", "StopReason"]
