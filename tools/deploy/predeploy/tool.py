"""`hotfix_predeploy`: the pre-deployment checklist as one tool call, before any staging."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolResult
from tools.deploy.predeploy.runner import run_predeploy


class PredeployArgs(ToolArgs):
    version_ref: str = Field(description="Git ref of the fix, e.g. `hotfix/1.4.3` or a SHA.")
    label: str | None = Field(default=None, description="Version label; derived from the ref.")
    base_ref: str | None = Field(
        default=None,
        description=(
            "What the fix branched from, for the secret scan of its diff; by default "
            "[deploy.predeploy.security] base_ref, else origin/HEAD, main or master."
        ),
    )


class HotfixPredeploy(Tool):
    """Run the configured pre-deployment steps on a worktree of the fix."""

    name = "hotfix_predeploy"
    description = (
        "Prepare a fix for deployment, on a clean checkout of its git ref: run the project's "
        "tests (as `problems` does), build and package it into a versioned artifact with its "
        "sha256, scan the fix's diff for secrets and audit dependencies, validate the "
        "configuration (required settings present, secrets referenced, not inlined), back up "
        "the database and run migrations, and create an annotated git tag. Steps that are "
        "not configured are skipped; the first failure stops it with the reason. Returns the "
        "evidence of each step and how to undo each one. Run it before hotfix_stage or "
        "hotfix_deploy; do not deploy a fix that failed it."
    )
    args_model = PredeployArgs
    effect = Effect.LOCAL
    source: ClassVar[str] = "hotfix"
    concurrent_safe: ClassVar[bool] = False

    async def run(self, args: PredeployArgs, ctx: ToolContext) -> ToolResult:
        report = await run_predeploy(
            ctx, args.version_ref, label=args.label, base_ref=args.base_ref
        )
        return ToolResult(
            ctx.redactor.text(report.text()),
            ctx.redactor.value(report.to_dict()),
            is_error=not report.passed,
        )
