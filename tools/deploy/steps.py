"""Journaled deployment steps and the state rebuilt from them.

Every step is written to the journal as `started` before it runs and `finished` or `failed`
after. The engine's state is *only* changed by applying those events (`EngineState.apply`),
so a live engine and one resumed from the journal after a crash hold the same state.

Step ids are deterministic (`stage:v1.4.3`, `shift:v1.4.3:10`, `rollback:1`) and each is
run at most once per run: a finished step is never repeated, its recorded result is
returned instead. A step that started but never finished (the process died in between) is
reconciled against the target's actual state: stage, shift, retire and flag steps check
whether the target already shows the change and, if so, are recorded as finished without
calling the target again. Otherwise the step runs again, which is safe because each is
idempotent: setting the same weights twice, staging a version the target already runs,
switching a flag to the value it has, restoring the rollback weights again.

Verdict steps (`verify`, `analysis`, `rollback-verify`) always complete: a check that did
not pass ends as `failed` with `passed: false`, and that verdict is final for the run.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from agent.journal import StepEvent
from tools.base import ToolError

if TYPE_CHECKING:
    from agent.journal import Journal

ROLLBACK_ID = "rollback:1"
ROLLBACK_VERIFY_ID = "rollback-verify:1"
VERDICT_KINDS = frozenset({"verify", "analysis", "rollback-verify"})
# A failure of one of these kinds means the version is not deployable in this run.
_FAILURE_KINDS = frozenset(
    {"deploy", "stage", "verify", "analysis", "shift", "promote", "rolling", "flag"}
)

Details = dict[str, Any]
Phase = Literal["started", "finished", "failed", "skipped"]


class EngineRefusal(ToolError):
    """The engine refused an operation that would break a deployment invariant.

    A `ToolError`, so the model sees the reason as an error result and can change course.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def stage_id(label: str) -> str:
    return f"stage:{label}"


def verify_id(label: str, where: str) -> str:
    return f"verify:{label}" if where == "staged" else f"verify-prod:{label}"


def shift_id(label: str, percent: int) -> str:
    return f"shift:{label}:{percent}"


def analysis_id(label: str, percent: int) -> str:
    return f"analysis:{label}:{percent}"


def step_label(step_id: str) -> str:
    """The version label in a step id (`shift:v1:10` -> `v1`, `promote:flag:x` -> `flag:x`)."""
    body = step_id.split(":", 1)[1] if ":" in step_id else step_id
    head, _, tail = body.rpartition(":")
    return head if head and tail.isdigit() else body


@dataclass
class EngineState:
    """What this run has done to production, rebuilt from step events alone."""

    records: list[Details] = field(default_factory=list[Details])
    completed: dict[str, Details] = field(default_factory=dict[str, Details])
    in_flight: dict[str, Details] = field(default_factory=dict[str, Details])
    staged: dict[str, Details] = field(default_factory=dict[str, Details])
    baseline: dict[str, int] | None = None
    previous: str | None = None
    weights: dict[str, int] = field(default_factory=dict[str, int])
    exposed: set[str] = field(default_factory=set[str])
    verified: set[str] = field(default_factory=set[str])
    prod_verified: set[str] = field(default_factory=set[str])
    failed: dict[str, str] = field(default_factory=dict[str, str])
    analysis_passed: dict[str, set[int]] = field(default_factory=dict[str, set[int]])
    promoted: set[str] = field(default_factory=set[str])
    retired: set[str] = field(default_factory=set[str])
    native_rolled: set[str] = field(default_factory=set[str])
    flags_before: dict[str, bool] = field(default_factory=dict[str, bool])
    deployments: dict[str, Details] = field(default_factory=dict[str, Details])
    rollback_phase: str | None = None  # started | finished | failed
    rollback_reason: str | None = None
    rollback_verified: bool | None = None
    first_failure_ts: float | None = None
    traffic_restored_ts: float | None = None
    checks: list[Details] = field(default_factory=list[Details])
    analyses: list[Details] = field(default_factory=list[Details])
    incidents: list[str] = field(default_factory=list[str])

    def needs_rollback(self) -> str | None:
        """Why production must be rolled back, when a failure hit a version with traffic."""
        if self.rollback_phase == "finished":
            return None
        if self.rollback_phase is not None:
            return self.rollback_reason or "a rollback started and did not finish"
        for label, reason in self.failed.items():
            if label in self.exposed:
                return reason
        return None

    def apply(self, record: Details) -> None:
        """Fold one journal record into the state; records of other types are ignored."""
        if record.get("type") != "step":
            return
        step_id, kind, phase = record["step_id"], record["kind"], record["phase"]
        details: Details = record.get("details") or {}
        label = str(details.get("label") or step_label(step_id))
        self.records.append(
            {"step_id": step_id, "kind": kind, "phase": phase, "ts": record.get("ts")}
        )
        if phase == "started":
            self.in_flight[step_id] = details
            self._started(kind, label, details)
            return
        self.in_flight.pop(step_id, None)
        if phase == "failed":
            self._failed(step_id, kind, label, details)
        elif phase == "finished":
            self.completed[step_id] = details
            self._finished(kind, label, details)

    def _started(self, kind: str, label: str, details: Details) -> None:
        if self.baseline is None and "baseline" in details:
            self.baseline = dict(details["baseline"])
            self.previous = details.get("previous")
        if kind in ("shift", "rolling", "flag"):
            self.exposed.add(label)  # it may have traffic from here on, even if we crash
        if kind == "flag" and details.get("before") is not None:
            self.flags_before.setdefault(details["name"], bool(details["before"]))
        elif kind == "rollback":
            self.rollback_phase = "started"
            self.rollback_reason = details.get("reason")
        elif kind == "deploy":
            self.deployments[label] = dict(details)

    def _failed(self, step_id: str, kind: str, label: str, details: Details) -> None:
        reason = str(details.get("reason") or details.get("error") or f"{step_id} failed")
        self.incidents.append(reason)
        if kind in _FAILURE_KINDS and self.first_failure_ts is None:
            self.first_failure_ts = float(details.get("ts") or time.time())
        if kind in VERDICT_KINDS:
            self.completed[step_id] = details
            self._verdict(kind, label, details)
        if kind in _FAILURE_KINDS:
            self.failed.setdefault(label, reason)
        if kind == "rollback":
            self.rollback_phase = "failed"

    def _finished(self, kind: str, label: str, details: Details) -> None:
        if kind == "stage":
            self.staged[label] = details
            self.retired.discard(label)
        elif kind in ("shift", "rollback") and "weights" in details:
            self.weights = {k: int(v) for k, v in details["weights"].items()}
        if kind in VERDICT_KINDS:
            self._verdict(kind, label, details)
        elif kind == "rolling":
            self.native_rolled.add(label)
        elif kind == "flag":  # an unset flag counts as off
            self.flags_before.setdefault(details["name"], bool(details.get("previous")))
        elif kind == "promote":
            self.promoted.add(label)
        elif kind == "retire":
            self.retired.add(label)
            self.staged.pop(label, None)
        elif kind == "rollback":
            self.rollback_phase = "finished"
            self.traffic_restored_ts = details.get("traffic_restored_ts")
        elif kind == "deploy":
            self.deployments.setdefault(label, {})["status"] = details.get("status")

    def _verdict(self, kind: str, label: str, details: Details) -> None:
        passed = bool(details.get("passed"))
        if kind == "rollback-verify":
            self.rollback_verified = passed
            self.checks.extend(details.get("checks", []))
        elif kind == "verify":
            self.checks.extend(details.get("checks", []))
            if passed:
                target = self.verified if details.get("where") == "staged" else self.prod_verified
                target.add(label)
        else:
            self.analyses.append({**details.get("analysis", {}), "step": details.get("percent")})
            if passed:
                self.analysis_passed.setdefault(label, set()).add(int(details["percent"]))


Action = Callable[[], Awaitable[Details]]
Reconcile = Callable[[], Awaitable[Details | None]]


class StepRunner:
    """Runs steps exactly once, journaling them before and after."""

    def __init__(
        self, journal: Journal | None, state: EngineState, clock: Callable[[], float]
    ) -> None:
        self._journal = journal
        self._state = state
        self._clock = clock

    def write(self, step_id: str, kind: str, phase: Phase, details: Details) -> Details:
        """Journal one step event (fsync'd) and fold it into the state."""
        event = StepEvent(step_id=step_id, kind=kind, phase=phase, details=details)
        if self._journal is not None:
            record = self._journal.write(event)
        else:
            record = {**event.model_dump(mode="json"), "ts": self._clock()}
        self._state.apply(record)
        return record

    async def run(
        self,
        step_id: str,
        kind: str,
        details: Details,
        action: Action,
        *,
        reconcile: Reconcile | None = None,
    ) -> Details:
        """Run `action` as step `step_id` unless it already completed; return its result.

        A result with `passed: false` ends the step as `failed` (a verdict). An exception
        from a mutating action ends it as `failed` and propagates; from a verdict step it
        becomes a failed verdict, since an unverifiable version must not be promoted.
        """
        done = self._state.completed.get(step_id)
        if done is not None:
            return done
        if step_id in self._state.in_flight and reconcile is not None:
            observed = await reconcile()
            if observed is not None:
                result = {**details, **observed, "reconciled": True}
                self.write(step_id, kind, "finished", result)
                return result
        self.write(step_id, kind, "started", details)
        try:
            result = {**details, **await action()}
        except Exception as exc:
            failure = {**details, "error": f"{type(exc).__name__}: {exc}", "ts": self._clock()}
            failure["reason"] = f"{step_id} failed: {failure['error']}"
            if kind not in VERDICT_KINDS:
                self.write(step_id, kind, "failed", failure)
                raise
            result = {**failure, "passed": False, "checks": []}
        phase: Phase = "failed" if result.get("passed") is False else "finished"
        self.write(step_id, kind, phase, result)
        return result
