"""The deployment engine: journaled steps over a `Target`, with invariants it enforces itself.

Whatever the caller (a strategy, a tool call from the model, a script) asks, the engine
refuses with `EngineRefusal`:
- to give a version production traffic, or promote it, without a recorded passing
  verification (health + smoke) of that exact label, or with a failed one on record;
- to move a canary beyond its current step before that step's analysis passed;
- anything but status and report once a rollback has started.
A failed verification or analysis of a version that has traffic triggers the rollback at
once (or, with `auto_rollback = false`, leaves the run in `needs_rollback`). The rollback
restores the pre-deployment weights first, stamps `traffic_restored_ts`, and only then
verifies production health and cleans up; nothing sleeps on that path.

With a `notifier`, `started` / `promoted` / `rolled_back` / `finished` events are sent after
the matching journal write; sending only queues them, so it never delays a step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agent.journal import Journal, read_journal
from agent.redaction import Redactor
from tools.base import ToolError
from tools.deploy.settings import StrategySettings
from tools.deploy.steps import (
    Details,
    EngineRefusal,
    EngineState,
    StepRunner,
    shift_id,
    stage_id,
)
from tools.deploy.strategies import resume_strategy, run_strategy
from tools.deploy.strategies.base import DeploymentOutcome, build_outcome
from tools.deploy.strategies.checks import run_observe, run_verify
from tools.deploy.strategies.feature_flag import FlagStore, flag_store_for
from tools.deploy.strategies.rollback import rollback_summary, run_rollback
from tools.deploy.target import StagedVersion, Target, TargetError, VersionSpec

if TYPE_CHECKING:
    from tools.deploy.notify import NotificationSink
    from tools.deploy.verifier import Verifier

__all__ = ["DeploymentEngine", "EngineRefusal"]

Where = Literal["staged", "production"]


class DeploymentEngine:
    """Carries out deployment steps on one target for one run, journaling each."""

    def __init__(
        self,
        target: Target,
        journal: Journal | None,
        *,
        verifier: Verifier,
        settings: StrategySettings | None = None,
        run_id: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        flags: FlagStore | None = None,
        records: Iterable[Details] = (),
        notifier: NotificationSink | None = None,
    ) -> None:
        """Args:
        target: Where versions run and traffic is routed.
        journal: The run's journal; None keeps the step events in memory only.
        verifier: Health checks, smoke tests, traffic and analysis.
        settings: Strategy settings (defaults when None).
        run_id: The run this engine belongs to.
        clock: Epoch seconds; tests pass a fake clock shared with the target.
        sleep: How to wait out a bake; tests pass one that advances the fake clock.
        flags: Where feature flags live; by default the target's own flags, if it has any.
        records: Journal records of this run so far (see `resume`).
        notifier: Where deployment events go (webhooks); never awaited.
        """
        self.target = target
        self.verifier = verifier
        self.settings = settings or StrategySettings()
        self.run_id = run_id or (journal.run_id if journal else None)
        self.clock = clock
        self.sleep = sleep
        self.state = EngineState()
        for record in records:
            self.state.apply(record)
        self.steps = StepRunner(journal, self.state, clock)
        self._flags = flags
        self.notifier = notifier

    @classmethod
    def resume(
        cls,
        journal_path: Path,
        target: Target,
        *,
        verifier: Verifier,
        redactor: Redactor | None = None,
        **options: Any,
    ) -> DeploymentEngine:
        """Rebuild an engine from a run's journal; it appends to the same journal."""
        records = read_journal(journal_path)
        journal = Journal(journal_path, redactor or Redactor(), journal_path.parent.name)
        return cls(target, journal, verifier=verifier, records=records, **options)

    # -- reads --------------------------------------------------------------------------

    async def status(self) -> Details:
        """Target state (weights, versions) plus what this run did and what is pending."""
        now = await self.target.state()
        st = self.state
        return {
            "target": self.target.name,
            "production_url": now.production_url,
            "weights": now.weights,
            "versions": {label: v.url for label, v in now.versions.items()},
            "previous": st.previous,
            "staged": sorted(st.staged),
            "verified": sorted(st.verified),
            "production_verified": sorted(st.prod_verified),
            "analysis_passed": {k: sorted(v) for k, v in st.analysis_passed.items()},
            "failed": dict(st.failed),
            "promoted": sorted(st.promoted),
            "rollback": st.rollback_phase,
            "needs_rollback": st.needs_rollback(),
            "in_flight": sorted(st.in_flight),
            "incidents": list(st.incidents),
        }

    def outcome(self, label: str, strategy: str) -> DeploymentOutcome:
        """The outcome of deploying `label`, derived from the recorded steps."""
        return build_outcome(self.state, label, strategy)

    # -- mutations ----------------------------------------------------------------------

    async def stage(self, spec: VersionSpec) -> StagedVersion:
        """Start `spec` beside production (no traffic); recorded as `stage:<label>`."""
        self.require_open("stage a version")
        sid = stage_id(spec.label)
        if (done := self.state.completed.get(sid)) is None:
            if spec.label in self.state.failed:
                raise EngineRefusal(
                    f"{spec.label} already failed in this run ({self.state.failed[spec.label]});"
                    " build a new version with a new label"
                )
            now = await self.target.state()
            if now.weights.get(spec.label):
                raise EngineRefusal(f"{spec.label} already serves production traffic")
            started = {"label": spec.label, "ref": spec.ref, "artifact": spec.artifact}
            started |= await self.baseline_details()

            async def action() -> Details:
                self.notify("started", {**started, "target": self.target.name})
                staged = await self.target.stage(spec)
                return {"url": staged.url, "target_details": staged.details}

            async def reconcile() -> Details | None:
                running = (await self.target.state()).versions.get(spec.label)
                return None if running is None else {"url": running.url}

            done = await self.steps.run(sid, "stage", started, action, reconcile=reconcile)
        return StagedVersion(spec.label, done["url"], done.get("target_details") or {})

    async def verify(self, label: str, *, where: Where = "staged") -> Details:
        """Health check, then smoke tests, on the version's own URL or through production."""
        return await run_verify(self, label, where)

    async def shift(self, label: str, percent: int) -> Details:
        """Give `label` `percent` % of production traffic (the rest stays on the previous)."""
        self.require_open("shift traffic")
        sid = shift_id(label, percent)
        if (done := self.state.completed.get(sid)) is not None:
            return done
        self._require_promotable(label, percent)
        started: Details = {"label": label, "percent": percent} | await self.baseline_details()
        previous: str | None = started.get("previous", self.state.previous)
        if previous is None or previous == label:
            raise EngineRefusal(f"no previous production version to share traffic with {label}")
        weights = {label: percent}
        if percent < 100:
            weights[previous] = 100 - percent
        started["weights"] = weights

        async def action() -> Details:
            return {"weights": (await self.target.set_weights(weights)).weights}

        async def reconcile() -> Details | None:
            actual = (await self.target.state()).weights
            return {"weights": actual} if _same_weights(actual, weights) else None

        try:
            return await self.steps.run(sid, "shift", started, action, reconcile=reconcile)
        except TargetError as exc:
            await self.handle_failure(label)
            raise ToolError(
                f"shifting {percent}% to {label} failed: {exc}; {self.after_failure()}"
            ) from exc

    async def observe(
        self,
        label: str,
        percent: int,
        *,
        step_id: str | None = None,
        duration_s: float | None = None,
        baseline_since: float | None = None,
    ) -> Details:
        """Watch production traffic for a window and compare `label` with the previous.

        Args:
            label: The candidate, which must have exactly `percent` % of traffic now.
            percent: Its current step; a pass here allows going beyond it.
            step_id: Journal id; `analysis:<label>:<percent>` by default.
            duration_s: Window; the canary bake or the verifier's analysis window by default.
            baseline_since: Take the previous version's metrics from this time (blue-green
                bake: the pre-switch window) instead of the same window as the candidate.
        """
        return await run_observe(self, label, percent, step_id, duration_s, baseline_since)

    async def promote(self, label: str) -> Details:
        """Make `label` the production version: 100 % traffic, verified through production."""
        self.require_open("promote")
        sid = f"promote:{label}"
        if (done := self.state.completed.get(sid)) is not None:
            return done
        st = self.state
        if label.startswith("flag:") or label in st.native_rolled:
            if label in st.failed or label not in st.prod_verified:
                raise EngineRefusal(f"{label} has no passing production verification on record")
        else:
            self._require_promotable(label, 100)
            if st.weights.get(label) != 100:
                await self.shift(label, 100)
            check = await self.verify(label, where="production")
            if not check.get("passed"):
                return {"label": label, "promoted": False, "reason": check.get("reason")}

        async def action() -> Details:
            return {"promoted": True, "previous": st.previous}

        done = await self.steps.run(sid, "promote", {"label": label}, action)
        self.notify("promoted", done)
        return done

    async def retire(self, label: str) -> None:
        """Stop a version that receives no traffic (never one that does)."""
        self.require_open("retire a version")
        if (await self.target.state()).weights.get(label):
            raise EngineRefusal(f"{label} still receives traffic; it cannot be retired")
        await self.retire_step(label)

    async def retire_previous(self, label: str) -> None:
        """After promoting `label`, stop the versions it replaced."""
        if label not in self.state.promoted:
            raise EngineRefusal(f"{label} is not promoted; the previous version stays")
        for old in sorted(set(self.state.baseline or {}) - {label}):
            await self.retire(old)

    async def rollback(self, reason: str) -> Details:
        """Restore pre-deployment traffic (and flags), then verify production health."""
        before = self.state.rollback_phase
        try:
            return await run_rollback(self, reason)
        finally:
            after = self.state.rollback_phase
            if after in ("finished", "failed") and after != before:
                self.notify("rolled_back", rollback_summary(self))

    async def deploy(self, spec: VersionSpec, strategy: str | None = None) -> DeploymentOutcome:
        """Run a whole strategy end to end, with automatic verification and rollback."""
        outcome = await run_strategy(self, spec, strategy or self.settings.default)
        summary = {"label": outcome.version, "status": outcome.status, "summary": outcome.summary()}
        self.notify("finished", summary)
        return outcome

    async def resume_deployment(self) -> DeploymentOutcome | None:
        """Finish an interrupted rollback or deployment; the last deployment's outcome."""
        return await resume_strategy(self)

    # -- shared with the strategies ---------------------------------------------------

    def require_open(self, action: str) -> None:
        """Refuse forward steps once a rollback started, or while one is needed."""
        st = self.state
        if st.rollback_phase is not None:
            raise EngineRefusal(
                f"cannot {action}: a rollback started in this run "
                f"({st.rollback_reason}); only status and report are allowed now"
            )
        if (reason := st.needs_rollback()) is not None:
            raise EngineRefusal(
                f"cannot {action}: production needs a rollback first ({reason}); "
                "call hotfix_rollback"
            )

    def _require_promotable(self, label: str, percent: int) -> None:
        st = self.state
        if label in st.failed:
            raise EngineRefusal(f"{label} failed in this run: {st.failed[label]}")
        if label not in st.verified:
            raise EngineRefusal(
                f"no passing verification of exactly {label} is on record; "
                f"verify it (health + smoke on its own URL) before it gets traffic"
            )
        current = st.weights.get(label, 0)
        if percent < current:
            raise EngineRefusal(f"{label} has {current}%; moving traffic back is a rollback")
        if 0 < current < percent and current not in st.analysis_passed.get(label, set()):
            raise EngineRefusal(
                f"{label} has {current}% of traffic and no passing analysis at that step; "
                "observe it before going further"
            )

    async def baseline_details(self) -> Details:
        """`baseline`/`previous` for a step's started event, until the first is recorded."""
        # Captured once, before the first change, so the rollback knows what to restore.
        if self.state.baseline is not None:
            return {}
        now = await self.target.state()
        return {"baseline": dict(now.weights), "previous": now.primary}

    async def handle_failure(self, label: str) -> None:
        """A failure hit `label`: roll back if it had traffic, clean up if it never did."""
        st = self.state
        if st.rollback_phase is not None:
            return
        if label in st.exposed:
            if self.settings.auto_rollback:
                await self.rollback(st.failed.get(label) or f"{label} failed")
        elif label in st.staged:
            await self.retire_step(label, quietly=True)

    async def retire_step(self, label: str, *, quietly: bool = False) -> None:
        """Journaled `retire:<label>`, without the traffic check of `retire`.

        Quietly: a failed clean-up stays an incident in the journal, not an error.
        """

        async def action() -> Details:
            await self.target.retire(label)
            return {}

        async def reconcile() -> Details | None:
            return None if label in (await self.target.state()).versions else {}

        sid, started = f"retire:{label}", {"label": label}
        try:
            await self.steps.run(sid, "retire", started, action, reconcile=reconcile)
        except TargetError:
            if not quietly:
                raise

    def notify(self, event: str, payload: Details) -> None:
        """Queue a deployment event for the notifier, if any; never raises, never waits."""
        if self.notifier is None:
            return
        try:
            self.notifier.send(event, payload)
        except Exception:  # notifications are best effort; the deployment is not
            return

    def flag_store(self) -> FlagStore:
        """Where flags live: the one given, else the target's own; refuses without one."""
        if self._flags is None:
            self._flags = flag_store_for(self.target, None)
        if self._flags is None:
            raise EngineRefusal(
                f"target {self.target.name} has no feature flags and no flags file is set "
                "([deploy.strategy.feature_flag] file = ...)"
            )
        return self._flags

    def after_failure(self) -> str:
        """One phrase saying what happened to production after a failure."""
        st = self.state
        if st.rollback_phase == "finished":
            return "production was rolled back"
        if st.needs_rollback():
            return "production needs a rollback (hotfix_rollback)"
        return "production traffic was not changed"


def _same_weights(actual: dict[str, int], wanted: dict[str, int]) -> bool:
    return {k: v for k, v in actual.items() if v} == {k: v for k, v in wanted.items() if v}
