"""Rolling: emulated in batches on multi-instance targets, refused where it cannot apply."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fakes import Behaviour, MemoryTarget, make_rig

from tools.deploy.engine import EngineRefusal
from tools.deploy.plan import build_plan
from tools.deploy.settings import RollingSettings, StrategySettings
from tools.deploy.strategies.rolling import batch_percents
from tools.deploy.target import TargetState, VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")


def test_single_instance_target_refuses_rolling_and_says_what_fits(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    with pytest.raises(EngineRefusal, match=r"rolling is not supported.*blue-green"):
        asyncio.run(rig.engine.deploy(FIX, "rolling"))

    assert rig.target.ops == []
    plan = asyncio.run(build_plan(rig.engine, FIX, "rolling"))
    assert plan.supported is False and plan.steps == []


def test_multi_instance_target_rolls_batch_by_batch(tmp_path: Path) -> None:
    settings = StrategySettings(rolling=RollingSettings(batch_size=2))
    rig = make_rig(tmp_path, target=MemoryTarget(instances=4), settings=settings)

    outcome = asyncio.run(rig.engine.deploy(FIX, "rolling"))

    assert outcome.status == "deployed"
    weights = [arg["v1.4.3"] for op, arg in rig.target.ops if op == "set_weights"]
    assert weights == [50, 100]


def test_batch_percents_cover_every_instance_once() -> None:
    assert batch_percents(4, 1) == [25, 50, 75, 100]
    assert batch_percents(3, 2) == [67, 100]
    assert batch_percents(1, 5) == [100]


class NativeRollingTarget(MemoryTarget):
    """A MemoryTarget that rolls out in place, like a Kubernetes Deployment."""

    async def rolling_update(self, version: VersionSpec, *, batch_size: int) -> TargetState:
        self.previous_label = next(iter(self.weights))
        self.behaviours.setdefault(version.label, Behaviour())
        self.running, self.weights = {version.label}, {version.label: 100}
        self.ops.append(("rolling_update", (version.label, batch_size)))
        return await self.state()

    async def undo_rolling_update(self) -> TargetState:
        self.running, self.weights = {self.previous_label}, {self.previous_label: 100}
        self.ops.append(("undo_rolling_update", None))
        return await self.state()


def test_native_rolling_update_is_used_when_the_target_has_one(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, target=NativeRollingTarget())

    outcome = asyncio.run(rig.engine.deploy(FIX, "rolling"))

    assert outcome.status == "deployed"
    assert rig.target.ops == [("rolling_update", ("v1.4.3", 1))]


def test_failed_native_rolling_update_is_undone(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, target=NativeRollingTarget())
    rig.target.script("v1.4.3", health="failing")

    outcome = asyncio.run(rig.engine.deploy(FIX, "rolling"))

    assert outcome.status == "rolled_back"
    assert rig.target.ops[-1] == ("undo_rolling_update", None)
    assert rig.target.weights == {"v1.0.0": 100}
    assert outcome.rollback_verified is True
