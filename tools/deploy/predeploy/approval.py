"""Migrations ask for their own approval, as a production change, inside `hotfix_predeploy`.

The rest of pre-deployment stays in the worktree (tests, build, scan, tag), so the tool is a
`local` call; running migrations changes the database production uses. Before the migrate
step runs, the exact command and database go to the run's gate as a call of the pseudo-tool
`hotfix_migrate` (effect `production`: asked every time, never "for this run"), with the
usual rules, approver and journal. Without a gate there is nobody to ask, so no migration.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict

from tools.base import Effect, Tool, ToolArgs, ToolCall, ToolContext, ToolResult

if TYPE_CHECKING:
    from agent.gate import Gate

# Returns None when approved, else why not.
MigrationApproval = Callable[[dict[str, Any]], Awaitable[str | None]]

_ids = itertools.count(1)


class _MigrateArgs(ToolArgs):
    model_config = ConfigDict(extra="allow")


class MigrateDatabase(Tool):
    """The gate's view of the migrate step: only ever authorised, never run as a tool."""

    name: ClassVar[str] = "hotfix_migrate"
    description: ClassVar[str] = (
        "Run the fix's database migrations against the configured database (asked during "
        "hotfix_predeploy, after the backup)."
    )
    args_model: ClassVar[type[ToolArgs]] = _MigrateArgs
    effect: ClassVar[Effect] = Effect.PRODUCTION
    source: ClassVar[str] = "hotfix"

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        raise NotImplementedError("hotfix_migrate is only authorised, inside hotfix_predeploy")


def migration_approval(ctx: ToolContext) -> MigrationApproval | None:
    """Ask the run's gate (put in `ctx.extras` by the session); None when there is none."""
    from tools.mcp_bridge.tools import GATE_KEY

    gate: Gate | None = ctx.extras.get(GATE_KEY)
    if gate is None:
        return None
    pseudo = MigrateDatabase()

    async def approve(args: dict[str, Any]) -> str | None:
        call = ToolCall(f"hotfix_migrate-{next(_ids)}", pseudo.name, args)
        authorization = await gate.authorize(pseudo, call, pseudo.effect)
        return None if authorization.allowed else authorization.reason or "not approved"

    return approve
