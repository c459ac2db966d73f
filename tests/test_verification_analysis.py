"""Metric analysis: pass, fail on errors, fail on latency, marginal, inconclusive."""

from __future__ import annotations

import json
import random

from tools.deploy.target import VersionMetrics
from tools.deploy.verification.analysis import analyze
from tools.deploy.verification.settings import AnalysisSettings

SETTINGS = AnalysisSettings()


def _metrics(
    label: str, requests: int, errors: int, low: float, high: float, seed: int
) -> VersionMetrics:
    rng = random.Random(seed)
    latencies = [rng.uniform(low, high) for _ in range(requests)]
    return VersionMetrics(label, requests, errors, latencies)


def _check(result_statistics: dict[str, object], name: str) -> dict[str, object]:
    checks = result_statistics["checks"]
    assert isinstance(checks, list)
    for check in checks:
        assert isinstance(check, dict)
        if check["name"] == name:
            return check
    raise AssertionError(f"no check {name}")


def test_candidate_like_the_baseline_passes_with_full_score() -> None:
    baseline = _metrics("blue", 200, 0, 20, 40, seed=1)
    candidate = _metrics("green", 200, 0, 20, 40, seed=2)

    result = analyze(baseline, candidate, SETTINGS)

    assert result.outcome == "pass"
    assert result.passed
    assert result.score == 100.0
    assert len(result.statistics["checks"]) == 4
    assert result.candidate["requests"] == 200


def test_error_rate_above_the_maximum_fails_even_though_latency_is_fine() -> None:
    baseline = _metrics("blue", 200, 0, 20, 40, seed=1)
    candidate = _metrics("green", 200, 20, 20, 40, seed=2)

    result = analyze(baseline, candidate, SETTINGS)

    assert result.outcome == "fail"
    assert not result.passed
    assert result.score == 50.0  # both error checks fail, both latency checks pass
    assert any("error rate 10.0% (20/200)" in r and "above" in r for r in result.reasons)


def test_error_rate_rise_over_the_baseline_fails_below_the_absolute_maximum() -> None:
    # 1.8% is under the 2% ceiling, but 1.3 points above the baseline's 0.5%.
    baseline = _metrics("blue", 1000, 5, 20, 40, seed=1)
    candidate = _metrics("green", 1000, 18, 20, 40, seed=2)

    result = analyze(baseline, candidate, SETTINGS)

    assert result.outcome == "fail"
    assert result.score == 75.0  # would be marginal, but an error check is critical
    assert _check(result.statistics, "error_rate")["passed"] is True
    assert _check(result.statistics, "error_rate_delta")["passed"] is False
    assert any("+1.3 points" in r for r in result.reasons)


def test_clear_latency_regression_is_detected_by_mann_whitney_and_fails() -> None:
    baseline = _metrics("blue", 200, 0, 20, 40, seed=1)
    candidate = _metrics("green", 200, 0, 40, 80, seed=2)

    result = analyze(baseline, candidate, SETTINGS)

    assert result.outcome == "fail"
    assert result.score == 50.0
    mw = result.statistics["mann_whitney"]
    assert mw["significant"] is True
    assert mw["p_value"] < 0.02
    assert result.reasons[1].startswith("latency: candidate is slower (Mann-Whitney p=")
    assert any(r.startswith("p95 latency") and "above" in r for r in result.reasons)


def test_small_significant_slowdown_within_p95_ratio_is_marginal() -> None:
    # Median +4 ms (> 10% tolerance), p95 ratio ~1.1: one of four checks fails -> 75.
    baseline = _metrics("blue", 300, 0, 20, 40, seed=1)
    candidate = _metrics("green", 300, 0, 24, 44, seed=2)

    result = analyze(baseline, candidate, SETTINGS)

    assert result.outcome == "marginal"
    assert result.score == 75.0
    assert not result.passed
    assert result.accepted(allow_marginal=True)
    assert not result.accepted()


def test_significant_but_tiny_slowdown_is_tolerated() -> None:
    # Loopback jitter: +0.5 ms on a 1 ms median is significant but below the 2 ms floor.
    baseline = _metrics("blue", 300, 0, 0.5, 1.5, seed=1)
    candidate = _metrics("green", 300, 0, 1.0, 2.0, seed=2)

    result = analyze(baseline, candidate, SETTINGS)

    assert result.statistics["mann_whitney"]["significant"] is True
    assert result.outcome == "pass"


def test_faster_candidate_passes_the_one_sided_latency_test() -> None:
    baseline = _metrics("blue", 200, 0, 40, 80, seed=1)
    candidate = _metrics("green", 200, 0, 20, 40, seed=2)

    assert analyze(baseline, candidate, SETTINGS).outcome == "pass"


def test_too_few_candidate_requests_is_inconclusive() -> None:
    baseline = _metrics("blue", 200, 0, 20, 40, seed=1)
    candidate = _metrics("green", 12, 6, 20, 40, seed=2)

    result = analyze(baseline, candidate, SETTINGS)

    assert result.outcome == "inconclusive"
    assert not result.passed
    assert result.reasons == [
        "candidate green served 12 requests in the window; at least 50 are needed to judge it"
    ]


def test_latency_is_skipped_without_enough_baseline_samples_and_said_so() -> None:
    baseline = VersionMetrics("blue", 0, 0, [])
    candidate = _metrics("green", 100, 0, 20, 40, seed=2)

    result = analyze(baseline, candidate, SETTINGS)

    assert result.outcome == "pass"
    assert [c["name"] for c in result.statistics["checks"]] == ["error_rate", "error_rate_delta"]
    assert any(r.startswith("latency not compared: baseline has 0 samples") for r in result.reasons)


def test_thresholds_come_from_the_settings() -> None:
    baseline = _metrics("blue", 40, 0, 20, 40, seed=1)
    candidate = _metrics("green", 40, 2, 20, 40, seed=2)  # 5% errors
    lenient = AnalysisSettings(min_requests=30, max_error_rate=0.1, max_error_rate_delta=0.1)

    assert analyze(baseline, candidate, SETTINGS).outcome == "inconclusive"
    assert analyze(baseline, candidate, lenient).outcome == "pass"


def test_result_serialises_to_json() -> None:
    baseline = _metrics("blue", 200, 0, 20, 40, seed=1)
    candidate = _metrics("green", 200, 0, 40, 80, seed=2)

    document = json.loads(json.dumps(analyze(baseline, candidate, SETTINGS).to_dict()))

    assert document["outcome"] == "fail"
    assert document["baseline"]["label"] == "blue"
    assert document["candidate"]["p95_ms"] > document["baseline"]["p95_ms"]
