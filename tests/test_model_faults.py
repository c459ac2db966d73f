"""Model-API faults at every model call of a real hotfix run (ClaudeModel + SDK, fake API).

For each fault and call index: once, the run retries within the budget and ends with the
same executed mutations as the fault-free run; persistently, the retries are bounded, the
run stops as `model_error` with production settled on a verified version; a malformed or
unknown tool call is answered with an error and never runs. No mutation ever runs twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import anthropic._base_client as sdk_client
import httpx2
import pytest
from model_faults_api import (
    LABEL,
    MODEL,
    TURN_FAULTS,
    WIRE_FAULTS,
    Fault,
    Turn,
    conversation,
    encode,
    faulty_turn,
    sse_events,
)
from model_faults_run import MAX_RETRIES, Outcome, run_scenario, turns_with

import agent.journal
from agent.config import ModelConfig
from agent.models.base import ModelRequest, ModelResponse
from agent.models.claude import ClaudeModel
from tools.base import ToolCall

CALLS = range(len(conversation()))
MUTATIONS = [
    (block["name"], ToolCall("", block["name"], block["input"]).fingerprint)
    for turn in conversation()
    for block in turn.blocks
    if block["type"] == "tool_use"
    and block["name"] not in ("readFile", "hotfix_status", "hotfix_plan")
]
DEPLOYED_OPS: list[tuple[str, Any]] = [
    ("stage", LABEL),
    ("set_weights", {LABEL: 10, "v1.0.0": 90}),
    ("set_weights", {LABEL: 100}),
    ("retire", "v1.0.0"),
]
# After a persistent fault at call k: what the target did, and the settling notice.
SETTLED: dict[int, tuple[list[tuple[str, Any]], str]] = {
    0: ([], "production was not changed"),
    1: ([], "production was not changed"),
    2: ([("stage", LABEL), ("retire", LABEL)], "never had traffic"),
    3: ([("stage", LABEL), ("retire", LABEL)], "never had traffic"),
    4: ([*DEPLOYED_OPS[:2], ("set_weights", {"v1.0.0": 100}), ("retire", LABEL)], "rolled back"),
    5: (DEPLOYED_OPS, "promoted after verification"),
}
FAILURE_WORDS = {
    "http_429": "HTTP 429",
    "http_529": "HTTP 529",
    "http_500": "HTTP 500",
    "read_timeout": "cannot reach",
    "connect_error": "cannot reach",
    "reset_mid_stream": "broke off",
    "overloaded_mid_stream": "mid-stream",
}
REFUSALS = {
    "malformed_json": ("invalid", "could not be read: its input is not valid JSON"),
    "truncated_input": ("invalid", "could not be read"),
    "schema_invalid": ("invalid", "invalid arguments for"),
    "unknown_tool": ("unknown_tool", "unknown tool 'hotfix_force_promote'"),
}


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK's backoff without a retry-after header starts at 0.5 s; 130 runs can't wait.
    monkeypatch.setattr(sdk_client, "INITIAL_RETRY_DELAY", 0.001)
    # Journal durability is tested elsewhere; here fsync would be most of the runtime.
    monkeypatch.setattr(agent.journal.os, "fsync", lambda _fd: None)


def _run(tmp_path: Path, turns: list[Turn], fault: Fault | None = None) -> Outcome:
    return asyncio.run(run_scenario(tmp_path, turns, fault))


def _assert_no_mutation_ran_twice(outcome: Outcome) -> None:
    assert all(n == 1 for n in Counter(fp for _, fp in outcome.mutations()).values())
    assert len({repr(op) for op in outcome.ops}) == len(outcome.ops)


def test_the_fault_free_run_deploys_the_fix_with_one_request_per_turn(tmp_path: Path) -> None:
    outcome = _run(tmp_path, conversation())
    assert (outcome.status, outcome.stop_reason) == ("completed", "completed")
    assert outcome.attempts == Counter(CALLS)
    assert outcome.ops == DEPLOYED_OPS
    assert outcome.mutations() == MUTATIONS
    assert outcome.weights == {LABEL: 100} and outcome.production_healthy


@pytest.mark.slow
@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("kind", WIRE_FAULTS)
def test_a_fault_that_happens_once_is_retried_and_the_run_deploys_exactly_as_without_it(
    tmp_path: Path, kind: str, call: int
) -> None:
    outcome = _run(tmp_path, conversation(), Fault(kind, call))
    assert (outcome.status, outcome.stop_reason) == ("completed", "completed"), outcome.detail
    assert outcome.attempts == Counter([*CALLS, call])
    same_call = [b for b, c in zip(outcome.bodies, _calls(outcome), strict=True) if c == call]
    assert same_call[0] == same_call[1]  # the retry re-sends the same turn, nothing added
    assert outcome.ops == DEPLOYED_OPS
    assert outcome.mutations() == MUTATIONS
    _assert_no_mutation_ran_twice(outcome)


@pytest.mark.slow
@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("kind", WIRE_FAULTS)
def test_a_persistent_fault_stops_the_run_after_bounded_retries_with_production_settled(
    tmp_path: Path, kind: str, call: int
) -> None:
    outcome = _run(tmp_path, conversation(), Fault(kind, call, persistent=True))
    assert (outcome.status, outcome.stop_reason) == ("failed", "model_error")
    assert outcome.attempts[call] == 1 + MAX_RETRIES
    assert outcome.requests == call + 1 + MAX_RETRIES  # and no call after the failed one
    assert FAILURE_WORDS[kind] in outcome.detail and "production:" in outcome.detail
    ops, settled = SETTLED[call]
    assert outcome.ops == ops
    assert outcome.weights == ({LABEL: 100} if call == 5 else {"v1.0.0": 100})
    assert outcome.production_healthy
    assert outcome.mutations() == MUTATIONS[: max(0, call - 1)]
    _assert_no_mutation_ran_twice(outcome)
    notices = outcome.notices()
    assert any(n.startswith("model error:") and FAILURE_WORDS[kind] in n for n in notices)
    assert any(n.startswith("stopped safely (model_error)") and settled in n for n in notices)
    last = outcome.journal[-1]
    assert (last["type"], last["status"], last["stop_reason"]) == (
        "run_finished",
        "failed",
        "model_error",
    )


@pytest.mark.slow
@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("kind", TURN_FAULTS)
def test_a_malformed_or_unknown_tool_call_is_answered_with_an_error_and_never_runs(
    tmp_path: Path, kind: str, call: int
) -> None:
    turns = turns_with(kind, call)
    bad_id = next(b["id"] for b in turns[call].blocks if b["type"] == "tool_use")
    outcome = _run(tmp_path, turns)
    assert (outcome.status, outcome.stop_reason) == ("completed", "completed"), outcome.detail
    assert outcome.attempts == Counter(range(len(turns)))  # no retry: the model is told
    status, words = REFUSALS[kind]
    assert outcome.finished(bad_id)["status"] == status
    answer = next(
        block
        for block in outcome.bodies[call + 1]["messages"][-1]["content"]
        if block.get("tool_use_id") == bad_id
    )
    assert answer["is_error"] and words in answer["content"]
    assert not [r for r in outcome.journal if r["type"] == "approval" and r["call_id"] == bad_id]
    assert outcome.ops == DEPLOYED_OPS
    assert outcome.mutations() == MUTATIONS
    _assert_no_mutation_ran_twice(outcome)


def _calls(outcome: Outcome) -> list[int]:
    return [sum(1 for m in b["messages"] if m["role"] == "assistant") for b in outcome.bodies]


def test_a_run_stopped_by_its_turn_limit_mid_canary_is_rolled_back(tmp_path: Path) -> None:
    limit = "[limits]\nmax_turns = 4\n"
    outcome = asyncio.run(run_scenario(tmp_path, conversation(), config=limit))
    assert (outcome.status, outcome.stop_reason) == ("stopped", "max_turns")
    assert outcome.ops == SETTLED[4][0]
    assert outcome.weights == {"v1.0.0": 100} and outcome.production_healthy
    assert any(n.startswith("stopped safely (max_turns): rolled back") for n in outcome.notices())


def _complete(turn: Turn | bytes) -> ModelResponse:
    """One turn through ClaudeModel: a scripted `Turn`, or raw SSE bytes."""
    body = turn if isinstance(turn, bytes) else encode(sse_events(turn, "req_1"))

    def handler(_request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx2.Response(200, content=body, headers=headers)

    model = ClaudeModel(
        MODEL,
        ModelConfig(max_retries=0),
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
        environ={"ANTHROPIC_API_KEY": "sk-ant-test-faults"},
    )
    request = ModelRequest("system", [], [{"role": "user", "content": "go"}])
    return asyncio.run(model.complete(request))


def test_a_tool_call_cut_off_at_max_tokens_is_flagged_never_returned_as_a_smaller_call() -> None:
    # The SDK's lenient parser would turn `"percent": 1` (of 10) into a 1 % shift.
    turn = faulty_turn("truncated_input", conversation()[3], 3)
    response = _complete(turn)
    assert response.stop_reason == "max_tokens"
    (call,) = response.tool_uses
    assert call["input"] == {}
    assert "not valid JSON" in response.invalid_tool_inputs[call["id"]]
    assert '"percent": 1' in response.invalid_tool_inputs[call["id"]]


def test_tool_input_that_is_a_json_array_or_missing_at_max_tokens_is_flagged() -> None:
    array = Turn(
        [{"type": "tool_use", "id": "t1", "name": "hotfix_stage", "input": {}}],
        raw_json={0: '["hotfix/1.4.3"]'},
    )
    assert "not an object" in _complete(array).invalid_tool_inputs["t1"]
    empty = Turn(
        [{"type": "tool_use", "id": "t2", "name": "hotfix_promote", "input": {}}],
        stop_reason="max_tokens",
        raw_json={0: ""},
    )
    assert "cut off at max_tokens" in _complete(empty).invalid_tool_inputs["t2"]
    complete = Turn(
        [{"type": "tool_use", "id": "t3", "name": "hotfix_status", "input": {}}], raw_json={0: ""}
    )
    assert _complete(complete).invalid_tool_inputs == {}
    stage = Turn([{"type": "tool_use", "id": "t4", "name": "hotfix_stage", "input": {"a": 1}}])
    unclosed = [e for e in sse_events(stage, "req_1") if e["type"] != "content_block_stop"]
    response = _complete(encode(unclosed))
    assert "cut off before its input was complete" in response.invalid_tool_inputs["t4"]


def test_a_stream_event_that_is_not_json_is_replayed_like_a_broken_stream() -> None:
    turn = conversation()[-1]
    events = encode(sse_events(turn, "req_garbled"))
    garbled = events.replace(b'"type": "message_delta"', b'"type": message_delta', 1)
    bodies = iter([garbled, events])
    sleeps: list[float] = []

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    def handler(_request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx2.Response(200, content=next(bodies), headers=headers)

    model = ClaudeModel(
        MODEL,
        ModelConfig(max_retries=1),
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
        environ={"ANTHROPIC_API_KEY": "sk-ant-test-faults"},
        sleep=no_wait,
    )
    request = ModelRequest("system", [], [{"role": "user", "content": "go"}])
    response = asyncio.run(model.complete(request))
    assert response.text == turn.blocks[0]["text"] and len(sleeps) == 1
