"""Executes one turn's tool calls: validate, gate, run, shape the result, journal it all.

Reads that are safe to overlap run concurrently; anything else runs alone and in the order
the model asked. Whatever happens, each call yields exactly one `tool_result` block. A call
runs only as validated before the gate, and only when the approval (if any) names exactly
that call's fingerprint; the gate and the approver work on a copy, so nothing they do can
change what runs. Whatever the model sends (no id, a repeated id, input that is not an
object, could not be read, or is too deep or too big) and whatever breaks while a call is
judged (its effect, the gate, the approver), that call is answered with the reason and not
run; the run goes on.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.gate import Authorization, Gate
from agent.journal import Journal, Notice, ToolFinished, ToolRequested
from agent.models.base import ContentBlock
from agent.redaction import Redactor
from agent.tool_output import cap_text, wrap_untrusted
from agent.tool_use_ids import ToolUseIds, refuse_oversized
from tools.base import Effect, Tool, ToolArgs, ToolCall, ToolContext, ToolError


@dataclass
class CallRecord:
    """The outcome of one call: redacted, capped text plus what decided it."""

    call: ToolCall
    status: str  # ok | error | denied | invalid | unknown_tool | skipped
    text: str
    data: dict[str, Any] | None = None
    authorization: Authorization | None = None
    ran: bool = False

    def to_block(self) -> ContentBlock:
        """The `tool_result` block for the model."""
        # Only real tool output is wrapped as untrusted; our own refusals are harness text.
        content = wrap_untrusted(self.call.tool, self.text) if self.ran else self.text
        return {
            "type": "tool_result",
            "tool_use_id": self.call.id,
            "content": content,
            "is_error": self.status != "ok",
        }


@dataclass
class _Prepared:
    """A call that passed validation and the gate, ready to run."""

    call: ToolCall
    tool: Tool
    args: ToolArgs
    parallel: bool
    authorization: Authorization


class ToolRunner:
    """Runs tool calls for the loop; one instance per session."""

    def __init__(
        self,
        *,
        tools: list[Tool],
        gate: Gate,
        ctx: ToolContext,
        journal: Journal,
        redactor: Redactor,
        output_limit: int,
        on_event: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._gate = gate
        self._ctx = ctx
        self._journal = journal
        self._redactor = redactor
        self._output_limit = output_limit
        self._on_event = on_event
        self._ids = ToolUseIds(journal)
        self.calls_made = 0
        self.last_records: list[CallRecord] = []

    async def run_all(
        self,
        tool_uses: list[ContentBlock],
        *,
        budget: int,
        deadline: float,
        unreadable: Mapping[str, str] | None = None,
    ) -> list[ContentBlock]:
        """Results for every `tool_use`, in the order given (`deadline`: time.monotonic()).

        Every block leaves with an id unique in this run, written into the block itself
        (see `ToolUseIds`). `unreadable` maps the ids of blocks whose input the model client
        could not read to why: those are answered "invalid" in place and never run; they
        count as calls but, as they cost nothing, take no share of `budget`, which caps how
        many of the others may run.
        """
        claimed = self._ids.claim_turn(tool_uses, unreadable or {})
        # Keyed by position, not id: no two calls can ever share (or overwrite) a result.
        records: list[CallRecord | None] = [None] * len(claimed)
        batch: list[tuple[int, _Prepared]] = []
        considered = 0  # the calls that count against `budget`
        for index, (call, refusal, unreadable_input) in enumerate(claimed):
            if not unreadable_input:
                considered += 1
                if considered > budget or time.monotonic() >= deadline:
                    which = "tool-call" if considered > budget else "wall-clock"
                    records[index] = self._finish(
                        call, "skipped", f"not run: the run's {which} limit was reached"
                    )
                    continue
            if refusal is not None:
                self.calls_made += 1
                records[index] = self._refuse(call, "invalid", refusal)
                continue
            prepared = await self._prepare(call)
            if isinstance(prepared, CallRecord):
                records[index] = prepared
            elif prepared.parallel:
                batch.append((index, prepared))
            else:
                # A mutation: let earlier reads finish first, then run it alone.
                await self._run_batch(batch, records)
                batch = []
                records[index] = await self._execute(prepared)
        await self._run_batch(batch, records)
        self.last_records = [record for record in records if record is not None]
        assert len(self.last_records) == len(claimed), "a tool_use was left unanswered"
        return [record.to_block() for record in self.last_records]

    async def run_one(self, call: ToolCall) -> CallRecord:
        """Validate, gate and run a single call."""
        oversized = refuse_oversized(call)
        if oversized is not None:
            return self._refuse(oversized[0], "invalid", oversized[1])
        prepared = await self._prepare(call)
        if isinstance(prepared, CallRecord):
            return prepared
        return await self._execute(prepared)

    async def _run_batch(
        self, batch: list[tuple[int, _Prepared]], records: list[CallRecord | None]
    ) -> None:
        outputs = await asyncio.gather(*(self._execute(p) for _, p in batch))
        for (index, _), output in zip(batch, outputs, strict=True):
            records[index] = output

    async def _prepare(self, call: ToolCall) -> _Prepared | CallRecord:
        self.calls_made += 1
        tool = self._tools.get(call.tool)
        if tool is None:
            known = ", ".join(sorted(self._tools))
            return self._refuse(
                call, "unknown_tool", f"unknown tool {call.tool!r}; available: {known}"
            )
        try:
            args = tool.args_model.model_validate(call.args)
        except ValidationError as exc:
            return self._refuse(call, "invalid", _validation_message(tool, exc))
        except Exception as exc:  # a validator bug must not crash the run
            return self._refuse(call, "error", f"not run: {_failed('validation', exc)}")
        try:
            effect = tool.effect_for(args)
        except Exception as exc:  # fail closed: a call whose effect is unknown never runs
            return self._refuse(call, "error", f"not run: {_failed('effect', exc)}")
        self._write_requested(call, effect.value)
        self._on_event(
            "tool_requested",
            {"tool": call.tool, "args": self._redactor.value(call.args), "effect": effect.value},
        )
        # The gate and the approver get a copy: whatever they do to it, what runs is what
        # was validated above, and it runs only if the approval names exactly that call.
        fingerprint = call.fingerprint
        gated = ToolCall(id=call.id, tool=call.tool, args=copy.deepcopy(call.args))
        try:
            authorization = await self._gate.authorize(tool, gated, effect)
            mismatch = _approval_mismatch(authorization, fingerprint, gated)
        except Exception as exc:  # the gate fails closed: a call it cannot decide never runs
            why = _failed("gate", exc)
            self._journal.write(
                Notice(level="error", message=f"{call.tool} ({call.id}) not run: {why}")
            )
            return self._finish(call, "error", f"not run: {why}")
        if not authorization.allowed:
            return self._finish(
                call,
                "denied",
                f"not run: denied by the gate: {authorization.reason}",
                authorization=authorization,
            )
        if mismatch:
            self._journal.write(
                Notice(level="warning", message=f"{call.tool} ({call.id}) not run: {mismatch}")
            )
            return self._finish(call, "denied", f"not run: {mismatch}", authorization=authorization)
        parallel = tool.concurrent_safe and effect is Effect.READ
        return _Prepared(
            call=call, tool=tool, args=args, parallel=parallel, authorization=authorization
        )

    def _refuse(self, call: ToolCall, status: str, text: str) -> CallRecord:
        """Journal the request of a call that is answered without reaching the gate."""
        self._write_requested(call, None)
        return self._finish(call, status, text)

    def _write_requested(self, call: ToolCall, effect: str | None) -> None:
        try:
            self._journal.write(
                ToolRequested(
                    call_id=call.id,
                    tool=call.tool,
                    args=call.args,
                    fingerprint=call.fingerprint,
                    effect=effect,
                )
            )
        except (ValueError, TypeError, RecursionError) as exc:
            # Arguments the journal cannot serialise must not end the run; the record
            # still says which call was asked for, and why its arguments are missing.
            omitted = {"_omitted": f"arguments not journaled ({type(exc).__name__})"}
            self._journal.write(
                ToolRequested(
                    call_id=call.id, tool=call.tool, args=omitted, fingerprint="", effect=effect
                )
            )

    async def _execute(self, prepared: _Prepared) -> CallRecord:
        call, tool, auth = prepared.call, prepared.tool, prepared.authorization
        started = time.monotonic()
        try:
            result = await tool.run(prepared.args, self._ctx)
        except ToolError as exc:
            return self._finish(
                call, "error", f"{tool.name} failed: {exc}", started=started, authorization=auth
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a tool must not crash the run
            return self._finish(
                call,
                "error",
                f"{tool.name} failed with an internal error: {type(exc).__name__}: {exc}",
                started=started,
                authorization=auth,
            )
        status = "error" if result.is_error else "ok"
        return self._finish(
            call, status, result.text, started=started, data=result.data, authorization=auth
        )

    def _finish(
        self,
        call: ToolCall,
        status: str,
        text: str,
        *,
        started: float | None = None,
        data: dict[str, Any] | None = None,
        authorization: Authorization | None = None,
    ) -> CallRecord:
        clean = self._redactor.text(text)
        capped, truncated = cap_text(clean, self._output_limit)
        duration_ms = int((time.monotonic() - started) * 1000) if started is not None else 0
        safe_data = self._redactor.value(data) if data else None
        self._journal.write(
            ToolFinished(
                call_id=call.id,
                tool=call.tool,
                status=status,  # pyright: ignore[reportArgumentType]
                duration_ms=duration_ms,
                output_chars=len(clean),
                truncated=truncated,
                summary=capped[:500],
                data=safe_data,
            )
        )
        self._on_event(
            "tool_finished",
            {"tool": call.tool, "status": status, "summary": capped[:200], "data": safe_data},
        )
        return CallRecord(
            call=call,
            status=status,
            text=capped,
            data=safe_data,
            authorization=authorization,
            ran=started is not None,
        )


def _approval_mismatch(
    authorization: Authorization, fingerprint: str, gated: ToolCall
) -> str | None:
    """Why an allowed call must still not run: the approval is for some other call."""
    approval = authorization.approval
    if gated.fingerprint != fingerprint:
        return "the call was changed while it was being approved; the edited call was not made"
    if approval is not None and approval.fingerprint != fingerprint:
        return "the approval names a different call (fingerprint mismatch)"
    return None


_FAILED = {
    "validation": "its arguments could not be checked",
    "effect": "what it would change could not be worked out",
    "gate": "the gate could not decide on it, and a call the gate cannot decide never runs",
}


def _failed(stage: str, exc: Exception) -> str:
    return f"{_FAILED[stage]} ({type(exc).__name__}: {exc})"


def _validation_message(tool: Tool, exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
        for err in exc.errors()
    )
    return f"invalid arguments for {tool.name}: {problems}. Expected schema: {tool.input_schema()}"
