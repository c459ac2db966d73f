"""`ElicitationApprover`: a form bound to one exact call; only an accepted form approves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.approvers import ApprovalRequest, ToolApproved, ToolDenied, describe_call
from agent.gate import Gate
from agent.mcp_server.approvals import ElicitationApprover, FormAnswer, question_key
from agent.policy import Decision, Policy, Verdict
from agent.redaction import MASK, Redactor
from tools.base import Effect, Tool, ToolArgs, ToolCall, ToolContext, ToolResult

ASKED = Verdict(Decision.ASK, None, "a call that changes production always needs approval")


@dataclass
class ScriptedAsker:
    """Answers every form with `answer`, and remembers what it was shown."""

    answer: FormAnswer
    shown: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def ask(
        self, key: str, message: str, schema: dict[str, Any], timeout_s: float
    ) -> FormAnswer:
        del timeout_s
        self.shown.append((key, message, schema))
        return self.answer


def request(effect: Effect = Effect.PRODUCTION, **args: Any) -> ApprovalRequest:
    args = args or {"label": "v1.4.3", "percent": 100}
    call = ToolCall(id="c1", tool="hotfix_shift_traffic", args=args)
    summary = describe_call(call.tool, args, Redactor())
    return ApprovalRequest(call, call.tool, effect, ASKED, summary, (), "hotfix")


def decide(answer: FormAnswer, req: ApprovalRequest | None = None) -> tuple[Any, ScriptedAsker]:
    asker = ScriptedAsker(answer)
    approval = asyncio.run(ElicitationApprover(asker, timeout_s=5).request(req or request()))
    return approval, asker


def test_an_accepted_form_approves_exactly_the_call_it_showed() -> None:
    req = request()
    approval, asker = decide(FormAnswer("accept", {"approve": True}), req)

    assert isinstance(approval, ToolApproved)
    assert approval.fingerprint == req.call.fingerprint and approval.scope == "once"
    key, message, _ = asker.shown[0]
    assert key == question_key(req) and req.call.fingerprint[:24] in key
    assert 'hotfix_shift_traffic(label="v1.4.3", percent=100)' in message
    assert "production" in message and "always needs approval" in message


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (FormAnswer("decline"), "declined"),
        (FormAnswer("cancel"), "dismissed"),
        (FormAnswer("timeout"), "no answer within 5 s"),
        (FormAnswer("error", detail="no back-channel"), "no back-channel"),
        (FormAnswer("accept", {"approve": False}), "off"),
        (FormAnswer("accept", {"approve": "maybe"}), "did not match"),
    ],
)
def test_anything_but_an_accepted_ticked_form_denies(answer: FormAnswer, reason: str) -> None:
    approval, _ = decide(answer)

    assert isinstance(approval, ToolDenied)
    assert reason in approval.reason


def test_a_production_form_never_offers_allow_for_this_run() -> None:
    approval, asker = decide(FormAnswer("accept", {"approve": True, "scope": "run"}))

    _, _, schema = asker.shown[0]
    assert set(schema["properties"]) == {"approve"}
    assert isinstance(approval, ToolApproved) and approval.scope == "once"


def test_a_non_production_form_can_approve_the_same_call_for_the_run() -> None:
    req = request(Effect.REMOTE, version_ref="hotfix/1.4.3")
    approval, asker = decide(FormAnswer("accept", {"approve": True, "scope": "run"}), req)

    _, _, schema = asker.shown[0]
    assert schema["properties"]["scope"]["enum"] == ["once", "run"]
    assert isinstance(approval, ToolApproved) and approval.scope == "run"


class _Args(ToolArgs):
    token: str


class _Push(Tool):
    name = "push_secret"
    description = "test tool"
    args_model = _Args
    effect = Effect.PRODUCTION

    async def run(self, args: _Args, ctx: ToolContext) -> ToolResult:
        return ToolResult("done")


def test_the_form_shows_the_call_with_secrets_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "s3cr3t-value-123")
    asker = ScriptedAsker(FormAnswer("decline"))
    gate = Gate(Policy(), ElicitationApprover(asker), None, Redactor.from_environment())
    # A value under a secret-looking key, not a known secret (that is refused unasked).
    call = ToolCall(id="c1", tool="push_secret", args={"token": "made-up-by-the-model-42"})

    decision = asyncio.run(gate.authorize(_Push(), call, Effect.PRODUCTION))

    assert not decision.allowed
    message = asker.shown[0][1]
    assert "made-up-by-the-model-42" not in message and MASK in message
