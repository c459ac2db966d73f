"""What the loop does when a run stops before it is done.

When a limit or a model failure ends the run, nobody is left to drive a rollout it had
begun, so production is settled first (`settle_production`: an exposed, unpromoted candidate
is rolled back, a staged one removed) and what was done is journaled. (Calls whose input the
model client could not read are answered by `ToolRunner.run_all`, like every other call.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.journal import Journal, Notice
from tools.base import ToolContext

OnEvent = Callable[[str, dict[str, Any]], None]


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
