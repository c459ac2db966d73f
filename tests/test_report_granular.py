"""The report and handoff of a rollout driven step by step with the deployment tools.

Claude in a chat, or an MCP client, stages, verifies, shifts, promotes and rolls back with
one tool call each instead of one `hotfix_deploy`: there is no `deploy` step in the journal,
and the report must still find the deployment (and `hotfix monitor` something to watch).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeClock, MemoryTarget, MemoryVerifier

from agent.approvers import PolicyFileApprover
from agent.journal import read_journal
from agent.models.scripted import ScriptedModel
from agent.session import SessionOptions, run_session
from handoffs.contract import HandoffPacket
from handoffs.report import write_outputs

FIX, PREVIOUS = "v1.4.3", "v1.4.2"
STAGE = ("hotfix_stage", {"version_ref": "hotfix/1.4.3"})
VERIFY = ("hotfix_verify", {"label": FIX})
CANARY_10 = ("hotfix_shift_traffic", {"label": FIX, "percent": 10})
PROMOTE = ("hotfix_promote", {"label": FIX})
ROLLBACK = ("hotfix_rollback", {"reason": "support reports double charges at 10 %"})


def granular_run(tmp_path: Path, *calls: tuple[str, dict[str, Any]]) -> Path:
    """A scripted model making `calls` one per turn (after `hotfix_status`); the run dir."""
    ws = tmp_path / "shop"
    ws.mkdir()
    (ws / "hotfix.toml").write_text('[deploy]\nstrategy = "canary"\n')
    tools = sorted({name for name, _ in calls})
    (ws / "approvals.toml").write_text(f"approve = {json.dumps(tools)}\n")
    turns: list[Any] = [
        [{"type": "tool_use", "name": name, "input": args}]
        for name, args in [("hotfix_status", {}), *calls]
    ]
    turns.append([{"type": "text", "text": "Done."}])
    clock = FakeClock()
    target = MemoryTarget(PREVIOUS, clock=clock)
    options = SessionOptions(
        description="checkout 500 on an empty cart; the fix is on hotfix/1.4.3",
        workspace=ws,
        approver=PolicyFileApprover(ws / "approvals.toml"),
        model_client=ScriptedModel.from_data({"turns": turns}),
        deploy_target=target,
        verifier=MemoryVerifier(target, clock=clock),
        deploy_clock=clock,
        deploy_sleep=clock.sleep,
    )
    result = asyncio.run(run_session(options))
    assert result.status == "completed", result.detail
    tools_ok = [
        r["status"] for r in read_journal(result.journal_path) if r["type"] == "tool_finished"
    ]
    assert tools_ok == ["ok"] * (len(calls) + 1)
    assert "deploy" not in {r.get("kind") for r in read_journal(result.journal_path)}
    write_outputs(result.run_dir)
    return result.run_dir


def report(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "report.json").read_text())


def handoff(run_dir: Path) -> HandoffPacket:
    return HandoffPacket.model_validate_json((run_dir / "handoff.json").read_text())


@pytest.fixture
def promoted(tmp_path: Path) -> Path:
    return granular_run(tmp_path, STAGE, VERIFY, CANARY_10, PROMOTE)


def test_a_canary_promoted_with_the_tools_is_the_runs_deployment(promoted: Path) -> None:
    doc = report(promoted)
    deployment = doc["deployment"]

    assert doc["status"] == "deployed"
    assert (deployment["version"], deployment["ref"]) == (FIX, "hotfix/1.4.3")
    assert (deployment["status"], deployment["previous"]) == ("deployed", PREVIOUS)
    assert (deployment["strategy"], deployment["driven_by"]) == ("canary", "tools")
    started = next(s["time"] for s in doc["steps"] if s["step_id"] == f"stage:{FIX}")
    assert deployment["started_at"] == started
    assert deployment["promoted_at"] is not None
    assert deployment["finished_at"] >= deployment["promoted_at"]
    markdown = (promoted / "report.md").read_text()
    assert f"| Version deployed | {FIX} (ref hotfix/1.4.3) |" in markdown
    assert "canary (driven step by step with the deployment tools)" in markdown
    assert "did not start a deployment" not in markdown
    assert doc["rollback_plan"]["state"] != "not_needed"


def test_the_handoff_of_a_tool_driven_rollout_gives_monitoring_the_fix_to_watch(
    promoted: Path,
) -> None:
    packet = handoff(promoted)

    assert (packet.status, packet.version, packet.previous_version) == ("deployed", FIX, PREVIOUS)
    assert packet.watched_version == FIX
    assert (packet.strategy, packet.version_ref) == ("canary", "hotfix/1.4.3")
    assert packet.timestamps.promoted is not None
    assert packet.baseline is not None and packet.baseline.label == FIX  # from the 10 % window
    assert f"Monitor {FIX}" in packet.suggested_prompt


def test_a_rollout_rolled_back_with_the_tool_hands_over_the_previous_version(
    tmp_path: Path,
) -> None:
    run_dir = granular_run(tmp_path, STAGE, VERIFY, CANARY_10, ROLLBACK)
    deployment = report(run_dir)["deployment"]
    packet = handoff(run_dir)

    assert (deployment["version"], deployment["status"]) == (FIX, "rolled_back")
    assert deployment["reason"] == ROLLBACK[1]["reason"]
    assert deployment["traffic_restored_at"] is not None
    assert deployment["rollback_verified"] is True
    assert (packet.status, packet.watched_version) == ("rolled_back", PREVIOUS)
    assert packet.rollback.state == "done"
    assert packet.open_incidents[0].kind == "fix not deployed"


def test_a_version_left_staged_when_the_run_ends_is_reported_unpromoted(tmp_path: Path) -> None:
    run_dir = granular_run(tmp_path, STAGE, VERIFY)
    doc = report(run_dir)
    deployment = doc["deployment"]

    assert (doc["run_status"], doc["status"]) == ("completed", "in_progress")
    assert (deployment["version"], deployment["strategy"]) == (FIX, "manual")
    assert deployment["reason"] == (
        f"the run ended before {FIX} was promoted; production traffic: {PREVIOUS} 100%"
    )
    assert deployment["finished_at"] is None
    packet = handoff(run_dir)
    assert (packet.version, packet.watched_version) == (FIX, PREVIOUS)
