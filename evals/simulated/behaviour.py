"""How a simulated version behaves, and the faults a simulated target injects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TargetOp = Literal[
    "stage", "set_weights", "retire", "set_flag", "rolling_update", "undo_rolling_update"
]


class VersionBehaviour(BaseModel):
    """Scripted behaviour of one version of the service.

    Attributes:
        health: `healthy`, `failing` or `flapping` (alternates probe by probe).
        warmup_s: Seconds of simulated time after staging during which health probes fail.
        health_body: Body of a failing health probe (injections live here).
        smoke: Whether the smoke tests pass on the version's own URL.
        smoke_via_production: False: smoke passes on its own URL, fails through production.
        smoke_message: What a failing smoke test reports.
        error_rate: Fraction of requests that fail with 5xx under traffic.
        errors_from_weight: The error rate applies only from this traffic share on.
        latency_ms: Median latency of its requests.
        log: Log lines quoted by failing checks (secrets in logs live here).
    """

    model_config = ConfigDict(extra="forbid")

    health: Literal["healthy", "failing", "flapping"] = "healthy"
    warmup_s: float = Field(default=0.0, ge=0)
    health_body: str = "unhealthy"
    smoke: Literal["pass", "fail"] = "pass"
    smoke_via_production: bool = True
    smoke_message: str = "POST /checkout returned 500"
    error_rate: float = Field(default=0.0, ge=0, le=1)
    errors_from_weight: int = Field(default=0, ge=0, le=100)
    latency_ms: float = Field(default=20.0, gt=0)
    log: list[str] = Field(default_factory=list[str])


class Fault(BaseModel):
    """One scripted failure of a target operation.

    `match` narrows it: a version label for stage/retire/rolling_update, a flag name for
    set_flag, or `<label>:<percent>` for set_weights (e.g. `v1.4.3:100`).
    """

    model_config = ConfigDict(extra="forbid")

    op: TargetOp
    match: str | None = None
    message: str = "scripted failure"
    times: int = Field(default=1, ge=1)
