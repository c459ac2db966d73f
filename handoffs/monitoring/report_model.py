"""The monitoring report and the monitoring agent's own handoff, as versioned models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from handoffs.contract import MetricBaseline, NextAgent, Thresholds
from handoffs.report_model import Dashboard, Incident

MonitoringStatus = Literal[
    "healthy", "inconclusive", "rolled_back", "rollback_recommended", "rollback_failed", "failed"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleRecord(_Model):
    """One monitoring window, as journaled."""

    n: int
    time: str | None
    label: str | None = None
    window_s: float
    requests: int
    errors: int
    error_rate: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    health_passed: bool
    verdict: Literal["ok", "breach", "no_data"]
    breaches: list[str] = Field(default_factory=list[str])
    notes: list[str] = Field(default_factory=list[str])
    weights: dict[str, int] = Field(default_factory=dict[str, int])


class RollbackRecord(_Model):
    """What happened to the rollback: asked, approved or denied, carried out, verified."""

    requested_at: str | None = None
    reason: str | None = None
    approved: bool | None = None
    approver: str | None = None
    decision: str | None = None
    executed: bool = False
    traffic_restored_at: str | None = None
    time_to_rollback_s: float | None = None
    weights: dict[str, int] | None = None
    verified: bool | None = None


class MonitoringReport(_Model):
    """`report.json` of a post-fix-monitoring run."""

    kind: Literal["monitoring-report"] = "monitoring-report"
    report_version: Literal[1] = 1
    run_id: str
    monitored_run: str | None = None
    service: str | None = None
    target: str | None = None
    version: str | None = None
    previous_version: str | None = None
    status: MonitoringStatus
    summary: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    window_s: float | None = None
    interval_s: float | None = None
    baseline: MetricBaseline | None = None
    thresholds: Thresholds | None = None
    samples: list[SampleRecord] = Field(default_factory=list[SampleRecord])
    regression_detected_at: str | None = None
    regression: list[str] = Field(default_factory=list[str])
    rollback: RollbackRecord = Field(default_factory=RollbackRecord)
    issues: list[Incident] = Field(default_factory=list[Incident])
    recommendations: list[str] = Field(default_factory=list[str])
    dashboards: list[Dashboard] = Field(default_factory=list[Dashboard])
    next_agent: NextAgent
    suggested_prompt: str


class FollowUpHandoff(_Model):
    """`handoff.json` of a monitoring run: "plan the next bug fix", offered, never sent."""

    kind: Literal["monitoring-handoff"] = "monitoring-handoff"
    handoff_version: Literal[1] = 1
    run_id: str
    monitored_run: str | None
    service: str | None
    version: str | None
    status: MonitoringStatus
    regression: list[str]
    recommendations: list[str]
    next_agent: NextAgent
    suggested_prompt: str
