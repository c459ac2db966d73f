"""The handoff contract: what the hotfix-deployment agent passes to post-fix monitoring.

`HandoffPacket` is versioned (`handoff_version`) and has an exported JSON schema
(`handoff.schema.json`, rewritten by `python -m handoffs.contract`; a test keeps it in sync).
A packet is built from the report (itself derived from the journal) and is everything the
monitoring agent gets: it starts from the packet alone, in a fresh process if need be.
The packet travels inside the monitoring run's request text as a fenced JSON block
(`packet_message` / `packet_from_text`), so the run's journal records exactly what it got.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoffs.report_model import CheckRecord, Dashboard, Incident, RollbackPlan

HANDOFF_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "handoff.schema.json"
_FENCE = re.compile(r"```json\s*\n(\{.*?\})\s*\n```", re.S)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timestamps(_Model):
    """When things happened (ISO-8601 UTC); None when they did not."""

    run_started: str | None = None
    run_finished: str | None = None
    deployment_started: str | None = None
    deployment_finished: str | None = None
    promoted: str | None = None
    first_failure: str | None = None
    traffic_restored: str | None = None


class Endpoints(_Model):
    """Where the service answers and where its numbers are."""

    production_url: str | None = None
    health_url: str | None = None
    stats_url: str | None = None


class MetricBaseline(_Model):
    """What normal looked like for one version, measured during the rollout."""

    label: str
    source: str
    measured_at: str | None = None
    window_s: float | None = None
    requests: int = 0
    errors: int = 0
    error_rate: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None


class Thresholds(_Model):
    """What counts as a regression during monitoring."""

    max_error_rate: float
    max_error_rate_delta: float
    max_latency_ratio_p95: float
    latency_floor_ms: float
    min_requests: int
    consecutive_breaches: int


class MonitoringPlan(_Model):
    """How long and how often to watch, and against which thresholds."""

    window_s: float
    interval_s: float
    thresholds: Thresholds
    synthetic_load: bool = False
    load_paths: list[str] = Field(default_factory=list[str])
    load_rps: float = 0.0
    rollback_on_regression: bool = True


class NextAgent(_Model):
    """The handoff offered at the end of the run: never started unless someone says so."""

    label: str
    agent: str
    prompt: str
    send: bool = False


class HandoffPacket(_Model):
    """Everything the post-fix-monitoring agent needs (contract version 1)."""

    kind: Literal["hotfix-handoff"] = "hotfix-handoff"
    handoff_version: Literal[1] = HANDOFF_VERSION
    run_id: str
    service: str
    workspace: str
    config_source: str | None = None
    target: str | None = None
    strategy: str | None = None
    status: str
    version: str | None = None
    version_ref: str | None = None
    previous_version: str | None = None
    previous_ref: str | None = None
    flags_before: dict[str, bool] = Field(default_factory=dict[str, bool])
    timestamps: Timestamps = Field(default_factory=Timestamps)
    endpoints: Endpoints = Field(default_factory=Endpoints)
    health: list[CheckRecord] = Field(default_factory=list[CheckRecord])
    smoke: list[CheckRecord] = Field(default_factory=list[CheckRecord])
    baseline: MetricBaseline | None = None
    previous_baseline: MetricBaseline | None = None
    rollback: RollbackPlan
    monitoring: MonitoringPlan
    dashboards: list[Dashboard] = Field(default_factory=list[Dashboard])
    open_incidents: list[Incident] = Field(default_factory=list[Incident])
    next_agent: NextAgent
    suggested_prompt: str

    @property
    def watched_version(self) -> str | None:
        """The version production should be serving: the fix, or what it was rolled back to."""
        return self.version if self.status == "deployed" else self.previous_version


def handoff_schema() -> dict[str, Any]:
    """The JSON schema of `handoff.json`."""
    schema = HandoffPacket.model_json_schema()
    schema["$id"] = f"urn:hotfix-agent:handoff:{HANDOFF_VERSION}"
    return schema


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the schema file kept in the repository."""
    path.write_text(json.dumps(handoff_schema(), indent=2) + "\n", encoding="utf-8")
    return path


def load_handoff(path: Path) -> HandoffPacket:
    """Read and validate a `handoff.json`.

    Raises:
        pydantic.ValidationError: the file does not match the contract.
    """
    return HandoffPacket.model_validate_json(path.read_text(encoding="utf-8"))


def packet_message(packet: HandoffPacket) -> str:
    """The request a monitoring run starts from: the suggested prompt plus the packet."""
    body = packet.model_dump_json(indent=2)
    return (
        f"{packet.suggested_prompt}\n\nHandoff packet of run {packet.run_id} "
        f"(contract v{packet.handoff_version}):\n```json\n{body}\n```\n"
    )


def packet_from_text(text: str) -> HandoffPacket | None:
    """The packet inside a monitoring request (see `packet_message`), or None."""
    match = _FENCE.search(text)
    if match is None:
        return None
    try:
        return HandoffPacket.model_validate_json(match.group(1))
    except ValueError:
        return None


if __name__ == "__main__":
    print(write_schema())
