"""Which deployment a run made, and how it ended, from its step events alone.

A run deploys in one of two ways, and the report must find the deployment either way:
- one `hotfix_deploy` call runs a whole strategy inside a journaled `deploy:<label>` step;
- the model (Claude in a chat, an MCP client) drives the rollout step by step with
  `hotfix_stage`, `hotfix_verify`, `hotfix_shift_traffic`, `hotfix_promote` and
  `hotfix_rollback`: there is no `deploy` step, and the deployment starts at the
  `stage:<label>` step of the version.
The run's deployment is the last one started; its status is the engine's own verdict
(`status_of`), rebuilt from the same events the engine folded.
"""

from __future__ import annotations

from typing import Literal

from handoffs.facts import Record, RunFacts, iso, resolve_ref
from handoffs.report_model import DeploymentSummary
from tools.deploy.steps import step_label
from tools.deploy.strategies.base import build_outcome

DrivenBy = Literal["strategy", "tools"]


def deployment_summary(facts: RunFacts) -> DeploymentSummary | None:
    """The run's last deployment as the recorded steps tell it; None when it made none."""
    found = last_deployment(facts)
    if found is None:
        return None
    label, driven_by, start = found
    if driven_by == "strategy":
        return _strategy_summary(facts, label)
    return _tools_summary(facts, label, start)


def last_deployment(facts: RunFacts) -> tuple[str, DrivenBy, Record] | None:
    """(label, how it was driven, its first step event) of the last deployment started."""
    open_deploys: set[str] = set()
    last: tuple[str, DrivenBy, Record] | None = None
    for event in facts.steps():
        kind, phase, label = event.get("kind"), event.get("phase"), _label(event)
        if kind == "deploy":
            if phase == "started":
                open_deploys.add(str(event.get("step_id")))
                if last is None or last[:2] != (label, "strategy"):
                    last = (label, "strategy", event)
            else:
                open_deploys.discard(str(event.get("step_id")))
        elif (
            kind == "stage"
            and phase == "started"
            and not open_deploys
            and (last is None or last[:2] != (label, "tools"))
        ):
            # A stage outside any `deploy` step starts a rollout driven with the tools; the
            # same stage started again (retried, resumed) continues that deployment.
            last = (label, "tools", event)
    return last


def previous_ref(facts: RunFacts, previous: str | None) -> str | None:
    """The git ref the previous version runs, when the journal or the repository says."""
    if previous is None or previous.startswith("flag:") or "=" in previous:
        return None
    for event in facts.steps():
        details: Record = event.get("details") or {}
        if isinstance(details.get("previous_ref"), str):
            return str(details["previous_ref"])
        if event.get("kind") == "stage" and details.get("label") == previous:
            return str(details.get("ref") or "") or None
    # Labels are derived from refs (`v1.4.2` from tag `v1.4.2`): trust it only if git agrees.
    return previous if resolve_ref(facts.workspace, previous) else None


def _strategy_summary(facts: RunFacts, label: str) -> DeploymentSummary:
    state = facts.state
    details = state.deployments.get(label, {})
    outcome = build_outcome(state, label, str(details.get("strategy") or ""))
    deploy_steps = [e for e in facts.steps("deploy") if e.get("step_id") == f"deploy:{label}"]
    done = [e for e in deploy_steps if e.get("phase") in ("finished", "failed")]
    promoted = facts.steps("promote", "finished")
    previous = outcome.previous_version
    return DeploymentSummary(
        version=label,
        ref=details.get("ref"),
        strategy=outcome.strategy,
        status=outcome.status,
        previous=previous,
        previous_ref=previous_ref(facts, previous),
        started_at=iso(deploy_steps[0].get("ts")) if deploy_steps else None,
        finished_at=iso(done[-1].get("ts")) if done else None,
        promoted_at=iso(promoted[-1].get("ts")) if promoted else None,
        first_failure_at=iso(outcome.first_failure_ts),
        traffic_restored_at=iso(outcome.traffic_restored_ts),
        time_to_rollback_s=outcome.time_to_rollback_s,
        rollback_verified=outcome.rollback_verified,
        reason=outcome.reason,
    )


def _tools_summary(facts: RunFacts, label: str, start: Record) -> DeploymentSummary:
    state = facts.state
    steps = facts.steps()
    after = steps[next(i for i, e in enumerate(steps) if e is start) :]
    strategy = _tools_strategy(after, label)
    outcome = build_outcome(state, label, strategy)
    status, reason = outcome.status, outcome.reason
    if status == "in_progress" and facts.finished is not None and reason is None:
        # The status stays the engine's own (graders and `hotfix resume` read it so); the
        # reason says that the run is over and nobody promoted the version.
        reason = f"the run ended before {label} was promoted; production traffic: " + (
            _weights(state.weights or state.baseline or {})
        )
    done = [e for e in after if e.get("phase") in ("finished", "failed")]
    promoted = [e for e in after if e.get("step_id") == f"promote:{label}"]
    promoted = [e for e in promoted if e.get("phase") == "finished"]
    ended = status != "in_progress"
    previous = outcome.previous_version
    details: Record = start.get("details") or {}
    return DeploymentSummary(
        version=label,
        ref=details.get("ref"),
        strategy=strategy,
        driven_by="tools",
        status=status,
        previous=previous,
        previous_ref=previous_ref(facts, previous),
        started_at=iso(start.get("ts")),
        finished_at=iso(done[-1].get("ts")) if ended and done else None,
        promoted_at=iso(promoted[-1].get("ts")) if promoted else None,
        first_failure_at=iso(outcome.first_failure_ts),
        traffic_restored_at=iso(outcome.traffic_restored_ts),
        time_to_rollback_s=outcome.time_to_rollback_s,
        rollback_verified=outcome.rollback_verified,
        reason=reason,
    )


def _tools_strategy(steps: list[Record], label: str) -> str:
    """What the steps amounted to: canary (partial shares), blue-green, or manual."""
    percents: list[int] = []
    for event in steps:
        details: Record = event.get("details") or {}
        if event.get("kind") == "shift" and _label(event) == label:
            percent = details.get("percent")
            if isinstance(percent, int):
                percents.append(percent)
    if any(0 < p < 100 for p in percents):
        return "canary"
    if percents or any(e.get("step_id") == f"promote:{label}" for e in steps):
        return "blue-green"
    return "manual"


def _label(event: Record) -> str:
    details: Record = event.get("details") or {}
    return str(details.get("label") or step_label(str(event.get("step_id"))))


def _weights(weights: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}%" for k, v in sorted(weights.items()) if v) or "unchanged"
