"""Canary through the engine: step analysis, load-dependent regressions, rollback timing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fakes import MemoryTarget, MemoryVerifier, make_rig

from tools.deploy.engine import DeploymentEngine, EngineRefusal
from tools.deploy.settings import StrategySettings
from tools.deploy.target import VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")


def test_canary_walks_10_50_100_with_a_passing_analysis_at_each_partial_step(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)

    outcome = asyncio.run(rig.engine.deploy(FIX, "canary"))

    assert outcome.status == "deployed"
    weights = [arg for op, arg in rig.target.ops if op == "set_weights"]
    assert weights == [
        {"v1.4.3": 10, "v1.0.0": 90},
        {"v1.4.3": 50, "v1.0.0": 50},
        {"v1.4.3": 100},
    ]
    assert [a["step"] for a in outcome.analysis] == [10, 50]
    assert all(a["outcome"] == "pass" for a in outcome.analysis)
    # 10 % of 100 req/s needs a longer window than 3 s to give the candidate 50 requests.
    assert outcome.analysis[0]["candidate"]["requests"] >= 50


def test_errors_appearing_only_at_50_percent_roll_back_at_the_50_step(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.target.script("v1.4.3", error_rate=0.3, errors_from_weight=50)

    outcome = asyncio.run(rig.engine.deploy(FIX, "canary"))

    assert outcome.status == "rolled_back"
    assert [(a["step"], a["outcome"]) for a in outcome.analysis] == [(10, "pass"), (50, "fail")]
    assert rig.target.weights == {"v1.0.0": 100}
    assert rig.target.ops[-2:] == [("set_weights", {"v1.0.0": 100}), ("retire", "v1.4.3")]
    assert outcome.rollback_verified is True
    assert rig.verifier.health_urls[-1] == "memory://production"
    steps = rig.steps()
    assert steps.index(("analysis:v1.4.3:50", "failed")) < steps.index(("rollback:1", "started"))
    assert ("shift:v1.4.3:100", "started") not in steps


def test_traffic_restored_timestamp_is_taken_before_the_rollback_is_verified(
    tmp_path: Path,
) -> None:
    # Each health check "takes" 5 s of fake time: only steps after the restore may see it.
    rig = make_rig(tmp_path, health_duration_s=5.0)
    rig.target.script("v1.4.3", error_rate=0.3, errors_from_weight=50)

    outcome = asyncio.run(rig.engine.deploy(FIX, "canary"))

    assert outcome.first_failure_ts is not None and outcome.traffic_restored_ts is not None
    assert outcome.traffic_restored_ts == outcome.first_failure_ts
    assert outcome.time_to_rollback_s == 0.0
    assert rig.clock() >= outcome.traffic_restored_ts + 5.0  # the verification came after


def test_rollback_time_on_a_real_clock_is_well_under_two_seconds(tmp_path: Path) -> None:
    target = MemoryTarget()
    target.script("v1.4.3", error_rate=0.3, errors_from_weight=50)
    engine = DeploymentEngine(target, None, verifier=MemoryVerifier(target))

    outcome = asyncio.run(engine.deploy(FIX, "canary"))

    assert outcome.status == "rolled_back"
    assert outcome.time_to_rollback_s is not None
    assert 0.0 <= outcome.time_to_rollback_s < 2.0


def test_without_auto_rollback_a_failure_stops_with_needs_rollback_and_waits(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, settings=StrategySettings(auto_rollback=False))
    rig.target.script("v1.4.3", error_rate=0.3, errors_from_weight=50)

    outcome = asyncio.run(rig.engine.deploy(FIX, "canary"))

    assert outcome.status == "needs_rollback"
    assert rig.target.weights == {"v1.4.3": 50, "v1.0.0": 50}  # untouched until asked
    with pytest.raises(EngineRefusal, match="needs a rollback first"):
        asyncio.run(rig.engine.shift("v1.4.3", 100))
    with pytest.raises(EngineRefusal, match="needs a rollback first"):
        asyncio.run(rig.engine.stage(VersionSpec("v1.4.4", "hotfix/1.4.4")))

    summary = asyncio.run(rig.engine.rollback("approved by on-call"))

    assert summary["rolled_back"] is True
    assert summary["verified"] is True
    assert rig.target.weights == {"v1.0.0": 100}
    assert rig.engine.outcome("v1.4.3", "canary").status == "rolled_back"


def test_marginal_analysis_counts_as_passing_only_when_allowed(tmp_path: Path) -> None:
    for allow, expected in ((False, "rolled_back"), (True, "deployed")):
        rig = make_rig(tmp_path / str(allow), settings=StrategySettings(allow_marginal=allow))
        rig.verifier.forced_analysis = {"outcome": "marginal", "score": 80.0, "reasons": []}

        outcome = asyncio.run(rig.engine.deploy(FIX, "canary"))

        assert outcome.status == expected
