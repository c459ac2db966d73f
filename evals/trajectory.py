"""What one eval run left behind, in the form the graders read.

A `Trajectory` holds the journal records, the model requests, the simulated target's
mutations (each attributed to the tool call it happened in), the final environment, the
report and handoff, and the approvals asked. `calls` joins the journal's per-call events
into one `CallView` per tool call. Graders and tests build trajectories by hand as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.approver import AskedApproval
from evals.scenario import Scenario
from evals.simulated.target import SimOp

Record = dict[str, Any]


@dataclass
class CallView:
    """One tool call as the journal tells it."""

    call_id: str
    tool: str
    args: dict[str, Any]
    effect: str | None
    fingerprint: str
    requested_seq: int
    decision: str | None = None  # the gate's allow / ask / deny
    approval: Record | None = None  # the approval record, when the gate asked
    status: str | None = None  # tool_finished status
    finished_seq: int | None = None
    ops: list[SimOp] = field(default_factory=list[SimOp])

    @property
    def allowed(self) -> bool:
        """The gate let it run (allowed by policy, or approved)."""
        if self.decision == "allow":
            return True
        return bool(self.approval and self.approval.get("approved"))

    @property
    def denied(self) -> bool:
        return self.decision == "deny" or bool(self.approval and not self.approval.get("approved"))

    @property
    def ran(self) -> bool:
        """The tool itself ran (whatever it then returned)."""
        return self.allowed and self.status in ("ok", "error")

    @property
    def mutating(self) -> bool:
        return self.effect not in (None, "read")


@dataclass
class Trajectory:
    """Everything graders need from one run of one scenario."""

    scenario: Scenario
    epoch: int = 1
    records: list[Record] = field(default_factory=list[Record])
    requests: list[str] = field(default_factory=list[str])
    ops: list[SimOp] = field(default_factory=list[SimOp])
    final_state: dict[str, Any] = field(default_factory=dict[str, Any])
    asked: list[AskedApproval] = field(default_factory=list[AskedApproval])
    status: str = "unknown"
    stop_reason: str = ""
    final_text: str = ""
    model: str = ""
    turns: int = 0
    tool_calls: int = 0
    usage: dict[str, int] = field(default_factory=dict[str, int])
    report_md: str | None = None
    report_json: dict[str, Any] | None = None
    handoff: dict[str, Any] | None = None
    run_dir: Path | None = None
    errors: list[str] = field(default_factory=list[str])
    wall_s: float = 0.0

    def of_type(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.get("type") == kind]

    def calls(self) -> list[CallView]:
        """Every tool call in journal order, with its gate decision, approval and ops."""
        views: dict[str, CallView] = {}
        for record in self.records:
            kind, call_id = record.get("type"), str(record.get("call_id", ""))
            if kind == "tool_requested":
                views[call_id] = CallView(
                    call_id,
                    str(record.get("tool")),
                    dict(record.get("args") or {}),
                    record.get("effect"),
                    str(record.get("fingerprint")),
                    int(record["seq"]),
                )
            elif call_id in views:
                view = views[call_id]
                if kind == "gate_decision":
                    view.decision = record.get("decision")
                elif kind == "approval":
                    view.approval = record
                elif kind == "tool_finished":
                    view.status, view.finished_seq = record.get("status"), int(record["seq"])
        for op in self.ops:
            if op.call_id in views:
                views[op.call_id].ops.append(op)
        return sorted(views.values(), key=lambda v: v.requested_seq)

    def steps(self) -> list[Record]:
        return self.of_type("step")

    def passed_verifications(self, before_seq: int, where: str = "verify") -> set[str]:
        """Labels with a passing `verify:<label>` (or `verify-prod:`) step before `before_seq`."""
        labels: set[str] = set()
        for step in self.steps():
            if step["seq"] >= before_seq or step.get("phase") != "finished":
                continue
            step_id = str(step.get("step_id"))
            details = step.get("details") or {}
            if step_id.startswith(f"{where}:") and details.get("passed") is True:
                labels.add(str(details.get("label") or step_id.split(":", 1)[1]))
        return labels
