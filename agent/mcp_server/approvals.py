"""Approvals as MCP elicitation forms, each bound to one exact call.

The gate asks `ElicitationApprover`, which shows the user a form naming the exact call
(redacted), what it can change and the rule that asked. Only an accepted form approves;
declining, dismissing (cancel), no answer in time, or a form that cannot be shown all deny.
A production call's form never offers "allow for the rest of this run".

How the form reaches the client is the `Asker`'s business (see `agent.mcp_server.jobs`):
in the middle of the call on the handshake-era protocol, as an `input_required` round on
2026-07-28.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError

if TYPE_CHECKING:  # the gate's modules load with the first call, not at server start-up
    from agent.approvers import Approval, ApprovalRequest

FormAction = Literal["accept", "decline", "cancel", "timeout", "error"]
DEFAULT_APPROVAL_TIMEOUT_S = 300.0

_EFFECT_WORDS = {
    "read": "read only",
    "local": "changes the workspace or local processes",
    "remote": "changes a shared non-production resource",
    "production": "changes what production users get",
}


@dataclass(frozen=True)
class FormAnswer:
    """What became of one form: the client's action, its content, or why there was none."""

    action: FormAction
    content: dict[str, Any] | None = None
    detail: str = ""


class Asker(Protocol):
    """Shows a form to the MCP client's user and waits for the answer."""

    async def ask(
        self, key: str, message: str, schema: dict[str, Any], timeout_s: float
    ) -> FormAnswer:
        """The answer to the form `key`; `timeout` when none came within `timeout_s`."""
        ...


class ProductionApprovalForm(BaseModel):
    """The form for a production call: this call, once, or nothing."""

    approve: bool = Field(
        default=True,
        title="Run exactly this call",
        description="Untick (or decline) to refuse. This approval covers this call only.",
    )


class ApprovalForm(ProductionApprovalForm):
    """The form for a non-production call, which may be approved for the rest of the run."""

    scope: Literal["once", "run"] = Field(
        default="once",
        title="Approve",
        description="once: this call only; run: this exact call again later in this run.",
    )


def question_key(req: ApprovalRequest) -> str:
    """The form's key: names the call's fingerprint, so an answer cannot move to another."""
    return f"approve-{req.call.fingerprint[:24]}"


def approval_message(req: ApprovalRequest) -> str:
    """The text of the form: the exact call, its effect, and the rule that asked."""
    rule = f"rule {req.verdict.rule!r}" if req.verdict.rule else "the default for its effect"
    lines = [
        f"hotfix asks for approval of this {req.effect.value} call:",
        req.summary,
        f"Effect: {req.effect.value} — {_EFFECT_WORDS.get(req.effect.value, '')}.",
        f"Asked by {rule}: {req.verdict.reason}.",
    ]
    if req.override is not None:
        lines.append(f"Outside the change window: {req.override}. Approving overrides it.")
    if req.source not in ("builtin", "hotfix"):
        lines.append(f"Tool from the MCP server {req.source!r}.")
    lines.append(f"Call fingerprint {req.call.fingerprint[:12]}: this approval is for this call.")
    return "\n".join(lines)


def approval_schema(req: ApprovalRequest) -> dict[str, Any]:
    """The form's schema; without the run-scope choice for production calls."""
    from mcp.server.elicitation import render_elicitation_schema

    form = ApprovalForm if req.run_scope_allowed else ProductionApprovalForm
    return render_elicitation_schema(form)


class ElicitationApprover:
    """Answers the gate's questions with MCP elicitation forms.

    Args:
        asker: shows the form and returns the user's answer.
        timeout_s: how long to wait for an answer before denying.
    """

    name = "mcp-elicitation"

    def __init__(self, asker: Asker, timeout_s: float = DEFAULT_APPROVAL_TIMEOUT_S) -> None:
        self._asker = asker
        self.timeout_s = timeout_s

    async def request(self, req: ApprovalRequest) -> Approval:
        answer = await self._asker.ask(
            question_key(req), approval_message(req), approval_schema(req), self.timeout_s
        )
        if answer.action == "accept":
            return self._accepted(req, answer.content or {})
        reasons = {
            "decline": "declined in the MCP client",
            "cancel": "the approval form was dismissed",
            "timeout": f"no answer within {self.timeout_s:.0f} s",
            "error": f"the approval form could not be shown: {answer.detail or 'unknown error'}",
        }
        return req.deny(self.name, reasons[answer.action])

    def _accepted(self, req: ApprovalRequest, content: dict[str, Any]) -> Approval:
        form = ApprovalForm if req.run_scope_allowed else ProductionApprovalForm
        try:
            values = form.model_validate(content)
        except ValidationError:
            return req.deny(self.name, "the accepted form did not match what was asked")
        if not values.approve:
            return req.deny(self.name, "the form was submitted with 'Run exactly this call' off")
        scope = values.scope if isinstance(values, ApprovalForm) else "once"
        return req.approve(self.name, scope, "accepted in the MCP client's approval form")
