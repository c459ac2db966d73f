"""Configuration of post-deployment verification: health checks, smoke tests, metric analysis.

Defaults follow the anchors in DESIGN.md §6: Kayenta judges latency with a Mann-Whitney U test
at 98 % confidence, passes at score 95, calls 75 marginal, and wants at least 50 data points.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class HealthCheckSettings(BaseModel):
    """How to decide that a freshly staged version is healthy.

    The check polls `path` every `interval_s` until `consecutive_successes` probes in a row
    succeed, or gives up after `max_wait_s`.
    """

    model_config = ConfigDict(extra="forbid")

    path: str = "/healthz"
    expected_status: int = Field(default=200, ge=100, le=599)
    consecutive_successes: int = Field(default=3, ge=1)
    interval_s: float = Field(default=0.2, ge=0)
    request_timeout_s: float = Field(default=2.0, gt=0)
    max_wait_s: float = Field(default=30.0, gt=0)
    body_contains: str | None = None


class SmokeTestSettings(BaseModel):
    """One smoke test: an HTTP request with expectations, or a shell command.

    When `command` is set the test runs it (with `{url}` replaced by the version's base URL)
    and passes on exit status 0; the HTTP fields are then unused.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    method: HttpMethod = "GET"
    path: str = "/"
    expected_status: int = Field(default=200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict[str, str])
    json_body: Any = None
    body_contains: list[str] = Field(default_factory=list[str])
    # Keys are dotted paths into the JSON response: `total`, `items.0.sku`.
    json_equals: dict[str, Any] = Field(default_factory=dict[str, Any])
    max_latency_ms: float | None = Field(default=None, gt=0)
    command: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)


class AnalysisSettings(BaseModel):
    """Thresholds for comparing a candidate version's traffic with the baseline's."""

    model_config = ConfigDict(extra="forbid")

    window_s: float = Field(default=3.0, gt=0)
    min_requests: int = Field(default=50, ge=1)
    max_error_rate: float = Field(default=0.02, ge=0, le=1)
    max_error_rate_delta: float = Field(default=0.01, ge=0, le=1)
    max_latency_ratio_p95: float = Field(default=1.5, ge=1)
    confidence: float = Field(default=0.98, gt=0, lt=1)
    # A statistically significant slowdown smaller than this fraction of the baseline median,
    # or than `latency_floor_ms`, is not a regression: loopback timings jitter by a few ms.
    latency_tolerance: float = Field(default=0.1, ge=0)
    latency_floor_ms: float = Field(default=2.0, ge=0)
    pass_score: float = Field(default=95, ge=0, le=100)
    marginal_score: float = Field(default=75, ge=0, le=100)
    load_rps: float = Field(default=100.0, gt=0)
    load_concurrency: int = Field(default=8, ge=1)
    load_paths: list[str] = Field(default_factory=lambda: ["/healthz"], min_length=1)

    @model_validator(mode="after")
    def _marginal_below_pass(self) -> AnalysisSettings:
        if self.marginal_score > self.pass_score:
            raise ValueError("marginal_score must not exceed pass_score")
        return self


class VerificationSettings(BaseModel):
    """Everything verification needs: health check, smoke tests and metric analysis."""

    model_config = ConfigDict(extra="forbid")

    health: HealthCheckSettings = Field(default_factory=HealthCheckSettings)
    smoke: list[SmokeTestSettings] = Field(default_factory=list[SmokeTestSettings])
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
