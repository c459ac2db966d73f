"""Resuming from the journal after the deploying process died mid-step."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fakes import SimulatedCrash, make_rig

from tools.deploy.target import VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")
TEN = {"v1.4.3": 10, "v1.0.0": 90}


def test_crash_after_weights_applied_resumes_without_repeating_any_mutation(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.target.crash_after("set_weights", TEN)
    with pytest.raises(SimulatedCrash):
        asyncio.run(rig.engine.deploy(FIX, "canary"))
    steps = rig.steps()
    assert steps[-1] == ("shift:v1.4.3:10", "started")  # no finished: the process died

    outcome = asyncio.run(rig.resume().resume_deployment())

    assert outcome is not None and outcome.status == "deployed"
    assert rig.target.count("stage") == 1
    assert [arg for op, arg in rig.target.ops if op == "set_weights"].count(TEN) == 1
    resumed = rig.steps()[len(steps) :]
    # The deployment is already recorded as started: resuming continues it, not anew.
    assert resumed[0] == ("shift:v1.4.3:10", "finished")
    assert ("deploy:v1.4.3", "started") not in resumed
    assert ("stage:v1.4.3", "started") not in resumed
    assert ("verify:v1.4.3", "started") not in resumed


def test_crash_before_weights_applied_re_applies_them_on_resume(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.target.crash_before("set_weights", TEN)
    with pytest.raises(SimulatedCrash):
        asyncio.run(rig.engine.deploy(FIX, "canary"))
    assert rig.target.weights == {"v1.0.0": 100}

    outcome = asyncio.run(rig.resume().resume_deployment())

    assert outcome is not None and outcome.status == "deployed"
    assert [arg for op, arg in rig.target.ops if op == "set_weights"].count(TEN) == 1
    assert rig.target.count("stage") == 1


def test_resumed_state_keeps_the_verification_record(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.target.crash_after("set_weights", {"v1.4.3": 100})
    with pytest.raises(SimulatedCrash):
        asyncio.run(rig.engine.deploy(FIX, "blue-green"))

    engine = rig.resume()

    assert engine.state.verified == {"v1.4.3"}
    assert engine.state.previous == "v1.0.0"
    assert engine.state.baseline == {"v1.0.0": 100}
    assert "shift:v1.4.3:100" in engine.state.in_flight


def test_interrupted_rollback_is_finished_on_resume(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.target.script("v1.4.3", error_rate=0.3, errors_from_weight=50)
    rig.target.crash_before("set_weights", {"v1.0.0": 100})
    with pytest.raises(SimulatedCrash):
        asyncio.run(rig.engine.deploy(FIX, "canary"))
    assert rig.target.weights == {"v1.4.3": 50, "v1.0.0": 50}

    outcome = asyncio.run(rig.resume().resume_deployment())

    assert outcome is not None and outcome.status == "rolled_back"
    assert rig.target.weights == {"v1.0.0": 100}
    assert outcome.rollback_verified is True
    assert rig.steps()[-1] == ("deploy:v1.4.3", "finished")


def test_resume_of_a_finished_run_reports_it_and_changes_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    asyncio.run(rig.engine.deploy(FIX, "blue-green"))
    ops = list(rig.target.ops)

    outcome = asyncio.run(rig.resume().resume_deployment())

    assert outcome is not None and outcome.status == "deployed"
    assert rig.target.ops == ops


def test_resume_of_a_run_that_deployed_nothing_returns_none(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    assert asyncio.run(rig.resume().resume_deployment()) is None
    assert rig.target.ops == []


def test_crash_after_retiring_the_old_version_is_reconciled_not_retired_twice(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.target.crash_after("retire", "v1.0.0")
    with pytest.raises(SimulatedCrash):
        asyncio.run(rig.engine.deploy(FIX, "blue-green"))

    outcome = asyncio.run(rig.resume().resume_deployment())

    assert outcome is not None and outcome.status == "deployed"
    assert rig.target.count("retire") == 1
    assert rig.target.count("set_weights") == 1
