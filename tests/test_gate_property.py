"""Property: whatever the model asks and the approver answers, only approved calls run.

Hypothesis draws runs of the real loop, tool runner, gate, policy and journal: batches of
tool calls (parallel batches with duplicates, the same tool with other arguments, arguments
equal up to key order and JSON whitespace, invalid arguments, unknown tools), the
approver's answers (approve once / for this run, deny, time out, hang, raise, approve a
different call, edit the call and approve the edit, answer in text), gate rules
(allow / ask / deny patterns) and tool_use ids (the model's own, none, or an id already used
in the run). For every run:

(a) every mutation (local / remote / production) that ran was allowed by a non-production
    allow rule, or approved as that exact call (tool + canonical arguments), or is the same
    exact non-production call as one approved "for this run"; production calls need their
    own approval every time; deny rules always win; anything but a `ToolApproved` for the
    call's own fingerprint is a denial;
(b) when any call starts, the journal file on disk already holds its request, the gate's
    decision and (when asked) the approval;
(c) reads no rule asks about run without asking; denied calls never run; mutations run alone;
(d) every tool_use gets one result under an id used once in the run (the model's own when
    it sent a new one); a call repeating an id is answered "invalid" and never run.

Examples are derandomised (fixed per test, no example database), so CI sees the same runs;
`HOTFIX_PROPERTY_EXAMPLES=5000` runs a longer soak, `--hypothesis-show-statistics` counts.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from property_gate_harness import GateFactory, Observation, check, run_scenario
from property_gate_scenario import Scenario, call, scenarios

from agent.approvers import Approver
from agent.gate import Authorization, Gate
from agent.journal import Event, Journal
from agent.policy import Policy
from agent.redaction import Redactor
from tools.base import Effect, Tool, ToolCall

settings.register_profile(
    "gate-property",
    max_examples=int(os.environ.get("HOTFIX_PROPERTY_EXAMPLES", "400")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SHIP_A = call("ship_prod", name="a", n=0)
EDIT_B = call("edit_local", name="b", n=1, meta={"x": 1, "y": 2})
EDIT_B_REORDERED = call("edit_local", layout=3, meta={"y": 2, "x": 1}, n=1, name="b")


def _bucket(count: int, top: int = 3) -> str:
    return f"{top}+" if count >= top else str(count)


def _stats(obs: Observation) -> None:
    ran = Counter(e.effect for e in obs.executions)
    for effect in Effect:
        event(f"{effect.value} calls run: {_bucket(ran[effect])}")
    event(f"calls made: {_bucket(len(obs.planned), 10)}")
    event(f"approver asked: {_bucket(len(obs.asked), 5)}")
    for kind in sorted({a.kind for a in obs.asked}):
        event(f"approver answered {kind}")
    approved_for_run: set[str] = set()
    for asked in obs.asked:
        if asked.request.effect is Effect.PRODUCTION and asked.fingerprint in approved_for_run:
            event("production asked again after a run-scope approval")
        if asked.kind == "run":
            approved_for_run.add(asked.fingerprint)
    for p in obs.planned:
        if p.sent is None or p.repeated:
            event("a tool_use without an id" if p.sent is None else "a repeated tool_use id")
    fingerprints = Counter(p.fingerprint for p in obs.planned)
    if any(fingerprints[p.fingerprint] > 1 and list(p.args) != sorted(p.args) for p in obs.planned):
        event("the same call sent with its keys in another order")


@pytest.mark.slow
@settings(settings.get_profile("gate-property"))
@given(scenario=scenarios())
# Production approved "for this run" is still asked the next time, and a denial sticks.
@example(
    Scenario(
        turns=((SHIP_A, SHIP_A), (SHIP_A,)),
        answers=("run", "deny"),
        fallback="once",
        allow=("ship_prod", "*"),
    )
)
# Key order and whitespace do not make a new call: one run-scope approval covers both.
@example(
    Scenario(
        turns=((EDIT_B, EDIT_B_REORDERED), (call("edit_local", name="b", n=0),)),
        answers=("run", "stale"),
        fallback="deny",
    )
)
# A deny rule beats an allow rule; a read is not asked; a breaking approver is a denial.
@example(
    Scenario(
        turns=(
            (
                call("read_probe", name="a", n=0),
                call("push_remote", name="b", n=1),
                call("flex_probe", name="prod-1", n=0),
            ),
        ),
        answers=("raise",),
        fallback="once",
        deny=("push_*",),
        allow=("*",),
    )
)
# A replayed production call (same block, same id) runs once, however readily approved;
# calls without ids get their own; a later turn reusing an id does not run again.
@example(
    Scenario(
        turns=((SHIP_A, SHIP_A, EDIT_B), (EDIT_B, SHIP_A)),
        answers=("once",),
        fallback="once",
        ids=("own", "repeat", "none", "none", "repeat"),
    )
)
def test_only_approved_calls_run_and_are_journaled_first(scenario: Scenario) -> None:
    obs = run_scenario(scenario)
    _stats(obs)
    check(obs)


def test_an_approver_that_edits_the_call_in_place_does_not_get_the_original_run() -> None:
    # The approver changes `n` to 7 in the request and approves that; neither call runs.
    obs = run_scenario(Scenario(turns=((SHIP_A,), (SHIP_A,)), answers=("edit", "once")))
    check(obs)
    statuses = [e["status"] for e in obs.journal if e["type"] == "tool_finished"]
    assert statuses == ["denied", "ok"]
    assert [e.fingerprint for e in obs.executions] == [obs.planned[1].fingerprint]
    assert any(
        "changed while it was being approved" in e.get("message", "")
        for e in obs.journal
        if e["type"] == "notice"
    )


class _IgnoresDenials(Gate):
    """A broken gate: runs asked-about calls whatever the approver said."""

    async def authorize(self, tool: Tool, call: ToolCall, effect: Effect) -> Authorization:
        decision = await super().authorize(tool, call, effect)
        if decision.approval is not None and not decision.allowed:
            return Authorization(True, decision.verdict, decision.approval, "ignored a denial")
        return decision


class _RemembersProductionForTheRun(Gate):
    """A broken gate: lets a production approval "for this run" cover later calls."""

    def __init__(
        self, policy: Policy, approver: Approver, journal: Journal, redactor: Redactor
    ) -> None:
        super().__init__(policy, approver, journal, redactor)
        self._seen: set[str] = set()

    async def authorize(self, tool: Tool, call: ToolCall, effect: Effect) -> Authorization:
        decision = await super().authorize(tool, call, effect)
        if decision.allowed:
            self._seen.add(call.fingerprint)
        elif call.fingerprint in self._seen:
            return Authorization(True, decision.verdict, decision.approval, "reused")
        return decision


class _LateJournal:
    """Holds the gate's events back until the runner reports a call finished."""

    def __init__(self, real: Journal) -> None:
        self._real = real
        self._held: list[Event] = []
        real.add_listener(self._flush)

    def write(self, event: Event) -> dict[str, Any]:
        self._held.append(event)
        return {}

    def _flush(self, record: dict[str, Any]) -> None:
        if record["type"] == "tool_finished":
            held, self._held = self._held, []
            for event in held:
                self._real.write(event)


def _journals_late(
    policy: Policy, approver: Approver, journal: Journal, redactor: Redactor
) -> Gate:
    return Gate(policy, approver, cast(Journal, _LateJournal(journal)), redactor)


@pytest.mark.parametrize(
    ("broken", "scenario", "message"),
    [
        (_IgnoresDenials, Scenario(turns=((SHIP_A,),), answers=("deny",)), "without an approval"),
        (
            _RemembersProductionForTheRun,
            Scenario(turns=((SHIP_A,), (SHIP_A,)), answers=("run", "deny")),
            "without an approval",
        ),
        (_journals_late, Scenario(turns=((EDIT_B,),), answers=("once",)), "before its request"),
    ],
    ids=["ignores-denials", "production-run-scope", "journals-decisions-late"],
)
def test_the_property_check_catches_a_broken_gate(
    broken: GateFactory, scenario: Scenario, message: str
) -> None:
    check(run_scenario(scenario))  # the real gate passes the same scenario
    with pytest.raises(AssertionError, match=message):
        check(run_scenario(scenario, broken))
