"""Blue-green through the engine, on the in-memory target."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakes import make_rig

from tools.deploy.settings import BlueGreenSettings, StrategySettings
from tools.deploy.target import VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")


def test_blue_green_success_journals_each_step_before_and_after_in_order(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    outcome = asyncio.run(rig.engine.deploy(FIX, "blue-green"))

    assert outcome.status == "deployed"
    assert outcome.previous_version == "v1.0.0"
    assert rig.target.weights == {"v1.4.3": 100}
    assert rig.target.running == {"v1.4.3"}
    assert rig.target.ops == [
        ("stage", "v1.4.3"),
        ("set_weights", {"v1.4.3": 100}),
        ("retire", "v1.0.0"),
    ]
    expected_ids = [
        "stage:v1.4.3",
        "verify:v1.4.3",
        "baseline:v1.4.3",
        "shift:v1.4.3:100",
        "verify-prod:v1.4.3",
        "bake:v1.4.3",
        "promote:v1.4.3",
        "retire:v1.0.0",
    ]
    expected = [("deploy:v1.4.3", "started")]
    for step_id in expected_ids:
        expected += [(step_id, "started"), (step_id, "finished")]
    expected.append(("deploy:v1.4.3", "finished"))
    assert rig.steps() == expected
    assert [check["kind"] for check in outcome.checks] == ["health", "smoke", "health", "smoke"]
    assert outcome.analysis[0]["outcome"] == "pass"


def test_failing_smoke_on_staged_version_never_shifts_traffic_and_is_failed(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.target.script("v1.4.3", smoke_passes=False)

    outcome = asyncio.run(rig.engine.deploy(FIX, "blue-green"))

    # It never had traffic: nothing to roll back, so "failed", and the staged copy is gone.
    assert outcome.status == "failed"
    assert rig.target.count("set_weights") == 0
    assert rig.target.weights == {"v1.0.0": 100}
    assert ("retire", "v1.4.3") in rig.target.ops
    assert outcome.traffic_restored_ts is None
    assert outcome.time_to_rollback_s is None
    assert "smoke checkout" in outcome.incidents[0]
    assert ("rollback:1", "started") not in rig.steps()


def test_failing_production_check_after_switch_rolls_back_to_old_version(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.target.script("v1.4.3", smoke_via_production=False)

    outcome = asyncio.run(rig.engine.deploy(FIX, "blue-green"))

    assert outcome.status == "rolled_back"
    assert rig.target.weights == {"v1.0.0": 100}
    assert rig.target.running == {"v1.0.0"}
    assert outcome.rollback_verified is True
    assert outcome.time_to_rollback_s == 0.0  # the fake clock did not move in between


def test_bake_analysis_failure_rolls_back(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.target.script("v1.4.3", error_rate=0.2)

    outcome = asyncio.run(rig.engine.deploy(FIX, "blue-green"))

    assert outcome.status == "rolled_back"
    assert outcome.analysis[-1]["outcome"] == "fail"
    assert rig.target.weights == {"v1.0.0": 100}
    assert rig.target.count("stage") == 1  # switch-back to the old version, still running
    assert ("bake:v1.4.3", "failed") in rig.steps()


def test_bake_without_analysis_waits_then_checks_production_health(tmp_path: Path) -> None:
    settings = StrategySettings(blue_green=BlueGreenSettings(bake_s=30, analysis=False))
    rig = make_rig(tmp_path, settings=settings)
    start = rig.clock()

    outcome = asyncio.run(rig.engine.deploy(FIX, "blue-green"))

    assert outcome.status == "deployed"
    assert rig.clock() - start >= 30
    assert ("baseline:v1.4.3", "started") not in rig.steps()
