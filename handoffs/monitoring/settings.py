"""Settings of post-fix monitoring: the `[monitoring]` table of hotfix.toml.

Thresholds left unset fall back to the deployment's own analysis thresholds
(`[deploy.verification.analysis]`), so the monitor judges the fix by the same standard the
rollout did. The resolved numbers travel in the handoff packet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from agent.config import HotfixConfig


class MonitoringSettings(BaseModel):
    """How long to watch a fix, how often, what counts as a regression, and where to look."""

    model_config = ConfigDict(extra="forbid")

    window_s: float = Field(default=600.0, gt=0)
    interval_s: float = Field(default=5.0, gt=0)
    # Samples in a row beyond a threshold before it is a regression (one bad window is noise).
    consecutive_breaches: int = Field(default=2, ge=1)
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    max_error_rate_delta: float | None = Field(default=None, ge=0, le=1)
    max_latency_ratio_p95: float | None = Field(default=None, ge=1)
    latency_floor_ms: float | None = Field(default=None, ge=0)
    # Fewer requests than this in a sample: error rate and latency are not judged.
    min_requests: int = Field(default=20, ge=1)
    # Send synthetic traffic during each sample, to loopback targets only (the local demo).
    synthetic_load: bool = True
    load_rps: float | None = Field(default=None, gt=0)
    # False: a regression is reported with a rollback recommendation, never rolled back.
    rollback_on_regression: bool = True
    # A Grafana (or any) dashboard URL template; placeholders: {service} {version}
    # {previous} {run_id} {target} {from_ms} {to_ms}.
    grafana_url: str | None = None
    # More dashboards, name -> URL template (same placeholders).
    dashboards: dict[str, str] = Field(default_factory=dict[str, str])


def monitoring_settings(config: HotfixConfig | None) -> MonitoringSettings:
    """The config's `[monitoring]` section, or the defaults when it has none."""
    value = getattr(config, "monitoring", None) if config is not None else None
    if isinstance(value, MonitoringSettings):
        return value
    return (
        MonitoringSettings.model_validate(value)
        if isinstance(value, dict)
        else (MonitoringSettings())
    )
