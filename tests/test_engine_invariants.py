"""Invariants the engine enforces whatever the caller asks — called through the tools, as the
model would, with no gate in between."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeClock, MemoryTarget, MemoryVerifier

from agent.config import HotfixConfig
from agent.journal import Journal
from agent.redaction import Redactor
from tools.base import Tool, ToolContext, ToolError, ToolResult
from tools.deploy.engine import EngineRefusal
from tools.deploy.tools import (
    HotfixDeploy,
    HotfixPromote,
    HotfixRollback,
    HotfixShiftTraffic,
    HotfixStage,
    HotfixStatus,
    HotfixVerify,
    open_deploy_session,
)


class Harness:
    """A ToolContext with a deploy session over a MemoryTarget."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = FakeClock()
        self.target = MemoryTarget(clock=self.clock)
        journal = Journal(tmp_path / "run" / "journal.jsonl", Redactor(), "run")
        self.ctx = ToolContext(tmp_path, HotfixConfig(), Redactor(), journal, "run")
        open_deploy_session(
            self.ctx,
            self.target,
            verifier=MemoryVerifier(self.target, clock=self.clock),
            clock=self.clock,
            sleep=self.clock.sleep,
        )

    def call(self, tool: Tool, **args: Any) -> ToolResult:
        return asyncio.run(tool.run(tool.args_model.model_validate(args), self.ctx))


def test_promote_of_an_unverified_version_is_refused_even_called_directly(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path)
    h.call(HotfixStage(), version_ref="hotfix/1.4.3")

    with pytest.raises(EngineRefusal, match=r"no passing verification of exactly v1\.4\.3"):
        h.call(HotfixPromote(), label="v1.4.3")

    assert h.target.weights == {"v1.0.0": 100}
    assert h.target.count("set_weights") == 0


def test_verification_of_one_label_does_not_allow_another(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.call(HotfixStage(), version_ref="hotfix/1.4.3")
    h.call(HotfixStage(), version_ref="hotfix/1.4.4")
    h.call(HotfixVerify(), label="v1.4.3")

    with pytest.raises(EngineRefusal, match=r"exactly v1\.4\.4"):
        h.call(HotfixShiftTraffic(), label="v1.4.4", percent=100)


def test_promote_after_a_failed_verification_is_refused(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.target.script("v1.4.3", health="failing")
    h.call(HotfixStage(), version_ref="hotfix/1.4.3")

    result = h.call(HotfixVerify(), label="v1.4.3")

    assert "FAILED" in result.text
    with pytest.raises(EngineRefusal, match="failed in this run"):
        h.call(HotfixPromote(), label="v1.4.3")
    assert h.target.count("set_weights") == 0


def test_flapping_health_fails_verification(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.target.script("v1.4.3", health="flapping")
    h.call(HotfixStage(), version_ref="hotfix/1.4.3")
    h.target.healthy("v1.4.3")  # the next probe lands on the "down" half of the flap

    result = h.call(HotfixVerify(), label="v1.4.3")

    assert result.data is not None and result.data["passed"] is False


def test_canary_cannot_skip_ahead_of_its_current_step_without_analysis(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.call(HotfixStage(), version_ref="hotfix/1.4.3")
    h.call(HotfixVerify(), label="v1.4.3")
    engine = h.ctx.extras["deploy"].engine
    asyncio.run(engine.shift("v1.4.3", 10))  # weights only, no observation

    with pytest.raises(EngineRefusal, match="no passing analysis at that step"):
        h.call(HotfixShiftTraffic(), label="v1.4.3", percent=50)
    with pytest.raises(EngineRefusal, match="moving traffic back is a rollback"):
        asyncio.run(engine.shift("v1.4.3", 5))
    assert h.target.weights == {"v1.4.3": 10, "v1.0.0": 90}


def test_shift_tool_observes_each_step_and_the_manual_canary_reaches_promotion(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path)
    h.call(HotfixStage(), version_ref="hotfix/1.4.3")
    h.call(HotfixVerify(), label="v1.4.3")

    first = h.call(HotfixShiftTraffic(), label="v1.4.3", percent=10)
    second = h.call(HotfixShiftTraffic(), label="v1.4.3", percent=50)
    promoted = h.call(HotfixPromote(), label="v1.4.3")

    assert "check passed" in first.text and "check passed" in second.text
    assert "promoted" in promoted.text
    assert h.target.weights == {"v1.4.3": 100}
    assert h.target.running == {"v1.4.3"}


def test_after_a_rollback_only_status_is_allowed(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.call(HotfixStage(), version_ref="hotfix/1.4.3")
    h.call(HotfixVerify(), label="v1.4.3")
    h.call(HotfixShiftTraffic(), label="v1.4.3", percent=10)
    h.call(HotfixRollback(), reason="on-call asked")

    for tool, args in (
        (HotfixStage(), {"version_ref": "hotfix/1.4.4"}),
        (HotfixVerify(), {"label": "v1.4.3"}),
        (HotfixShiftTraffic(), {"label": "v1.4.3", "percent": 50}),
        (HotfixPromote(), {"label": "v1.4.3"}),
        (HotfixDeploy(), {"version_ref": "hotfix/1.4.4"}),
    ):
        with pytest.raises(EngineRefusal, match="a rollback started"):
            h.call(tool, **args)

    status = h.call(HotfixStatus())
    assert status.data is not None and status.data["rollback"] == "finished"
    assert h.target.weights == {"v1.0.0": 100}


def test_rollback_with_nothing_changed_is_refused(tmp_path: Path) -> None:
    h = Harness(tmp_path)

    with pytest.raises(EngineRefusal, match="nothing to roll back"):
        h.call(HotfixRollback(), reason="just in case")


def test_a_version_with_traffic_cannot_be_retired(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    engine = h.ctx.extras["deploy"].engine

    with pytest.raises(EngineRefusal, match="still receives traffic"):
        asyncio.run(engine.retire("v1.0.0"))


def test_target_error_while_shifting_rolls_back_and_reports_it(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.call(HotfixStage(), version_ref="hotfix/1.4.3")
    h.call(HotfixVerify(), label="v1.4.3")
    h.target.fail_on("set_weights", {"v1.4.3": 10, "v1.0.0": 90})

    with pytest.raises(ToolError, match="production was rolled back"):
        h.call(HotfixShiftTraffic(), label="v1.4.3", percent=10)

    assert h.target.weights == {"v1.0.0": 100}
