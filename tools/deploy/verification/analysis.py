"""Judge a candidate version's traffic against the baseline's, Kayenta style.

Four metric checks, each pass/fail:
- `error_rate`: the candidate's error rate is at most `max_error_rate`;
- `error_rate_delta`: it exceeds the baseline's by at most `max_error_rate_delta`;
- `latency_shift`: a one-sided Mann-Whitney U test finds no slowdown at `confidence`
  (a significant slowdown within the tolerance still passes);
- `latency_p95`: the candidate's p95 is at most `max_latency_ratio_p95` times the baseline's.

The score is the percentage of evaluated checks that pass (Kayenta: ≥ 95 pass, ≥ 75 marginal).
Error-rate checks are critical, as in Argo Rollouts: one failed measurement fails the analysis
whatever the score. Latency checks need `min_requests` samples on both sides; otherwise they
are skipped and said so. Too few candidate requests make the whole analysis inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tools.deploy.target import VersionMetrics
from tools.deploy.verification.results import AnalysisResult, Outcome
from tools.deploy.verification.settings import AnalysisSettings
from tools.deploy.verification.statistics import mann_whitney_u, percentile

_EPSILON = 1e-12  # float slack so that a rate exactly at the threshold passes


@dataclass(frozen=True)
class _Check:
    name: str
    passed: bool
    critical: bool
    value: float
    threshold: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "critical": self.critical,
            "value": _finite(self.value),
            "threshold": _finite(self.threshold),
            "reason": self.reason,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _latencies(metrics: VersionMetrics) -> list[float]:
    return [value for value in metrics.latencies_ms if math.isfinite(value)]


def _summary(metrics: VersionMetrics) -> dict[str, Any]:
    latencies = _latencies(metrics)
    summary: dict[str, Any] = {
        "label": metrics.label,
        "requests": metrics.requests,
        "errors": metrics.errors,
        "error_rate": metrics.error_rate,
        "samples": len(latencies),
        "p50_ms": None,
        "p95_ms": None,
        "mean_ms": None,
    }
    if latencies:
        summary["p50_ms"] = percentile(latencies, 50)
        summary["p95_ms"] = percentile(latencies, 95)
        summary["mean_ms"] = sum(latencies) / len(latencies)
    return summary


def _error_checks(
    baseline: VersionMetrics, candidate: VersionMetrics, settings: AnalysisSettings
) -> list[_Check]:
    rate = candidate.error_rate
    ok = rate <= settings.max_error_rate + _EPSILON
    absolute = _Check(
        "error_rate",
        ok,
        True,
        rate,
        settings.max_error_rate,
        f"error rate {_pct(rate)} ({candidate.errors}/{candidate.requests}) is "
        f"{'within' if ok else 'above'} the maximum {_pct(settings.max_error_rate)}",
    )
    # A baseline without traffic counts as error-free: the stricter comparison.
    delta = rate - baseline.error_rate
    ok = delta <= settings.max_error_rate_delta + _EPSILON
    relative = _Check(
        "error_rate_delta",
        ok,
        True,
        delta,
        settings.max_error_rate_delta,
        f"error rate {_pct(rate)} vs baseline {_pct(baseline.error_rate)} "
        f"({baseline.errors}/{baseline.requests}): {delta * 100:+.1f} points, "
        f"{'within' if ok else 'above'} the allowed +{settings.max_error_rate_delta * 100:.1f}",
    )
    return [absolute, relative]


def _latency_checks(
    base: list[float], cand: list[float], settings: AnalysisSettings, stats: dict[str, Any]
) -> list[_Check]:
    alpha = 1.0 - settings.confidence
    test = mann_whitney_u(cand, base, alternative="greater")
    median_b, median_c = percentile(base, 50), percentile(cand, 50)
    shift = median_c - median_b
    allowed = max(settings.latency_tolerance * median_b, settings.latency_floor_ms)
    significant = test.p_value < alpha
    stats["mann_whitney"] = {
        "u": test.u,
        "p_value": test.p_value,
        "z": test.z,
        "alpha": alpha,
        "alternative": "candidate slower",
        "significant": significant,
        "median_shift_ms": shift,
        "allowed_shift_ms": allowed,
    }
    medians = f"median {median_c:.1f} ms vs baseline {median_b:.1f} ms ({shift:+.1f} ms)"
    if not significant:
        shift_ok = True
        reason = f"latency: no significant slowdown (Mann-Whitney p={test.p_value:.3g}); {medians}"
    elif shift <= allowed:
        shift_ok = True
        reason = (
            f"latency: slowdown is significant (Mann-Whitney p={test.p_value:.3g}) but within "
            f"the tolerated {allowed:.1f} ms; {medians}"
        )
    else:
        shift_ok = False
        reason = (
            f"latency: candidate is slower (Mann-Whitney p={test.p_value:.3g} < {alpha:.3g}, "
            f"{settings.confidence * 100:.0f}% confidence); {medians}"
        )
    shift_check = _Check("latency_shift", shift_ok, False, test.p_value, alpha, reason)

    p95_b, p95_c = percentile(base, 95), percentile(cand, 95)
    ratio = p95_c / p95_b if p95_b > 0 else math.inf
    p95_ok = ratio <= settings.max_latency_ratio_p95 or p95_c - p95_b <= settings.latency_floor_ms
    stats["p95_ratio"] = _finite(ratio)
    p95_check = _Check(
        "latency_p95",
        p95_ok,
        False,
        ratio,
        settings.max_latency_ratio_p95,
        f"p95 latency {p95_c:.1f} ms vs baseline {p95_b:.1f} ms (x{ratio:.2f}, "
        f"{'within' if p95_ok else 'above'} the maximum x{settings.max_latency_ratio_p95:.2f})",
    )
    return [shift_check, p95_check]


def _outcome(checks: list[_Check], score: float, settings: AnalysisSettings) -> Outcome:
    if any(check.critical and not check.passed for check in checks):
        return "fail"
    if score >= settings.pass_score:
        return "pass"
    if score >= settings.marginal_score:
        return "marginal"
    return "fail"


def analyze(
    baseline: VersionMetrics, candidate: VersionMetrics, settings: AnalysisSettings
) -> AnalysisResult:
    """Compare the candidate's window of traffic with the baseline's.

    Args:
        baseline: Metrics of the version currently trusted (production).
        candidate: Metrics of the version being verified, over the same window.
        settings: Thresholds; see `AnalysisSettings`.

    Returns:
        The outcome ("pass", "marginal", "fail" or "inconclusive"), the score, one
        human-readable reason per check (failures first, with their figures), both sides'
        summaries and the statistics behind each check.
    """
    base_summary, cand_summary = _summary(baseline), _summary(candidate)
    stats: dict[str, Any] = {
        "min_requests": settings.min_requests,
        "confidence": settings.confidence,
    }
    if candidate.requests < settings.min_requests:
        reason = (
            f"candidate {candidate.label} served {candidate.requests} requests in the window; "
            f"at least {settings.min_requests} are needed to judge it"
        )
        stats["checks"] = []
        return AnalysisResult("inconclusive", 0.0, [reason], base_summary, cand_summary, stats)

    checks = _error_checks(baseline, candidate, settings)
    skipped: list[str] = []
    base_lat, cand_lat = _latencies(baseline), _latencies(candidate)
    if len(base_lat) >= settings.min_requests and len(cand_lat) >= settings.min_requests:
        checks += _latency_checks(base_lat, cand_lat, settings, stats)
    else:
        skipped.append(
            f"latency not compared: baseline has {len(base_lat)} samples, candidate "
            f"{len(cand_lat)}; at least {settings.min_requests} each are needed"
        )
    score = 100.0 * sum(check.passed for check in checks) / len(checks)
    outcome = _outcome(checks, score, settings)
    stats["checks"] = [check.to_dict() for check in checks]
    stats["skipped"] = skipped
    ordered = sorted(checks, key=lambda check: check.passed)  # failures first
    reasons = [f"score {score:.0f} ({outcome})"]
    reasons += [check.reason for check in ordered] + skipped
    return AnalysisResult(outcome, score, reasons, base_summary, cand_summary, stats)
