"""The gate: every tool call passes here and is allowed, asked about, or denied.

`Policy` decides allow / ask / deny; for `ask` the `Approver` answers. An approval counts
only when it is a `ToolApproved` for this call's exact fingerprint; nothing else (text in a
message, a file or a tool result) can approve anything. Within one run (one `Gate`), a
call approved "for this run" is allowed again without asking, except production calls, and
a call once denied is denied again without asking. Every decision goes to the journal.

With a `WindowGuard`, a call the guard reports outside the change window (production calls
outside an allowed window or inside a freeze) is asked about at least, and the request
carries `override`: approving it deliberately overrides the window, and the recorded
approval says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from agent._approval import (
    Approval,
    ApprovalRequest,
    Approver,
    ToolApproved,
    ToolDenied,
    describe_call,
)
from agent.journal import ApprovalRecorded, GateDecided, Journal
from agent.policy import Decision, Policy, Verdict
from agent.redaction import Redactor
from tools.base import Effect, Tool, ToolCall

RUN_SCOPE_APPROVER = "run-scope"
CHANGE_WINDOW_RULE = "change-window"


class WindowGuard(Protocol):
    """Says why a call may not run without an override now (see `tools.deploy.windows`)."""

    def check(self, effect: Effect, tool: str | None = None) -> str | None:
        """The reason the change window is closed for this call, or None when it is open."""
        ...


@dataclass(frozen=True)
class Authorization:
    """Whether a call may run, and the verdict and approval behind that."""

    allowed: bool
    verdict: Verdict
    approval: Approval | None
    reason: str


class Gate:
    """Authorises tool calls for one run.

    Args:
        policy: the rules.
        approver: who answers when the policy asks.
        journal: where decisions are recorded (None: nowhere, e.g. in unit tests).
        redactor: masks secrets in the summaries shown to approvers; a call whose arguments
            hold a secret it knows is denied outright (see `agent.policy.SECRET_RULE`).
        window_guard: change windows; a closed window turns allow into ask and makes the
            approval an explicit override.
    """

    def __init__(
        self,
        policy: Policy,
        approver: Approver,
        journal: Journal | None = None,
        redactor: Redactor | None = None,
        window_guard: WindowGuard | None = None,
    ) -> None:
        self.policy = policy
        self.approver = approver
        self.journal = journal
        self.redactor = redactor or Redactor()
        self._secrets = redactor  # None: the policy's own (the environment's secrets)
        self.window_guard = window_guard
        self._approved_for_run: set[str] = set()
        self._denied: dict[str, str] = {}

    async def authorize(self, tool: Tool, call: ToolCall, effect: Effect) -> Authorization:
        """Decide whether `call` of `tool` (with effect `effect`) may run."""
        # The policy refuses any call whose arguments carry a secret this redactor knows
        # (`builtin:secret-in-args`), for every tool, MCP-bridged ones included.
        verdict = self.policy.evaluate(tool, call, effect, secrets=self._secrets)
        override = self._window_closed(tool, effect)
        if override is not None and verdict.decision is not Decision.DENY:
            reason = f"outside the change window: {override}; approving overrides the window"
            verdict = Verdict(Decision.ASK, CHANGE_WINDOW_RULE, reason)
        else:
            override = None
        self._record_decision(call, verdict)
        if verdict.decision is Decision.ALLOW:
            return Authorization(True, verdict, None, verdict.reason)
        if verdict.decision is Decision.DENY:
            return Authorization(False, verdict, None, verdict.reason)
        fingerprint = call.fingerprint
        if fingerprint in self._denied:
            reason = f"previously denied in this run: {self._denied[fingerprint]}"
            return self._settle(
                call, verdict, effect, ToolDenied(fingerprint, RUN_SCOPE_APPROVER, reason)
            )
        if fingerprint in self._approved_for_run and effect is not Effect.PRODUCTION:
            approval = ToolApproved(
                fingerprint,
                RUN_SCOPE_APPROVER,
                "run",
                "approved earlier in this run for the same exact call",
            )
            return self._settle(call, verdict, effect, approval)
        request = ApprovalRequest(
            call,
            tool.name,
            effect,
            verdict,
            describe_call(tool.name, call.args, self.redactor),
            tuple(tool.aliases),
            tool.source,
            override,
        )
        try:
            approval = await self.approver.request(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken approver must fail closed, not crash the run
            approval = request.deny(
                _approver_name(self.approver), f"approver failed: {type(exc).__name__}: {exc}"
            )
        return self._settle(call, verdict, effect, approval, override)

    def _window_closed(self, tool: Tool, effect: Effect) -> str | None:
        if self.window_guard is None:
            return None
        try:
            return self.window_guard.check(effect, tool.name)
        except Exception as exc:  # an unreadable window must hold the call, not wave it on
            return f"the change window could not be checked ({type(exc).__name__}: {exc})"

    def _settle(
        self,
        call: ToolCall,
        verdict: Verdict,
        effect: Effect,
        approval: object,
        override: str | None = None,
    ) -> Authorization:
        fingerprint = call.fingerprint
        if not isinstance(approval, ToolApproved | ToolDenied):
            approval = ToolDenied(
                fingerprint,
                _approver_name(self.approver),
                f"the approver returned {type(approval).__name__}, not an approval",
            )
        elif approval.fingerprint != fingerprint:
            approval = ToolDenied(
                fingerprint,
                approval.approver,
                "the approval was for a different call (fingerprint mismatch)",
            )
        elif (
            isinstance(approval, ToolApproved)
            and approval.scope == "run"
            and effect is Effect.PRODUCTION
        ):
            approval = ToolApproved(
                fingerprint,
                approval.approver,
                "once",
                f"{approval.reason} (production: this call only)".strip(),
            )
        if isinstance(approval, ToolApproved) and override is not None:
            approval = ToolApproved(
                fingerprint,
                approval.approver,
                approval.scope,
                f"{approval.reason} (overrides the change window: {override})".strip(),
            )
        if isinstance(approval, ToolApproved):
            if approval.scope == "run":
                self._approved_for_run.add(fingerprint)
            reason = f"approved by {approval.approver}" + (
                f": {approval.reason}" if approval.reason else ""
            )
        else:
            self._denied.setdefault(fingerprint, approval.reason or "denied")
            reason = f"denied by {approval.approver}" + (
                f": {approval.reason}" if approval.reason else ""
            )
        self._record_approval(call, approval)
        return Authorization(isinstance(approval, ToolApproved), verdict, approval, reason)

    def _record_decision(self, call: ToolCall, verdict: Verdict) -> None:
        if self.journal is not None:
            self.journal.write(
                GateDecided(
                    call_id=call.id,
                    tool=call.tool,
                    fingerprint=call.fingerprint,
                    decision=verdict.decision.value,
                    rule=verdict.rule,
                    reason=verdict.reason,
                )
            )

    def _record_approval(self, call: ToolCall, approval: Approval) -> None:
        if self.journal is not None:
            scope = approval.scope if isinstance(approval, ToolApproved) else "once"
            self.journal.write(
                ApprovalRecorded(
                    call_id=call.id,
                    fingerprint=call.fingerprint,
                    approved=approval.approved,
                    approver=approval.approver,
                    scope=scope,
                    reason=approval.reason,
                )
            )


def _approver_name(approver: Approver) -> str:
    return str(getattr(approver, "name", type(approver).__name__))
