"""The simulated human who answers approval requests in an eval run.

It answers each request from the scenario's rules (first match wins, then the default):
`approve` approves exactly the call asked about; `deny` denies it; `timeout` never answers,
and the wait times out like a terminal prompt nobody attends to, which denies the call.
Every request is recorded for the graders.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agent.approvers import Approval, ApprovalRequest
from evals.scenario import Answer, ApprovalRule, Approvals

# Deployment tools a release manager approves in the normal case (predeploy included).
DEPLOY_TOOLS = (
    "hotfix_predeploy",
    "hotfix_migrate",
    "hotfix_deploy",
    "hotfix_stage",
    "hotfix_verify",
    "hotfix_shift_traffic",
    "hotfix_promote",
    "hotfix_rollback",
)
# Real seconds the simulated "timeout" waits: short, because the human never answers.
_TIMEOUT_WAIT_S = 0.01


@dataclass(frozen=True)
class AskedApproval:
    """One request the approver answered."""

    call_id: str
    tool: str
    args: dict[str, Any]
    fingerprint: str
    answer: Answer


class ScriptedApprover:
    """Answers from `Approvals` rules; see the module docstring."""

    name = "eval-approver"

    def __init__(self, approvals: Approvals) -> None:
        self.approvals = approvals
        self.asked: list[AskedApproval] = []

    def answer_for(self, tool: str, args: dict[str, Any]) -> Answer:
        """The answer the rules give to a call of `tool` with `args`."""
        for rule in self.approvals.rules:
            if _matches(rule, tool, args):
                return rule.answer
        if self.approvals.approve_deploy_tools and tool in DEPLOY_TOOLS:
            return "approve"
        return self.approvals.default

    async def request(self, req: ApprovalRequest) -> Approval:
        answer = self.answer_for(req.tool_name, req.call.args)
        self.asked.append(
            AskedApproval(
                req.call.id, req.tool_name, dict(req.call.args), req.call.fingerprint, answer
            )
        )
        if answer == "approve":
            return req.approve(self.name, "once", "approved by the scenario's release manager")
        if answer == "deny":
            return req.deny(self.name, "denied by the scenario's release manager")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), _TIMEOUT_WAIT_S)
        return req.deny(
            self.name, f"no answer within {self.approvals.timeout_s:g} s (approval timed out)"
        )


def _matches(rule: ApprovalRule, tool: str, args: dict[str, Any]) -> bool:
    if rule.tool not in (tool, "*"):
        return False
    if any(args.get(key) != value for key, value in rule.args.items()):
        return False
    if rule.host is not None:
        urls = [v for v in args.values() if isinstance(v, str) and "://" in v]
        return bool(urls) and all(urlsplit(u).hostname == rule.host for u in urls)
    return True
