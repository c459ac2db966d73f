"""The deployment tools the agent calls (`hotfix_*`), over one shared engine per run.

The engine lives in a `DeploySession` at `ctx.extras["deploy"]`, built by whoever starts
the run with `open_deploy_session`. The tools add no safety logic of their own: the gate
decides whether a call may run, and the engine refuses whatever breaks its invariants.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, Field

from agent.journal import read_journal
from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolError, ToolResult
from tools.deploy.engine import DeploymentEngine
from tools.deploy.plan import build_plan, describe_weights
from tools.deploy.settings import StrategySettings
from tools.deploy.strategies.base import DeploymentOutcome
from tools.deploy.strategies.feature_flag import FileFlags
from tools.deploy.strategies.rollback import rollback_summary
from tools.deploy.target import Target, TargetError, VersionSpec
from tools.deploy.verification.settings import VerificationSettings
from tools.deploy.verifier import DefaultVerifier, Verifier

if TYPE_CHECKING:
    from tools.deploy.notify import NotificationSink

_M = TypeVar("_M", bound=BaseModel)
_VERSION = re.compile(r"\d+(\.\d+)+([.-].*)?")


def label_from_ref(ref: str) -> str:
    """A version label from a git ref: `hotfix/1.4.3` -> `v1.4.3`, `abc1234` -> `abc1234`."""
    tail = ref.rstrip("/").rsplit("/", 1)[-1] or ref
    label = re.sub(r"[^A-Za-z0-9._-]", "-", tail)
    return f"v{label}" if _VERSION.fullmatch(label) else label


@dataclass
class DeploySession:
    """One run's deployment engine and the settings it was opened with."""

    engine: DeploymentEngine
    settings: StrategySettings
    # The outcome of the last end-to-end deployment of this run, for the front end.
    last_outcome: DeploymentOutcome | None = None

    def spec(self, version_ref: str, label: str | None = None) -> VersionSpec:
        """What to deploy for `version_ref` (a git ref), labelled `label` or from the ref."""
        return VersionSpec(label=label or label_from_ref(version_ref), ref=version_ref)


def open_deploy_session(
    ctx: ToolContext,
    target: Target,
    *,
    verifier: Verifier | None = None,
    strategy: StrategySettings | None = None,
    verification: VerificationSettings | None = None,
    resume: bool = False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    notifier: NotificationSink | None = None,
) -> DeploySession:
    """Build the run's deployment engine over `target` and put it in `ctx.extras["deploy"]`.

    Settings default to `ctx.config.deploy.strategy` / `.verification` when those exist.
    With `resume=True` the engine first replays the step events already in `ctx.journal`
    (same run), so finished steps are not repeated; call `engine.resume_deployment()`
    to finish an interrupted deployment or rollback. `notifier` receives the deployment
    events (`tools.deploy.notify`).
    """
    deploy_config = ctx.config.deploy
    strategy = strategy or _section(deploy_config, "strategy", StrategySettings)
    verification = verification or _section(deploy_config, "verification", VerificationSettings)
    flags_file = strategy.feature_flag.file
    engine = DeploymentEngine(
        target,
        ctx.journal,
        verifier=verifier or DefaultVerifier(verification, workspace=ctx.workspace),
        settings=strategy,
        run_id=ctx.run_id,
        clock=clock,
        sleep=sleep,
        flags=FileFlags(ctx.workspace / flags_file) if flags_file else None,
        records=read_journal(ctx.journal.path) if resume and ctx.journal else (),
        notifier=notifier,
    )
    session = DeploySession(engine, strategy)
    ctx.extras["deploy"] = session
    return session


def _section(config: object, name: str, model: type[_M]) -> _M:
    value = getattr(config, name, None)
    if isinstance(value, model):
        return value
    return model.model_validate(value) if value is not None else model()


def _session(ctx: ToolContext) -> DeploySession:
    session = ctx.extras.get("deploy")
    if not isinstance(session, DeploySession):
        raise ToolError("no deployment target is set up for this run (deploy session missing)")
    return session


def _result(text: str, data: dict[str, Any]) -> ToolResult:
    return ToolResult(text=text, data=data)


class _HotfixTool(Tool):
    source: ClassVar[str] = "hotfix"
    concurrent_safe: ClassVar[bool] = False

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        try:
            return await self.execute(args, ctx)
        except TargetError as exc:  # the target's own words, as an error the model sees
            raise ToolError(f"{self.name}: the deployment target failed: {exc}") from exc

    @abstractmethod
    async def execute(self, args: Any, ctx: ToolContext) -> ToolResult:
        """The tool's work; `TargetError` becomes a `ToolError`."""


class NoArgs(ToolArgs):
    """No arguments."""


class VersionArgs(ToolArgs):
    version_ref: str = Field(description="Git ref of the fix, e.g. `hotfix/1.4.3` or a SHA.")
    strategy: str | None = Field(
        default=None,
        description="blue-green, canary, rolling or feature-flag; default from the config.",
    )


class StageArgs(ToolArgs):
    version_ref: str = Field(description="Git ref of the fix, e.g. `hotfix/1.4.3` or a SHA.")
    label: str | None = Field(default=None, description="Version label; derived from the ref.")


class LabelArgs(ToolArgs):
    label: str = Field(description="Exact version label, as returned by hotfix_stage.")


class ShiftArgs(LabelArgs):
    percent: int = Field(ge=1, le=100, description="Share of production traffic, 1-100.")


class RollbackArgs(ToolArgs):
    reason: str = Field(min_length=1, description="Why production is being rolled back.")


class HotfixStatus(_HotfixTool):
    name = "hotfix_status"
    description = (
        "Show the deployment target now: versions running, production traffic weights, and "
        "what this run has staged, verified, promoted or rolled back. No side effects."
    )
    args_model = NoArgs
    effect = Effect.READ
    concurrent_safe = True

    async def execute(self, args: NoArgs, ctx: ToolContext) -> ToolResult:
        data = await _session(ctx).engine.status()
        weights = ", ".join(f"{k} {v}%" for k, v in sorted(data["weights"].items()))
        text = f"{data['target']}: traffic {weights or 'none'}"
        if data["needs_rollback"]:
            text += f"; NEEDS ROLLBACK: {data['needs_rollback']}"
        return _result(text, data)


class HotfixPlan(_HotfixTool):
    name = "hotfix_plan"
    description = (
        "Plan a deployment without changing anything: the steps the strategy would take and "
        "the exact rollback procedure. Use it to show the user what will happen."
    )
    args_model = VersionArgs
    effect = Effect.READ
    concurrent_safe = True

    async def execute(self, args: VersionArgs, ctx: ToolContext) -> ToolResult:
        session = _session(ctx)
        plan = await build_plan(session.engine, session.spec(args.version_ref), args.strategy)
        return _result(plan.text(), plan.to_dict())


class HotfixStage(_HotfixTool):
    name = "hotfix_stage"
    description = (
        "Start the fix's version beside production, with no production traffic. Returns its "
        "label and direct URL. Next: hotfix_verify(label)."
    )
    args_model = StageArgs
    effect = Effect.REMOTE

    async def execute(self, args: StageArgs, ctx: ToolContext) -> ToolResult:
        session = _session(ctx)
        staged = await session.engine.stage(session.spec(args.version_ref, args.label))
        data = {"label": staged.label, "url": staged.url, "details": staged.details}
        return _result(f"staged {staged.label} at {staged.url} (no production traffic)", data)


class HotfixVerify(_HotfixTool):
    name = "hotfix_verify"
    description = (
        "Run the health check and smoke tests directly against a staged version. A pass is "
        "required before it may receive traffic; a failure is final for that version and "
        "removes it."
    )
    args_model = LabelArgs
    # Not a read: smoke tests may write to the staged version, and a failure retires it.
    effect = Effect.REMOTE

    async def execute(self, args: LabelArgs, ctx: ToolContext) -> ToolResult:
        result = await _session(ctx).engine.verify(args.label)
        verdict = "PASSED" if result.get("passed") else f"FAILED: {result.get('reason')}"
        return _result(f"verification of {args.label} {verdict}", result)


class HotfixShiftTraffic(_HotfixTool):
    name = "hotfix_shift_traffic"
    description = (
        "Give a verified version `percent` % of production traffic, then judge it: below 100 "
        "it observes traffic for an analysis window and compares errors and latency with the "
        "previous version; at 100 it verifies through the production URL. A failure rolls "
        "back at once. Each step needs the previous one to have passed."
    )
    args_model = ShiftArgs
    effect = Effect.PRODUCTION

    async def execute(self, args: ShiftArgs, ctx: ToolContext) -> ToolResult:
        engine = _session(ctx).engine
        await engine.shift(args.label, args.percent)
        if args.percent < 100:
            verdict = await engine.observe(args.label, args.percent)
        else:
            verdict = await engine.verify(args.label, where="production")
        state = await engine.target.state()
        data = {"verdict": verdict, "weights": state.weights, "status": await engine.status()}
        if verdict.get("passed"):
            text = f"{args.label} has {args.percent}% of traffic; check passed"
        else:
            text = f"{verdict.get('reason')}; {engine.after_failure()}"
            text += f"; traffic now {describe_weights(state)}"
        return _result(text, data)


class HotfixPromote(_HotfixTool):
    name = "hotfix_promote"
    description = (
        "Make a verified version the production version: 100 % traffic, health + smoke "
        "through the production URL, then retire the previous version. Refused without a "
        "passing verification of that exact label."
    )
    args_model = LabelArgs
    effect = Effect.PRODUCTION

    async def execute(self, args: LabelArgs, ctx: ToolContext) -> ToolResult:
        engine = _session(ctx).engine
        result = await engine.promote(args.label)
        if not result.get("promoted"):
            text = f"{args.label} not promoted: {result.get('reason')}; {engine.after_failure()}"
            return _result(text, result)
        await engine.retire_previous(args.label)
        return _result(f"{args.label} promoted; previous version retired", result)


class HotfixRollback(_HotfixTool):
    name = "hotfix_rollback"
    description = (
        "Restore the production traffic (and flags) as they were before this run, verify "
        "production health, and retire the new version. Safe to repeat."
    )
    args_model = RollbackArgs
    effect = Effect.PRODUCTION

    async def execute(self, args: RollbackArgs, ctx: ToolContext) -> ToolResult:
        engine = _session(ctx).engine
        await engine.rollback(args.reason)
        data = rollback_summary(engine)
        healthy = "healthy" if data["verified"] else "NOT healthy"
        return _result(f"rolled back ({data['weights']}); production {healthy}", data)


class HotfixDeploy(_HotfixTool):
    name = "hotfix_deploy"
    description = (
        "Deploy a fix end to end with a strategy: stage, verify, shift traffic, analyse, "
        "promote — rolling back automatically at the first failed check. Returns the outcome "
        "(deployed, rolled_back, failed or needs_rollback) with all check results."
    )
    args_model = VersionArgs
    effect = Effect.PRODUCTION

    async def execute(self, args: VersionArgs, ctx: ToolContext) -> ToolResult:
        session = _session(ctx)
        outcome = await session.engine.deploy(session.spec(args.version_ref), args.strategy)
        session.last_outcome = outcome
        return _result(outcome.summary(), outcome.to_dict())


DEPLOY_TOOLS: tuple[type[Tool], ...] = (
    HotfixStatus,
    HotfixPlan,
    HotfixStage,
    HotfixVerify,
    HotfixShiftTraffic,
    HotfixPromote,
    HotfixRollback,
    HotfixDeploy,
)


def deploy_tools() -> list[Tool]:
    """One instance of each deployment tool, for the registry."""
    return [tool() for tool in DEPLOY_TOOLS]
