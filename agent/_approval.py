"""Approvals as data: what an approver is asked, and what it answers.

An approval names the fingerprint of the exact call it approves (tool + canonical
arguments); the gate treats an approval for any other fingerprint as a denial.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from agent.policy import Verdict
from agent.redaction import Redactor
from tools.base import Effect, ToolCall

Scope = Literal["once", "run"]


@dataclass(frozen=True)
class ToolApproved:
    """The call with this fingerprint may run (`once`, or again unasked in this `run`)."""

    fingerprint: str
    approver: str
    scope: Scope = "once"
    reason: str = ""
    approved: ClassVar[bool] = True

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "approved",
            "fingerprint": self.fingerprint,
            "approver": self.approver,
            "scope": self.scope,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ToolDenied:
    """The call with this fingerprint must not run."""

    fingerprint: str
    approver: str
    reason: str = ""
    approved: ClassVar[bool] = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "denied",
            "fingerprint": self.fingerprint,
            "approver": self.approver,
            "reason": self.reason,
        }


Approval = ToolApproved | ToolDenied


@dataclass(frozen=True)
class ApprovalRequest:
    """One question to an approver about one exact call.

    Attributes:
        call: the call, fingerprint included.
        tool_name: the tool's name.
        effect: what the call can change.
        verdict: the policy verdict (`ask`) and the rule that asked.
        summary: human-readable, redacted description of the exact call.
        aliases: the tool's other names, for approvers that match rules.
        source: `builtin` or the MCP server the tool comes from.
        override: set when approving overrides a closed change window: why it is closed.
    """

    call: ToolCall
    tool_name: str
    effect: Effect
    verdict: Verdict
    summary: str
    aliases: tuple[str, ...] = ()
    source: str = "builtin"
    override: str | None = None

    @property
    def run_scope_allowed(self) -> bool:
        """Whether "always, this run" may be offered; never for production."""
        return self.effect is not Effect.PRODUCTION

    def approve(self, approver: str, scope: Scope = "once", reason: str = "") -> ToolApproved:
        """An approval bound to this request's call."""
        return ToolApproved(self.call.fingerprint, approver, scope, reason)

    def deny(self, approver: str, reason: str) -> ToolDenied:
        """A denial bound to this request's call."""
        return ToolDenied(self.call.fingerprint, approver, reason)


class Approver(Protocol):
    """Decides calls the policy asks about. Only its answers count as approvals."""

    @property
    def name(self) -> str: ...

    async def request(self, req: ApprovalRequest) -> Approval:
        """Answer one request; must not raise for an ordinary "no"."""
        ...


def describe_call(tool_name: str, args: dict[str, Any], redactor: Redactor | None = None) -> str:
    """`tool(key="value", ...)` with every argument shown exactly, secrets masked."""
    shown: Any = redactor.value(args) if redactor is not None else args
    parts = [f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in shown.items()]
    return f"{tool_name}({', '.join(parts)})"
