"""A model's malformed calls, and faults while a call is judged, never crash a run.

Each case drives the real `AgentLoop` (and so the real `ToolRunner`, `Gate`, `Policy` and a
journal in tmp) with a scripted model, then checks three things: the results the model is
sent next turn (one per `tool_use`, under the id the echoed assistant turn carries), what
the journal recorded, and that no mutation ran more than once or without its approval.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import field_validator

from agent.approvers import ApprovalRequest, ToolApproved
from agent.config import HotfixConfig
from agent.gate import Authorization, Gate
from agent.journal import Journal, read_journal
from agent.loop import AgentLoop, LoopLimits, LoopResult, StopReason
from agent.models.base import ModelRequest, ModelResponse
from agent.models.scripted import ScriptedModel
from agent.policy import Policy, Verdict
from agent.redaction import Redactor
from agent.tool_runner import ToolRunner
from agent.tool_use_ids import MAX_ARGUMENT_BYTES
from tools.base import Effect, Tool, ToolArgs, ToolCall, ToolContext, ToolResult

RAN = "ran"  # ToolContext.extras key: the list of (tool, args) that really executed


class CountArgs(ToolArgs):
    # Every field has a default, so `{}` validates: an input that is not an object must be
    # refused for what it is, not run with defaults.
    name: str = "x"
    n: int = 0


class _Recording(Tool):
    description: ClassVar[str] = "A fake tool that records each execution."
    args_model: ClassVar[type[ToolArgs]] = CountArgs

    async def run(self, args: CountArgs, ctx: ToolContext) -> ToolResult:
        ctx.extras[RAN].append((self.name, args.model_dump()))
        return ToolResult(text=f"{self.name} ran")


class Edit(_Recording):
    name: ClassVar[str] = "edit"
    effect: ClassVar[Effect] = Effect.LOCAL
    concurrent_safe: ClassVar[bool] = False


class Peek(_Recording):
    name: ClassVar[str] = "peek"
    effect: ClassVar[Effect] = Effect.READ


class Shaky(_Recording):
    """Declared a read, but cannot say what a call changes: falling back to READ is wrong."""

    name: ClassVar[str] = "shaky"
    effect: ClassVar[Effect] = Effect.READ

    def effect_for(self, args: ToolArgs) -> Effect:
        raise ValueError("cannot tell from these arguments")


class BuggyArgs(CountArgs):
    @field_validator("n")
    @classmethod
    def _check(cls, value: int) -> int:
        raise TypeError("validator bug")  # pydantic lets TypeError through, unwrapped


class Fussy(_Recording):
    name: ClassVar[str] = "fussy"
    effect: ClassVar[Effect] = Effect.READ
    args_model: ClassVar[type[ToolArgs]] = BuggyArgs


class ApproveAll:
    """Approves every exact call it is asked about, and remembers the questions."""

    name = "test"

    def __init__(self) -> None:
        self.asked: list[ApprovalRequest] = []

    async def request(self, req: ApprovalRequest) -> ToolApproved:
        self.asked.append(req)
        return req.approve(self.name, "once", "fine")


class RawScriptedModel(ScriptedModel):
    """Scripted turns where id `NOID...` means "no id" and `{"raw": v}` means input `v`.

    The script format (rightly) refuses both; a model behind a buggy proxy may not. Input
    `{"unreadable": why}` stands for input the model client could not read (as it reports
    it: an empty input, and `why` in `invalid_tool_inputs`).
    """

    async def complete(self, request: ModelRequest) -> ModelResponse:
        response = await super().complete(request)
        for block in response.tool_uses:
            if str(block["id"]).startswith("NOID"):
                del block["id"]
            if set(block["input"]) == {"raw"}:
                block["input"] = block["input"]["raw"]
            elif set(block["input"]) == {"unreadable"}:
                response.invalid_tool_inputs[block["id"]] = block["input"].pop("unreadable")
        return response


class PolicyThatBreaks(Policy):
    def evaluate(
        self, tool: Tool, call: ToolCall, effect: Effect, *, secrets: Redactor | None = None
    ) -> Verdict:
        if tool.name == "edit":
            raise RuntimeError("rule table corrupted")
        return super().evaluate(tool, call, effect, secrets=secrets)


class GateThatBreaksAfterApproving(Gate):
    async def authorize(self, tool: Tool, call: ToolCall, effect: Effect) -> Authorization:
        await super().authorize(tool, call, effect)  # the approver says yes ...
        raise RuntimeError("lost the decision")  # ... and then the gate breaks


@dataclass
class Run:
    result: LoopResult
    model: ScriptedModel
    approver: ApproveAll
    ran: list[tuple[str, dict[str, Any]]]
    events: list[dict[str, Any]]

    def results(self, turn: int) -> list[dict[str, Any]]:
        """The tool_result blocks sent after model turn `turn` (from 1)."""
        return self.model.calls[turn].messages[-1]["content"]

    def echoed_ids(self, turn: int) -> list[str]:
        """The tool_use ids of turn `turn` as the assistant turn was echoed back."""
        echoed = self.model.calls[turn].messages[-2]
        assert echoed["role"] == "assistant"
        return [b["id"] for b in echoed["content"] if b["type"] == "tool_use"]

    def finished(self) -> dict[str, str]:
        statuses = [
            (e["call_id"], e["status"]) for e in self.events if e["type"] == "tool_finished"
        ]
        assert len({cid for cid, _ in statuses}) == len(statuses), f"call id reused: {statuses}"
        return dict(statuses)

    def of_type(self, kind: str, call_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind and e.get("call_id") == call_id]

    def notices(self) -> list[str]:
        return [e["message"] for e in self.events if e["type"] == "notice"]


def _run(
    tmp_path: Path,
    turns: list[list[dict[str, Any]]],
    *,
    policy: Policy | None = None,
    gate: type[Gate] = Gate,
) -> Run:
    script: list[Any] = [*turns, [{"type": "text", "text": "done"}]]
    model = RawScriptedModel.from_data({"turns": script})
    approver = ApproveAll()
    redactor = Redactor()
    journal = Journal.create(tmp_path, redactor, run_id="faults")
    ran: list[tuple[str, dict[str, Any]]] = []
    ctx = ToolContext(
        workspace=tmp_path,
        config=HotfixConfig(),
        redactor=redactor,
        journal=journal,
        run_id=journal.run_id,
        extras={RAN: ran},
    )
    loop = AgentLoop(
        model=model,
        tools=[Edit(), Peek(), Shaky(), Fussy()],
        gate=gate(policy or Policy(redactor=redactor), approver, journal, redactor),
        ctx=ctx,
        journal=journal,
        redactor=redactor,
        system_prompt="faults",
        limits=LoopLimits(max_turns=len(script) + 1),
    )
    try:
        result = asyncio.run(loop.run("exercise the runner"))
    finally:
        journal.close()
    run = Run(result, model, approver, ran, read_journal(journal.path))
    # Whatever the case: the run ended normally, every tool_use got exactly one result under
    # the id its echoed block carries, and no tool_use id repeats anywhere in the conversation.
    assert result.stop_reason is StopReason.COMPLETED, result.detail
    model.assert_complete()
    all_ids: list[str] = []
    for turn in range(1, len(turns) + 1):
        assert [r["tool_use_id"] for r in run.results(turn)] == run.echoed_ids(turn)
        all_ids += run.echoed_ids(turn)
    assert len(set(all_ids)) == len(all_ids), f"repeated tool_use ids sent back: {all_ids}"
    assert sorted(run.finished()) == sorted(all_ids)
    return run


def use(tool: str, call_id: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": tool, "input": args}


def test_a_call_whose_effect_cannot_be_worked_out_is_not_run_and_the_turn_goes_on(
    tmp_path: Path,
) -> None:
    run = _run(tmp_path, [[use("shaky", "s1"), use("peek", "p1")]])
    shaky, peek = run.results(1)
    assert shaky["is_error"] and "what it would change could not be worked out" in shaky["content"]
    assert "ValueError: cannot tell" in shaky["content"]
    assert not peek["is_error"]
    assert run.ran == [("peek", {"name": "x", "n": 0})]  # fail closed: not run as a "read"
    assert run.finished() == {"s1": "error", "p1": "ok"}
    assert len(run.of_type("tool_requested", "s1")) == 1
    assert run.of_type("gate_decision", "s1") == []


def test_a_validator_that_crashes_is_an_error_result_not_a_crashed_run(tmp_path: Path) -> None:
    run = _run(tmp_path, [[use("fussy", "f1", n=3)], [use("peek", "p1")]])
    (fussy,) = run.results(1)
    assert fussy["is_error"] and "arguments could not be checked" in fussy["content"]
    assert "TypeError: validator bug" in fussy["content"]
    assert run.ran == [("peek", {"name": "x", "n": 0})]
    assert run.finished() == {"f1": "error", "p1": "ok"}


def test_a_gate_that_fails_keeps_the_call_from_running_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    run = _run(
        tmp_path,
        [[use("edit", "e1", n=1), use("peek", "p1")]],
        policy=PolicyThatBreaks(redactor=Redactor()),
    )
    edit, peek = run.results(1)
    assert edit["is_error"] and "the gate could not decide" in edit["content"]
    assert "RuntimeError: rule table corrupted" in edit["content"]
    assert not peek["is_error"]
    assert [tool for tool, _ in run.ran] == ["peek"]
    assert run.approver.asked == []
    assert run.finished() == {"e1": "error", "p1": "ok"}
    assert any("edit (e1) not run" in n and "rule table corrupted" in n for n in run.notices())


def test_a_gate_that_breaks_after_the_approval_still_does_not_run_the_call(
    tmp_path: Path,
) -> None:
    run = _run(tmp_path, [[use("edit", "e1", n=1)]], gate=GateThatBreaksAfterApproving)
    (edit,) = run.results(1)
    assert edit["is_error"] and "never runs" in edit["content"]
    assert [a["approved"] for a in run.of_type("approval", "e1")] == [True]
    assert run.ran == []
    assert run.finished() == {"e1": "error"}


def test_a_replayed_tool_use_in_one_turn_runs_once_and_the_copy_is_answered_not_run(
    tmp_path: Path,
) -> None:
    # The same block twice, as a stream retry could deliver it: same id, same call.
    run = _run(tmp_path, [[use("edit", "d", n=1), use("edit", "d", n=1)]])
    assert run.echoed_ids(1) == ["d", "call_1_1"]
    first, replay = run.results(1)
    assert not first["is_error"]
    assert replay["is_error"] and "repeats the id 'd'" in replay["content"]
    assert "never run" in replay["content"]
    assert run.ran == [("edit", {"name": "x", "n": 1})]
    assert len(run.approver.asked) == 1
    assert run.finished() == {"d": "ok", "call_1_1": "invalid"}
    assert run.of_type("gate_decision", "call_1_1") == []
    assert any("'d' (edit) repeats an id" in n and "call_1_1" in n for n in run.notices())


def test_two_different_calls_sharing_an_id_run_only_the_first(tmp_path: Path) -> None:
    run = _run(tmp_path, [[use("edit", "d", n=1), use("edit", "d", n=2), use("peek", "d")]])
    assert run.echoed_ids(1) == ["d", "call_1_1", "call_1_2"]
    assert [r["is_error"] for r in run.results(1)] == [False, True, True]
    assert run.ran == [("edit", {"name": "x", "n": 1})]
    assert run.finished() == {"d": "ok", "call_1_1": "invalid", "call_1_2": "invalid"}


def test_an_id_reused_in_a_later_turn_does_not_run_the_mutation_again(tmp_path: Path) -> None:
    run = _run(tmp_path, [[use("edit", "d", n=1)], [use("edit", "d", n=1)]])
    assert run.echoed_ids(2) == ["call_2_0"]
    (again,) = run.results(2)
    assert again["is_error"] and "repeats the id 'd'" in again["content"]
    assert Counter(tool for tool, _ in run.ran) == {"edit": 1}
    assert run.finished() == {"d": "ok", "call_2_0": "invalid"}


def test_calls_without_ids_get_ids_unique_in_the_run_that_results_and_history_share(
    tmp_path: Path,
) -> None:
    run = _run(
        tmp_path,
        [[use("peek", "NOID"), use("edit", "NOID", n=1)], [use("edit", "NOID", n=2)]],
    )
    assert run.echoed_ids(1) == ["call_1_0", "call_1_1"]
    assert run.echoed_ids(2) == ["call_2_0"]  # not call_0 again: the journal stays unambiguous
    assert not any(r["is_error"] for turn in (1, 2) for r in run.results(turn))
    assert run.ran == [
        ("peek", {"name": "x", "n": 0}),
        ("edit", {"name": "x", "n": 1}),
        ("edit", {"name": "x", "n": 2}),
    ]
    assert run.finished() == {"call_1_0": "ok", "call_1_1": "ok", "call_2_0": "ok"}
    assert [a.call.id for a in run.approver.asked] == ["call_1_1", "call_2_0"]
    assert sum("came without an id" in n for n in run.notices()) == 3


def test_a_generated_id_never_takes_an_id_the_model_sent_in_the_same_turn(tmp_path: Path) -> None:
    run = _run(tmp_path, [[use("peek", "NOID"), use("edit", "call_1_0", n=1)]])
    assert run.echoed_ids(1) == ["call_1_0_2", "call_1_0"]
    assert [tool for tool, _ in run.ran] == ["peek", "edit"]
    assert run.finished() == {"call_1_0_2": "ok", "call_1_0": "ok"}


def test_input_that_is_not_an_object_is_refused_not_run_with_defaults(tmp_path: Path) -> None:
    run = _run(tmp_path, [[use("edit", "e1", raw=["rm", "-rf", "/"]), use("peek", "p1", raw="x")]])
    edit, peek = run.results(1)
    assert edit["is_error"] and "must be a JSON object, not list" in edit["content"]
    assert peek["is_error"] and "not str" in peek["content"]
    assert run.ran == [] and run.approver.asked == []
    assert run.finished() == {"e1": "invalid", "p1": "invalid"}


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"n": value}
    return value


def test_arguments_nested_too_deep_for_any_recursion_are_refused_and_journaled_as_a_placeholder(
    tmp_path: Path,
) -> None:
    # 100 000 levels: far past what copy.deepcopy, json and pydantic can recurse through.
    run = _run(tmp_path, [[use("edit", "e1", name=_nested(100_000)), use("peek", "p1")]])
    deep, peek = run.results(1)
    assert deep["is_error"] and "nest more than 64 levels deep" in deep["content"]
    assert not peek["is_error"]
    assert run.ran == [("peek", {"name": "x", "n": 0})] and run.approver.asked == []
    assert run.finished() == {"e1": "invalid", "p1": "ok"}
    (requested,) = run.of_type("tool_requested", "e1")
    assert requested["args"] == {"_omitted": "arguments nest more than 64 levels deep"}
    assert run.result.tool_calls == 2


def test_oversized_arguments_are_refused_and_only_a_placeholder_reaches_the_journal(
    tmp_path: Path,
) -> None:
    size = 2 * MAX_ARGUMENT_BYTES
    run = _run(tmp_path, [[use("edit", "e1", name="A" * size)]])
    (result,) = run.results(1)
    assert result["is_error"] and "arguments are too large" in result["content"]
    assert run.ran == [] and run.approver.asked == []
    assert run.finished() == {"e1": "invalid"}
    assert run.of_type("gate_decision", "e1") == []
    (requested,) = run.of_type("tool_requested", "e1")
    assert set(requested["args"]) == {"_omitted"}
    serialized = len(json.dumps({"name": "A" * size}))
    assert requested["args"]["_omitted"] == (
        f"arguments are too large: {serialized} bytes (at most {MAX_ARGUMENT_BYTES})"
    )
    assert sum(len(str(e)) for e in run.events) < 20_000


def test_unreadable_calls_are_answered_in_place_by_the_runner_and_count_as_calls(
    tmp_path: Path,
) -> None:
    turn = [
        use("peek", "p1"),
        use("edit", "e1", unreadable="its input is not valid JSON"),
        use("edit", "e2", n=2),
    ]
    run = _run(tmp_path, [turn])
    assert [r["is_error"] for r in run.results(1)] == [False, True, False]
    assert run.results(1)[1]["content"] == (
        "not run: the call to edit could not be read: its input is not valid JSON. Send it "
        "again with its complete arguments as one JSON object."
    )
    assert run.ran == [("peek", {"name": "x", "n": 0}), ("edit", {"name": "x", "n": 2})]
    assert run.finished() == {"p1": "ok", "e1": "invalid", "e2": "ok"}
    assert [e["args"] for e in run.of_type("tool_requested", "e1")] == [{}]
    assert run.of_type("gate_decision", "e1") == []
    assert run.result.tool_calls == 3


def test_a_single_call_with_oversized_arguments_is_refused_before_the_gate(
    tmp_path: Path,
) -> None:
    redactor = Redactor()
    approver = ApproveAll()
    ran: list[tuple[str, dict[str, Any]]] = []
    with Journal.create(tmp_path, redactor, run_id="one") as journal:
        ctx = ToolContext(
            workspace=tmp_path,
            config=HotfixConfig(),
            redactor=redactor,
            journal=journal,
            run_id=journal.run_id,
            extras={RAN: ran},
        )
        runner = ToolRunner(
            tools=[Edit()],
            gate=Gate(Policy(redactor=redactor), approver, journal, redactor),
            ctx=ctx,
            journal=journal,
            redactor=redactor,
            output_limit=10_000,
            on_event=lambda _kind, _data: None,
        )
        call = ToolCall(id="c1", tool="edit", args={"name": _nested(1_000)})
        record = asyncio.run(runner.run_one(call))
    assert (record.status, record.ran) == ("invalid", False)
    assert "nest more than 64 levels deep" in record.text
    assert ran == [] and approver.asked == []
    kinds = [(e["type"], e.get("args")) for e in read_journal(journal.path)]
    omitted = {"_omitted": "arguments nest more than 64 levels deep"}
    assert ("tool_requested", omitted) in kinds and ("gate_decision", None) not in kinds
