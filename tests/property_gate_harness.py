"""Runs a scenario through the real loop, runner, gate and journal, then checks it.

`run_scenario` wires the real `AgentLoop` (which builds the real `ToolRunner`), the real
`Gate` and `Policy`, a real `Journal` in a temporary directory, the fake tools from a
`ToolRegistry`, a `ScriptedModel` (that can also send blocks without an id) and the
`ScriptedApprover`. `check` states the properties; it raises AssertionError naming the call
that broke one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from property_gate_scenario import Scenario
from property_gate_world import (
    FAKE_NAMES,
    FAKE_TOOLS,
    GENUINE,
    RECORDER_KEY,
    Asked,
    Execution,
    Recorder,
    ScriptedApprover,
    expected_effect,
    expected_valid,
    expected_verdict,
)

from agent.approvers import Approver, ToolApproved
from agent.config import GateConfig, HotfixConfig
from agent.gate import Gate
from agent.journal import Journal, read_journal
from agent.loop import AgentLoop, LoopLimits, LoopResult, StopReason
from agent.models.base import ModelRequest, ModelResponse
from agent.models.scripted import ScriptedModel
from agent.policy import Policy
from agent.redaction import Redactor
from tools.base import Effect, ToolCall, ToolContext
from tools.registry import ToolRegistry

GateFactory = Callable[[Policy, Approver, Journal, Redactor], Gate]
_CONFIG = HotfixConfig()
# The journal is a real file, fsync'd as always; on tmpfs (when there is one) the fsyncs
# cost nothing, so hundreds of runs fit in seconds. What (b) checks is the order: what a
# separate read of the file returns at the instant a tool starts.
_TMP_ROOT = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


_NO_ID = "no-id-"  # a scripted id with this prefix is removed before the loop sees it


@dataclass(frozen=True)
class Planned:
    """One `tool_use` of the scenario, with what the oracle says about it.

    `sent` is the id the model sends (None: no id); `id` is the one the call is answered
    under, read back from the echoed assistant turn after the run (until then: `sent`).
    """

    id: str
    turn: int
    tool: str
    args: dict[str, Any]
    fingerprint: str
    valid: bool
    effect: Effect | None
    verdict: str | None  # allow / ask / deny, for valid calls only
    sent: str | None = None
    repeated: bool = False  # `sent` was already used in the run: never gated, never run


class _IdDroppingModel(ScriptedModel):
    """The script format insists on ids; a model behind a buggy proxy may send none."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        response = await super().complete(request)
        for block in response.tool_uses:
            if str(block["id"]).startswith(_NO_ID):
                del block["id"]
        return response


@dataclass
class Observation:
    """Everything a run left behind."""

    planned: list[Planned]
    result: LoopResult
    model: ScriptedModel
    asked: list[Asked]
    executions: list[Execution]
    journal: list[dict[str, Any]]


def plan(scenario: Scenario) -> list[Planned]:
    """The scenario's calls in the order the model makes them, each judged by the oracle."""
    planned: list[Planned] = []
    for turn, blocks in enumerate(scenario.turns):
        for block in blocks:
            args = block.args()
            valid = expected_valid(block.tool, args)
            call = ToolCall(id=f"c{len(planned) + 1}", tool=block.tool, args=args)
            effect = expected_effect(block.tool, args) if valid else None
            verdict = (
                expected_verdict(block.tool, args, scenario.deny, scenario.ask, scenario.allow)
                if valid
                else None
            )
            sent, repeated = _sent_id(scenario, planned, call.id)
            planned.append(
                Planned(
                    sent or f"{_NO_ID}{call.id}",
                    turn,
                    block.tool,
                    args,
                    call.fingerprint,
                    valid,
                    effect,
                    verdict,
                    sent,
                    repeated,
                )
            )
    return planned


def _sent_id(scenario: Scenario, earlier: list[Planned], own: str) -> tuple[str | None, bool]:
    """The id the model sends for the next block, and whether the run already used it."""
    index = len(earlier)
    mode = scenario.ids[index] if index < len(scenario.ids) else "own"
    if mode == "none":
        return None, False
    previous = [p.sent for p in earlier if p.sent is not None]
    if mode == "repeat" and previous:
        return previous[-1], True
    return own, False


def run_scenario(scenario: Scenario, gate_factory: GateFactory = Gate) -> Observation:
    """Drive the scenario through the real loop; the journal lives in a temporary dir."""
    planned = plan(scenario)
    script: list[Any] = []
    for turn in range(len(scenario.turns)):
        blocks: list[dict[str, Any]] = [{"type": "text", "text": f"turn {turn + 1}"}]
        blocks += [
            {"type": "tool_use", "id": p.id, "name": p.tool, "input": p.args}
            for p in planned
            if p.turn == turn
        ]
        script.append(blocks)
    script.append([{"type": "text", "text": "done"}])
    model = _IdDroppingModel.from_data({"turns": script})
    approver = ScriptedApprover(scenario.answers, scenario.fallback)
    tools, _ = ToolRegistry(t() for t in FAKE_TOOLS).select(FAKE_NAMES)
    policy = Policy(
        GateConfig(deny=list(scenario.deny), ask=list(scenario.ask), allow=list(scenario.allow))
    )
    with tempfile.TemporaryDirectory(prefix="gate-property-", dir=_TMP_ROOT) as tmp:
        redactor = Redactor()
        journal = Journal.create(Path(tmp), redactor, run_id="property")
        recorder = Recorder(journal.path)
        ctx = ToolContext(
            workspace=Path(tmp),
            config=_CONFIG,
            redactor=redactor,
            journal=journal,
            run_id=journal.run_id,
            extras={RECORDER_KEY: recorder},
        )
        loop = AgentLoop(
            model=model,
            tools=tools,
            gate=gate_factory(policy, approver, journal, redactor),
            ctx=ctx,
            journal=journal,
            redactor=redactor,
            system_prompt="property test",
            limits=LoopLimits(max_turns=len(script) + 1),
        )
        try:
            result = asyncio.run(loop.run("exercise the gate"))
        finally:
            journal.close()
        events = read_journal(journal.path)
    return Observation(
        _answered_ids(planned, model), result, model, approver.log, recorder.executions, events
    )


def _answered_ids(planned: list[Planned], model: ScriptedModel) -> list[Planned]:
    """Each call with the id it was answered under, read from the echoed assistant turns."""
    echoed: list[str] = []
    for turn in range(max(p.turn for p in planned) + 1):
        if turn + 1 >= len(model.calls):
            return planned  # the run stopped early; `check` reports that
        assistant = model.calls[turn + 1].messages[-2]
        assert assistant["role"] == "assistant", "the assistant turn was not echoed"
        echoed += [b.get("id") for b in assistant["content"] if b["type"] == "tool_use"]
    assert len(echoed) == len(planned), "the echoed turns lost or added a tool_use"
    return [dataclasses.replace(p, id=str(i)) for p, i in zip(planned, echoed, strict=True)]


def _by_call(events: list[dict[str, Any]], kind: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["type"] == kind:
            found.setdefault(event["call_id"], []).append(event)
    return found


def _authorised(events: list[dict[str, Any]], call_id: str) -> bool:
    """Whether the journal shows `call_id` requested, decided and (if asked) approved."""
    requested = any(e["type"] == "tool_requested" and e["call_id"] == call_id for e in events)
    decisions = [e for e in events if e["type"] == "gate_decision" and e["call_id"] == call_id]
    approvals = [e for e in events if e["type"] == "approval" and e["call_id"] == call_id]
    if not requested or len(decisions) != 1:
        return False
    decision = decisions[0]["decision"]
    return decision == "allow" or (
        decision == "ask" and [a["approved"] for a in approvals] == [True]
    )


def check(obs: Observation) -> None:
    """Assert every property; see the module docstring of `test_gate_property`."""
    planned, events = obs.planned, obs.journal
    by_id = {p.id: p for p in planned}
    asked = {a.request.call.id: a for a in obs.asked}
    finished = _by_call(events, "tool_finished")
    decided = _by_call(events, "gate_decision")
    assert obs.result.stop_reason is StopReason.COMPLETED, obs.result.detail
    obs.model.assert_complete()

    # Every tool_use got exactly one tool_result, in order, and one tool_finished, under an
    # id used once in the whole run: the one the model sent, unless it sent none or one
    # already used (then a fresh one, also in the echoed turn).
    assert len(by_id) == len(planned), f"tool_use ids repeat: {[p.id for p in planned]}"
    for p in planned:
        kept = p.sent is not None and not p.repeated
        assert (p.id == p.sent) == kept, f"{p.id} (sent as {p.sent!r}): wrong id"
    for turn in range(max(p.turn for p in planned) + 1):
        sent = obs.model.calls[turn + 1].messages[-1]["content"]
        expected_ids = [p.id for p in planned if p.turn == turn]
        assert [b["tool_use_id"] for b in sent] == expected_ids, f"turn {turn + 1} results"
    assert sorted(finished) == sorted(by_id) and all(len(v) == 1 for v in finished.values())
    ran = {cid for cid, (event,) in finished.items() if event["status"] == "ok"}

    # The journal's record of what ran is the truth: it matches the real executions.
    assert Counter(by_id[c].fingerprint for c in ran) == Counter(
        e.fingerprint for e in obs.executions
    ), "journal 'ok' calls differ from real runs"

    for p in planned:
        status = finished[p.id][0]["status"]
        if p.repeated:  # a repeated id may be a replay: refused whatever the call
            assert status == "invalid", f"{p.id} (repeats {p.sent!r}): {status}"
        if not p.valid or p.repeated:  # unknown tools, invalid arguments, repeated ids:
            assert status in ("unknown_tool", "invalid"), f"{p.id} {p.tool!r}: {status}"
            assert p.id not in decided and p.id not in asked, f"{p.id} reached the gate"
            continue  # never gated, asked or run
        # Deny rules win; a production call is never allowed by a rule.
        assert [d["decision"] for d in decided.get(p.id, [])] == [p.verdict], f"{p.id}: verdict"
        if p.id in asked:  # the approver sees the exact call and its real effect
            seen = asked[p.id]
            assert p.verdict == "ask", f"{p.id}: approver asked about a {p.verdict} call"
            assert (seen.fingerprint, seen.args, seen.request.effect) == (
                p.fingerprint,
                p.args,
                p.effect,
            ), f"{p.id}: request describes another call"

    _check_approvals_bind(planned, asked, ran)
    _check_journal_before_run(obs)


def _check_approvals_bind(planned: list[Planned], asked: dict[str, Asked], ran: set[str]) -> None:
    """(a) + (c): what ran is exactly what the rules or a real approval allowed."""
    run_scope: set[str] = set()  # fingerprints approved "for this run" (never production)
    denied: set[str] = set()
    for p in (p for p in planned if p.valid and not p.repeated):
        production = p.effect is Effect.PRODUCTION
        answer = asked.get(p.id)
        genuine = (
            answer is not None
            and answer.kind in GENUINE
            and isinstance(answer.answer, ToolApproved)
            and answer.answer.fingerprint == p.fingerprint
        )
        if p.id in ran and p.effect is not Effect.READ:
            justified = (
                (p.verdict == "allow" and not production)
                or genuine
                or (p.fingerprint in run_scope and not production)
            )
            assert justified, f"{p.id} {p.tool} {p.args} ran without an approval of that call"
        if p.verdict == "deny":
            assert p.id not in ran and p.id not in asked, f"{p.id}: deny rule did not win"
            continue
        if p.verdict == "allow":  # reads by default, non-production allow rules
            assert p.id in ran and p.id not in asked, f"{p.id}: allowed call asked or not run"
            continue
        # Asked calls: the gate's memory within the run, from the gate's documented contract.
        reused = p.fingerprint in run_scope and not production
        if p.fingerprint in denied or reused:
            assert p.id not in asked, f"{p.id}: asked again although already settled"
            assert (p.id in ran) == reused, f"{p.id}: earlier answer not honoured"
            continue
        assert answer is not None, f"{p.id} ({p.effect}) was not asked"
        assert (p.id in ran) == genuine, f"{p.id}: {answer.kind} answer -> ran={p.id in ran}"
        if answer.kind == "edit":  # the gate saw an approval (of the edited call): no memory
            continue
        if not genuine:
            denied.add(p.fingerprint)
        elif answer.kind == "run" and not production:
            run_scope.add(p.fingerprint)


def _check_journal_before_run(obs: Observation) -> None:
    """(b): when a call starts, its request and the gate's yes are already on disk."""
    by_fingerprint: dict[str, list[str]] = {}
    for p in obs.planned:
        by_fingerprint.setdefault(p.fingerprint, []).append(p.id)
    for execution in obs.executions:
        on_disk = execution.journal_at_start
        done = {e["call_id"] for e in on_disk if e["type"] == "tool_finished"}
        pending = [c for c in by_fingerprint.get(execution.fingerprint, []) if c not in done]
        assert any(_authorised(on_disk, c) for c in pending), (
            f"{execution.tool} ran before its request and approval were journaled"
        )
        if execution.effect is not Effect.READ:
            assert not execution.overlapped, f"mutation {execution.tool} overlapped another call"
