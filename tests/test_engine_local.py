"""The engine on the real local target: processes, router, HTTP checks, synthetic load."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.demo_repo import BROKEN_BRANCH, FIX_BRANCH, PRODUCTION_TAG, build_demo_repo
from tools.deploy.engine import DeploymentEngine
from tools.deploy.settings import BlueGreenSettings, CanarySettings, StrategySettings
from tools.deploy.target import VersionSpec
from tools.deploy.targets.local import LocalTarget, LocalTargetConfig, shutdown_environment
from tools.deploy.verification.settings import (
    AnalysisSettings,
    HealthCheckSettings,
    SmokeTestSettings,
    VerificationSettings,
)
from tools.deploy.verifier import DefaultVerifier

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    demo = build_demo_repo(tmp_path / "shop")
    config = LocalTargetConfig(production_port=_free_port(), drain_timeout_s=1, stop_timeout_s=2)
    local = LocalTarget(config, workspace=demo.path)
    try:
        asyncio.run(local.stage(VersionSpec("v1.4.2", PRODUCTION_TAG)))
        asyncio.run(local.set_weights({"v1.4.2": 100}))
        yield local
    finally:
        shutdown_environment(local.state_dir)


def engine_for(target: LocalTarget, settings: StrategySettings) -> DeploymentEngine:
    verification = VerificationSettings(
        health=HealthCheckSettings(interval_s=0.05, consecutive_successes=2),
        smoke=[SmokeTestSettings(name="catalogue", path="/api/products", body_contains=["COF-1"])],
        analysis=AnalysisSettings(window_s=2.0, load_rps=60, load_paths=["/api/products"]),
    )
    verifier = DefaultVerifier(verification, workspace=target.workspace)
    return DeploymentEngine(target, None, verifier=verifier, settings=settings)


def test_blue_green_of_the_fix_is_promoted_on_the_local_target(target: LocalTarget) -> None:
    settings = StrategySettings(blue_green=BlueGreenSettings(bake_s=2.0))
    engine = engine_for(target, settings)

    outcome = asyncio.run(engine.deploy(VersionSpec("v1.4.3", FIX_BRANCH), "blue-green"))

    assert outcome.status == "deployed", outcome.incidents
    state = asyncio.run(target.state())
    assert state.weights == {"v1.4.3": 100}
    assert "v1.4.2" not in state.versions


def test_canary_of_a_regression_under_load_rolls_back_within_two_seconds(
    target: LocalTarget,
) -> None:
    settings = StrategySettings(canary=CanarySettings(steps=[50, 100]))
    engine = engine_for(target, settings)

    outcome = asyncio.run(engine.deploy(VersionSpec("v1.4.3-broken", BROKEN_BRANCH), "canary"))

    assert outcome.status == "rolled_back", outcome.incidents
    assert outcome.time_to_rollback_s is not None and outcome.time_to_rollback_s < 2.0
    assert outcome.rollback_verified is True
    assert asyncio.run(target.state()).weights == {"v1.4.2": 100}
