"""The `hotfix_*` tools: declared effects, planning without side effects, end-to-end deploy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeClock, MemoryTarget, MemoryVerifier

from agent.config import HotfixConfig
from agent.journal import Journal, read_journal
from agent.redaction import Redactor
from tools.base import Effect, Tool, ToolContext, ToolError, ToolResult
from tools.deploy.tools import (
    DEPLOY_TOOLS,
    HotfixDeploy,
    HotfixPlan,
    HotfixStage,
    HotfixStatus,
    deploy_tools,
    label_from_ref,
    open_deploy_session,
)


def context(tmp_path: Path, config: HotfixConfig | None = None) -> tuple[ToolContext, MemoryTarget]:
    clock = FakeClock()
    target = MemoryTarget(clock=clock)
    journal = Journal(tmp_path / "run" / "journal.jsonl", Redactor(), "run")
    ctx = ToolContext(tmp_path, config or HotfixConfig(), Redactor(), journal, "run")
    verifier = MemoryVerifier(target, clock=clock)
    open_deploy_session(ctx, target, verifier=verifier, clock=clock, sleep=clock.sleep)
    return ctx, target


def call(ctx: ToolContext, tool: Tool, **args: Any) -> ToolResult:
    return asyncio.run(tool.run(tool.args_model.model_validate(args), ctx))


def test_tools_declare_effects_and_the_hotfix_source() -> None:
    effects = {tool.name: tool.effect for tool in deploy_tools()}

    assert effects == {
        "hotfix_status": Effect.READ,
        "hotfix_plan": Effect.READ,
        "hotfix_stage": Effect.REMOTE,
        "hotfix_verify": Effect.REMOTE,
        "hotfix_shift_traffic": Effect.PRODUCTION,
        "hotfix_promote": Effect.PRODUCTION,
        "hotfix_rollback": Effect.PRODUCTION,
        "hotfix_deploy": Effect.PRODUCTION,
    }
    assert all(tool.source == "hotfix" for tool in DEPLOY_TOOLS)
    mutating = [t for t in DEPLOY_TOOLS if t.effect is not Effect.READ]
    assert all(not tool.concurrent_safe for tool in mutating)


def test_plan_lists_steps_and_rollback_without_touching_the_target(tmp_path: Path) -> None:
    ctx, target = context(tmp_path)

    result = call(ctx, HotfixPlan(), version_ref="hotfix/1.4.3", strategy="canary")

    assert target.ops == []
    assert result.data is not None
    assert result.data["version"] == "v1.4.3" and result.data["previous"] == "v1.0.0"
    assert any("route 10% of production traffic" in step for step in result.data["steps"])
    assert any("back to v1.0.0" in step for step in result.data["rollback"])
    assert "rollback procedure" in result.text
    assert ctx.journal is not None
    assert not [r for r in read_journal(ctx.journal.path) if r.get("type") == "step"]


def test_deploy_tool_runs_the_configured_strategy_end_to_end(tmp_path: Path) -> None:
    config = HotfixConfig.model_validate({"deploy": {"strategy": "canary"}})
    ctx, target = context(tmp_path, config)

    result = call(ctx, HotfixDeploy(), version_ref="hotfix/1.4.3")

    assert result.data is not None
    assert result.data["status"] == "deployed" and result.data["strategy"] == "canary"
    assert "DEPLOYED" in result.text
    assert target.weights == {"v1.4.3": 100}


def test_status_reports_weights_and_a_pending_rollback(tmp_path: Path) -> None:
    config = HotfixConfig.model_validate({"deploy": {"strategy": "canary"}})
    ctx, target = context(tmp_path, config)
    ctx.extras["deploy"].settings.auto_rollback = False
    target.script("v1.4.3", error_rate=0.5)
    call(ctx, HotfixDeploy(), version_ref="hotfix/1.4.3")

    status = call(ctx, HotfixStatus())

    assert "NEEDS ROLLBACK" in status.text
    assert status.data is not None and status.data["weights"] == {"v1.4.3": 10, "v1.0.0": 90}


def test_labels_come_from_refs() -> None:
    assert label_from_ref("hotfix/1.4.3") == "v1.4.3"
    assert label_from_ref("v2.0.1") == "v2.0.1"
    assert label_from_ref("3f2c1ab") == "3f2c1ab"
    assert label_from_ref("fix/cart empty") == "cart-empty"


def test_a_target_failure_reaches_the_model_as_a_tool_error(tmp_path: Path) -> None:
    ctx, target = context(tmp_path)
    target.fail_on("stage")

    with pytest.raises(ToolError, match="deployment target failed: scripted failure of stage"):
        call(ctx, HotfixStage(), version_ref="hotfix/1.4.3")
