"""What the loop does when a turn cannot go on normally.

- A call whose input the model client could not read (not JSON, cut off at `max_tokens`) is
  answered with an error result and journaled; it never reaches the gate or a tool.
- When a limit or a model failure ends the run, nobody is left to drive a rollout it had
  begun, so production is settled first (`settle_production`: an exposed, unpromoted
  candidate is rolled back, a staged one removed) and what was done is journaled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.journal import Journal, Notice, ToolFinished, ToolRequested
from agent.models.base import ContentBlock
from agent.redaction import Redactor
from tools.base import ToolCall, ToolContext

OnEvent = Callable[[str, dict[str, Any]], None]


def refuse_unreadable(
    block: ContentBlock, reason: str, journal: Journal, redactor: Redactor, on_event: OnEvent
) -> ContentBlock:
    """The `tool_result` for a call whose input could not be read; the call never runs."""
    raw_input: Any = block.get("input")
    args: dict[str, Any] = raw_input if isinstance(raw_input, dict) else {}
    call = ToolCall(id=str(block.get("id")), tool=str(block.get("name", "")), args=args)
    text = redactor.text(
        f"not run: the call to {call.tool} could not be read: {reason}. Send it again "
        "with its complete arguments as one JSON object."
    )
    journal.write(
        ToolRequested(call_id=call.id, tool=call.tool, args=call.args, fingerprint=call.fingerprint)
    )
    journal.write(
        ToolFinished(
            call_id=call.id,
            tool=call.tool,
            status="invalid",
            output_chars=len(text),
            summary=text[:500],
        )
    )
    on_event(
        "tool_finished",
        {"tool": call.tool, "status": "invalid", "summary": text[:200], "data": None},
    )
    return {"type": "tool_result", "tool_use_id": call.id, "content": text, "is_error": True}


async def settle_after_stop(
    ctx: ToolContext, journal: Journal, on_event: OnEvent, reason: str, detail: str
) -> str:
    """Leave production on a verified version before the run ends; what was done ("" if
    the run has no deployment session)."""
    session = ctx.extras.get("deploy")
    engine = getattr(session, "engine", None)
    if engine is None:
        return ""
    from agent.mcp_server.safe_stop import settle_production

    why = f"the run stopped ({reason}): {detail}"
    try:
        level, what = await settle_production(engine, why)
    except Exception as exc:  # never let settling hide why the run stopped
        level, what = (
            "error",
            f"could not be settled ({type(exc).__name__}: {exc}); "
            f"finish it with `hotfix rollback {ctx.run_id}`",
        )
    journal.write(Notice(level=level, message=f"stopped safely ({reason}): {what}"))
    on_event("stopped_safely", {"reason": reason, "level": level, "production": what})
    return what
