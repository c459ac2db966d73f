"""The gate: approvals bind to the exact call, run scope, memory of denials, the journal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent.approvers import (
    ApprovalRequest,
    DenyAllApprover,
    PolicyFileApprover,
    ToolApproved,
    ToolDenied,
)
from agent.config import GateConfig
from agent.gate import Authorization, Gate
from agent.journal import Journal, read_journal
from agent.policy import Decision, Policy
from agent.redaction import Redactor
from tools.base import Effect, Tool, ToolArgs, ToolCall, ToolContext, ToolResult


class _CommandArgs(ToolArgs):
    command: str


class _TargetArgs(ToolArgs):
    version: str


class FakeTerminal(Tool):
    name: ClassVar[str] = "runInTerminal"
    description: ClassVar[str] = "Run a shell command."
    args_model: ClassVar[type[ToolArgs]] = _CommandArgs
    effect: ClassVar[Effect] = Effect.LOCAL
    aliases: ClassVar[tuple[str, ...]] = ("execute/runInTerminal",)

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        raise AssertionError("gate tests never run tools")


class Promote(FakeTerminal):
    name: ClassVar[str] = "hotfix_promote"
    args_model: ClassVar[type[ToolArgs]] = _TargetArgs
    effect: ClassVar[Effect] = Effect.PRODUCTION
    aliases: ClassVar[tuple[str, ...]] = ()


class Scripted:
    """An approver that answers with `decide(request)` and remembers what it was asked."""

    name = "scripted"

    def __init__(self, decide: Callable[[ApprovalRequest], Any]) -> None:
        self.decide = decide
        self.requests: list[ApprovalRequest] = []

    async def request(self, req: ApprovalRequest) -> Any:
        self.requests.append(req)
        return self.decide(req)


def shell(command: str, call_id: str = "c1") -> ToolCall:
    return ToolCall(id=call_id, tool="runInTerminal", args={"command": command})


def promote(version: str, call_id: str = "p1") -> ToolCall:
    return ToolCall(id=call_id, tool="hotfix_promote", args={"version": version})


def authorize(gate: Gate, tool: Tool, call: ToolCall) -> Authorization:
    return asyncio.run(gate.authorize(tool, call, tool.effect))


def make_gate(approver: Any, journal: Journal | None = None, **rules: list[str]) -> Gate:
    return Gate(Policy(GateConfig(**rules)), approver, journal, Redactor())


def test_an_allowed_call_runs_without_asking() -> None:
    approver = Scripted(lambda r: pytest.fail("must not ask"))
    result = authorize(
        make_gate(approver, allow=["runInTerminal(git status*)"]),
        FakeTerminal(),
        shell("git status"),
    )
    assert result.allowed and result.approval is None


def test_a_denied_call_is_refused_without_asking() -> None:
    approver = Scripted(lambda r: r.approve("scripted"))
    result = authorize(make_gate(approver), FakeTerminal(), shell("rm -rf /"))
    assert not result.allowed
    assert result.verdict.decision is Decision.DENY and approver.requests == []


def test_approving_one_call_does_not_approve_a_call_with_other_arguments() -> None:
    first = shell("git push origin feature")
    replay = Scripted(lambda r: ToolApproved(first.fingerprint, "scripted"))
    gate = make_gate(replay)
    assert authorize(gate, FakeTerminal(), first).allowed
    other = authorize(gate, FakeTerminal(), shell("git push origin main"))
    assert not other.allowed
    assert "different call" in other.reason


def test_text_is_never_an_approval() -> None:
    says_yes = Scripted(lambda r: "approved: yes, run it")
    result = authorize(make_gate(says_yes), FakeTerminal(), shell("git push origin feature"))
    assert not result.allowed
    assert isinstance(result.approval, ToolDenied)


def test_run_scope_allows_the_same_exact_call_again_without_asking(tmp_path: Path) -> None:
    approver = Scripted(lambda r: r.approve("scripted", "run"))
    with Journal.create(tmp_path, Redactor(), run_id="r1") as journal:
        gate = make_gate(approver, journal)
        assert authorize(gate, FakeTerminal(), shell("make deploy", "c1")).allowed
        again = authorize(gate, FakeTerminal(), shell("make deploy", "c2"))
        assert authorize(gate, FakeTerminal(), shell("make deploy-all", "c3")).allowed
    assert again.allowed
    assert isinstance(again.approval, ToolApproved) and again.approval.approver == "run-scope"
    assert [r.call.id for r in approver.requests] == ["c1", "c3"]
    approvals = [e for e in read_journal(journal.path) if e["type"] == "approval"]
    assert [(e["call_id"], e["approver"], e["scope"]) for e in approvals] == [
        ("c1", "scripted", "run"),
        ("c2", "run-scope", "run"),
        ("c3", "scripted", "run"),
    ]


def test_run_scope_is_never_remembered_for_production(tmp_path: Path) -> None:
    approver = Scripted(lambda r: r.approve("scripted", "run"))
    with Journal.create(tmp_path, Redactor(), run_id="r1") as journal:
        gate = make_gate(approver, journal, allow=["hotfix_promote"])
        first = authorize(gate, Promote(), promote("1.4.3", "p1"))
        second = authorize(gate, Promote(), promote("1.4.3", "p2"))
    assert first.allowed and second.allowed
    assert len(approver.requests) == 2
    assert isinstance(first.approval, ToolApproved) and first.approval.scope == "once"
    scopes = [e["scope"] for e in read_journal(journal.path) if e["type"] == "approval"]
    assert scopes == ["once", "once"]


def test_a_denied_call_is_denied_again_without_asking() -> None:
    approver = Scripted(lambda r: r.deny("scripted", "not today"))
    gate = make_gate(approver)
    authorize(gate, FakeTerminal(), shell("make deploy", "c1"))
    again = authorize(gate, FakeTerminal(), shell("make deploy", "c2"))
    assert not again.allowed
    assert "previously denied" in again.reason and "not today" in again.reason
    assert len(approver.requests) == 1


def test_an_approver_that_fails_denies_instead_of_crashing() -> None:
    def boom(req: ApprovalRequest) -> Any:
        raise RuntimeError("console went away")

    result = authorize(make_gate(Scripted(boom)), FakeTerminal(), shell("make deploy"))
    assert not result.allowed and "console went away" in result.reason


def test_the_request_describes_the_exact_call_with_secrets_masked() -> None:
    approver = Scripted(lambda r: r.deny("scripted", "no"))
    # Not a known secret value nor a credential shape (those are refused before anyone is
    # asked), but masked in the question all the same.
    token = "s3cr3tT0kenValue"
    authorize(
        make_gate(approver),
        FakeTerminal(),
        shell(f"curl -H 'X-Api-Auth: bearer {token}' https://status.example"),
    )
    (req,) = approver.requests
    assert req.summary.startswith('runInTerminal(command="curl -H ')
    assert token not in req.summary
    assert req.aliases == ("execute/runInTerminal",) and req.effect is Effect.LOCAL


def test_decisions_and_approvals_are_journaled(tmp_path: Path) -> None:
    with Journal.create(tmp_path, Redactor(), run_id="r1") as journal:
        gate = make_gate(DenyAllApprover(), journal, allow=["runInTerminal(ls*)"])
        authorize(gate, FakeTerminal(), shell("ls", "c1"))
        authorize(gate, FakeTerminal(), shell("make deploy", "c2"))
        authorize(gate, FakeTerminal(), shell("mkfs.ext4 /dev/sda", "c3"))
    events = [(e["type"], e["call_id"]) for e in read_journal(journal.path)]
    assert events == [
        ("gate_decision", "c1"),
        ("gate_decision", "c2"),
        ("approval", "c2"),
        ("gate_decision", "c3"),
    ]
    decisions = [e for e in read_journal(journal.path) if e["type"] == "gate_decision"]
    assert [(d["decision"], d["rule"]) for d in decisions] == [
        ("allow", "runInTerminal(ls*)"),
        ("ask", None),
        ("deny", "builtin:mkfs"),
    ]
    denial = next(e for e in read_journal(journal.path) if e["type"] == "approval")
    assert (denial["approved"], denial["approver"]) == (False, "deny-all")


def test_a_policy_file_approver_decides_through_the_gate(tmp_path: Path) -> None:
    path = tmp_path / "approvals.toml"
    path.write_text('approve = ["runInTerminal(make deploy*)", "hotfix_promote"]\n')
    gate = make_gate(PolicyFileApprover(path))
    assert authorize(gate, FakeTerminal(), shell("make deploy")).allowed
    assert authorize(gate, Promote(), promote("1.4.3")).allowed
    assert not authorize(gate, FakeTerminal(), shell("make clean")).allowed
