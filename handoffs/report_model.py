"""The deployment report as data: a versioned pydantic model with an exported JSON schema.

`report.json` is this model dumped; `report.md` and `report.html` are rendered from it. Every
field is derived from the run's journal (see `report_data.collect`), never from the model's
own account of what it did. `python -m handoffs.report_model` rewrites `report.schema.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

REPORT_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "report.schema.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeploymentSummary(_Model):
    """Deliverable 1: what was deployed, how it ended, and when.

    `driven_by`: "strategy" when one `hotfix_deploy` call ran a whole strategy; "tools" when
    the rollout was driven step by step (`hotfix_stage`, `hotfix_shift_traffic`,
    `hotfix_promote`, `hotfix_rollback`), as a chat or an MCP client does. `strategy` is then
    what the steps amounted to: canary (partial traffic), blue-green (straight to 100 %), or
    manual (staged only).
    """

    version: str
    ref: str | None = None
    strategy: str
    driven_by: Literal["strategy", "tools"] = "strategy"
    status: str
    previous: str | None = None
    previous_ref: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    promoted_at: str | None = None
    first_failure_at: str | None = None
    traffic_restored_at: str | None = None
    time_to_rollback_s: float | None = None
    rollback_verified: bool | None = None
    reason: str | None = None


class StepRecord(_Model):
    """One journaled deployment step event."""

    step_id: str
    kind: str
    phase: str
    time: str | None
    note: str = ""


class CloudOperation(_Model):
    """One call to a cloud API (ARM, Kudu) or a check the cloud target made, as journaled.

    `details` and `error` were masked when journaled and are masked again for the report.
    """

    time: str | None
    service: str
    operation: str
    resource: str
    slot: str | None = None
    outcome: Literal["ok", "error"]
    mutating: bool
    duration_ms: int = 0
    summary: str = ""
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict[str, Any])


class CheckRecord(_Model):
    """Deliverables 2 and 3: one health check or smoke test, where and when it ran."""

    step_id: str
    where: str
    kind: str
    name: str
    passed: bool
    message: str = ""
    time: str | None = None
    latency_ms: float | None = None


class VerdictRecord(_Model):
    """A verification step (health then smoke) and its verdict."""

    step_id: str
    where: str
    passed: bool
    reason: str | None = None
    checks: list[CheckRecord] = Field(default_factory=list[CheckRecord])


class AnalysisRecord(_Model):
    """One traffic analysis: candidate against baseline over a window."""

    step_id: str
    percent: int | None = None
    passed: bool
    outcome: str | None = None
    score: float | None = None
    reasons: list[str] = Field(default_factory=list[str])
    window_s: float | None = None
    time: str | None = None
    candidate: dict[str, Any] = Field(default_factory=dict[str, Any])
    baseline: dict[str, Any] = Field(default_factory=dict[str, Any])


class ConfigurationApplied(_Model):
    """Deliverable 4: the settings the run used and the changes it applied, secrets masked."""

    source: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict[str, Any])
    changes: list[str] = Field(default_factory=list[str])
    error: str | None = None


class RollbackOperation(_Model):
    """One operation of a rollback, in the order it must run."""

    op: Literal[
        "set_weights",
        "stage_previous",
        "health_check_staged",
        "restore_flags",
        "undo_rolling_update",
        "health_check_production",
        "retire",
        "database_restore",
    ]
    description: str
    args: dict[str, Any] = Field(default_factory=dict[str, Any])


class RollbackPlan(_Model):
    """Deliverable 5: the exact way back for this target and this run."""

    state: Literal["not_needed", "done", "available", "redeploy", "manual"]
    summary: str
    operations: list[RollbackOperation] = Field(default_factory=list[RollbackOperation])
    commands: list[str] = Field(default_factory=list[str])
    database: str | None = None


class Dashboard(_Model):
    """Deliverable 6: a link to an observability view of this service."""

    name: str
    url: str
    kind: Literal["router-stats", "azure-portal", "app-insights", "grafana", "custom"]


class Incident(_Model):
    """Deliverable 7: a failure, retry, rollback, denial or error, with its time."""

    time: str | None
    kind: str
    what: str


class ChecklistItem(_Model):
    """One checklist line: ticked only when the journal holds evidence for it."""

    id: str
    text: str
    status: Literal["done", "open", "n/a"]
    evidence: str

    @property
    def done(self) -> bool:
        return self.status == "done"


class Checklists(_Model):
    """The seed's before / during / after deployment checklists."""

    before: list[ChecklistItem]
    during: list[ChecklistItem]
    after: list[ChecklistItem]


class ReportDocument(_Model):
    """Everything `report.json` holds (schema version `REPORT_VERSION`)."""

    report_version: Literal[1] = REPORT_VERSION
    run_id: str
    description: str = ""
    agent: str = ""
    model: str = ""
    front_end: str = ""
    workspace: str
    status: str
    run_status: str
    started_at: str | None = None
    finished_at: str | None = None
    target: str | None = None
    production_url: str | None = None
    stats_url: str | None = None
    deployment: DeploymentSummary | None = None
    steps: list[StepRecord] = Field(default_factory=list[StepRecord])
    cloud_operations: list[CloudOperation] = Field(default_factory=list[CloudOperation])
    health_checks: list[CheckRecord] = Field(default_factory=list[CheckRecord])
    smoke_tests: list[CheckRecord] = Field(default_factory=list[CheckRecord])
    checks: list[VerdictRecord] = Field(default_factory=list[VerdictRecord])
    analysis: list[AnalysisRecord] = Field(default_factory=list[AnalysisRecord])
    configuration: ConfigurationApplied = Field(default_factory=ConfigurationApplied)
    rollback_plan: RollbackPlan
    dashboards: list[Dashboard] = Field(default_factory=list[Dashboard])
    incidents: list[Incident] = Field(default_factory=list[Incident])
    checklists: Checklists


def report_schema() -> dict[str, Any]:
    """The JSON schema of `report.json`."""
    schema = ReportDocument.model_json_schema()
    schema["$id"] = "urn:hotfix-agent:report:1"
    return schema


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the schema file (kept in the repository, checked by a test)."""
    path.write_text(json.dumps(report_schema(), indent=2) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_schema())
