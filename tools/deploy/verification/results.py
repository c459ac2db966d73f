"""What verification produced: probes, check results and metric-analysis verdicts.

All results are plain dataclasses with `to_dict()` so that the journal, the report and the
handoff can store them as JSON without knowing how they were measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CheckKind = Literal["health", "smoke", "analysis"]
Outcome = Literal["pass", "marginal", "fail", "inconclusive"]


@dataclass(frozen=True)
class Probe:
    """One request made while verifying: when, what came back, how long it took.

    `status` is None when no response arrived; `error` says why a probe did not count as a
    success (connection error, timeout, unexpected status or body).
    """

    ts: float
    status: int | None
    latency_ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the probe met its expectations."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ts": self.ts,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 3),
            "error": self.error,
        }


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one health check, smoke test or analysis, with its evidence.

    `details["message"]` always holds a one-line human summary (why it failed, or what passed).
    """

    kind: CheckKind
    name: str
    passed: bool
    started_at: float
    finished_at: float
    details: dict[str, Any] = field(default_factory=dict[str, Any])
    samples: list[Probe] = field(default_factory=list[Probe])

    @property
    def message(self) -> str:
        """The one-line summary from `details`."""
        return str(self.details.get("message", ""))

    @property
    def duration_s(self) -> float:
        """Wall-clock time the check took."""
        return self.finished_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "name": self.name,
            "passed": self.passed,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "details": self.details,
            "samples": [probe.to_dict() for probe in self.samples],
        }


@dataclass(frozen=True)
class AnalysisResult:
    """Kayenta-like verdict on a candidate's metrics compared with the baseline's.

    `score` is the percentage of evaluated metric checks that passed. `baseline` and
    `candidate` summarise each side (requests, error rate, percentiles); `statistics` holds
    every check with its figures and the Mann-Whitney test, when it ran.
    """

    outcome: Outcome
    score: float
    reasons: list[str]
    baseline: dict[str, Any] = field(default_factory=dict[str, Any])
    candidate: dict[str, Any] = field(default_factory=dict[str, Any])
    statistics: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def passed(self) -> bool:
        """True only for a clean pass; callers decide about `marginal` with `accepted()`."""
        return self.outcome == "pass"

    def accepted(self, *, allow_marginal: bool = False) -> bool:
        """Whether promotion may go ahead, optionally tolerating a marginal score."""
        return self.outcome == "pass" or (allow_marginal and self.outcome == "marginal")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "outcome": self.outcome,
            "score": self.score,
            "reasons": list(self.reasons),
            "baseline": self.baseline,
            "candidate": self.candidate,
            "statistics": self.statistics,
        }
