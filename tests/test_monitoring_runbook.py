"""Post-fix monitoring from a handoff packet, driven by the LLM-free runbook, on a memory target."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from report_runs import DeployRun, deployed_run

from agent.approvers import Approver, DenyAllApprover, PolicyFileApprover
from agent.journal import read_journal
from agent.models.base import ModelRequest
from agent.session import SessionOptions, run_session
from handoffs.contract import load_handoff, packet_message
from handoffs.monitoring.run import (
    MonitorOptions,
    MonitorResult,
    missing_monitor_tools,
    run_monitor,
)
from handoffs.monitoring.runbook import MonitorRunbook
from handoffs.monitoring.session import MonitorWiring, wired
from handoffs.report import write_outputs


def _deployed(tmp_path: Path) -> DeployRun:
    run = deployed_run(tmp_path)
    write_outputs(run.run_dir)
    return run


def _monitor(
    run: DeployRun, approver: Approver, *, duration_s: float = 4.0, rollback: str | None = None
) -> MonitorResult:
    rig = run.rig
    options = MonitorOptions(
        run="run-1", workspace=run.workspace, approver=approver, duration_s=duration_s,
        interval_s=1.0, model="runbook", rollback_reason=rollback,
        target=rig.target, verifier=rig.verifier, clock=rig.clock,
    )  # fmt: skip
    return asyncio.run(run_monitor(options))


def _policy(tmp_path: Path) -> PolicyFileApprover:
    path = tmp_path / "approvals.toml"
    path.write_text('approve = ["monitor_rollback"]\n')
    return PolicyFileApprover(path)


def _changes(run: DeployRun) -> list[tuple[str, object]]:
    return [op for op in run.rig.target.ops if op[0] in ("stage", "set_weights", "retire")]


def test_a_healthy_window_is_reported_healthy_and_changes_nothing(tmp_path: Path) -> None:
    run = _deployed(tmp_path)
    before = _changes(run)

    result = _monitor(run, DenyAllApprover())

    assert result.report.status == "healthy" and result.exit_code == 0
    assert len(result.report.samples) == 4
    assert all(s.verdict == "ok" and s.requests == 100 for s in result.report.samples)
    assert _changes(run) == before and run.rig.target.weights == {"v1.4.3": 100}
    assert result.report.rollback.requested_at is None
    assert result.paths["html"].read_text().count("<svg") == 1
    follow = json.loads(result.paths["handoff"].read_text())
    assert follow["next_agent"]["agent"] == "hotfix-deployment"
    assert follow["next_agent"]["send"] is False


def test_a_regression_is_rolled_back_when_the_policy_approves(tmp_path: Path) -> None:
    run = _deployed(tmp_path)
    run.rig.target.script("v1.4.3", error_rate=0.5)  # the fix regresses after promotion

    result = _monitor(run, _policy(tmp_path))

    report = result.report
    assert report.status == "rolled_back" and result.exit_code == 0
    assert len(report.samples) == 2  # two breaching samples in a row confirm it
    assert report.regression and "error rate 50.0%" in report.regression[0]
    assert report.rollback.approved is True and report.rollback.approver == "policy-file"
    assert report.rollback.executed and report.rollback.verified is True
    assert run.rig.target.weights == {"v1.0.0": 100}
    assert "v1.4.3" not in run.rig.target.running
    assert ("stage", "v1.0.0") in run.rig.target.ops
    steps = [(r["step_id"], r["phase"]) for r in read_journal(result.run.journal_path)
             if r.get("type") == "step" and r["kind"] != "monitor-sample"]  # fmt: skip
    assert steps[-2:] == [("retire:v1.4.3", "started"), ("retire:v1.4.3", "finished")]
    assert ("rollback:1", "finished") in steps
    markdown = result.paths["markdown"].read_text()
    assert "approved by policy-file" in markdown and "**rolled_back**" in markdown


def test_a_denied_rollback_is_recommended_not_executed(tmp_path: Path) -> None:
    run = _deployed(tmp_path)
    run.rig.target.script("v1.4.3", error_rate=0.5)
    before = _changes(run)

    result = _monitor(run, DenyAllApprover())

    report = result.report
    assert report.status == "rollback_recommended" and result.exit_code == 3
    assert report.rollback.requested_at is not None and report.rollback.approved is False
    assert report.rollback.executed is False
    assert _changes(run) == before and run.rig.target.weights == {"v1.4.3": 100}
    assert any("Roll back v1.4.3 now" in r for r in report.recommendations)
    assert "rollback_recommended" in result.run.final_text
    assert "rollback NOT approved" in result.paths["html"].read_text()


def test_a_requested_rollback_runs_at_once_without_watching(tmp_path: Path) -> None:
    run = _deployed(tmp_path)

    result = _monitor(run, _policy(tmp_path), rollback="on-call asked for it")

    assert result.report.status == "rolled_back" and result.report.samples == []
    assert run.rig.target.weights == {"v1.0.0": 100}
    assert result.report.rollback.reason == "on-call asked for it"


def test_the_runbook_without_a_packet_stops_and_says_why() -> None:
    runbook = MonitorRunbook()
    request = ModelRequest(
        system="", tools=[], messages=[{"role": "user", "content": "watch production"}]
    )

    response = asyncio.run(runbook.complete(request))

    assert response.tool_uses == [] and "no handoff packet" in response.text


def test_a_packet_that_says_recommend_only_never_asks_for_the_rollback(tmp_path: Path) -> None:
    run = _deployed(tmp_path)
    path = run.run_dir / "handoff.json"
    packet = json.loads(path.read_text())
    packet["monitoring"]["rollback_on_regression"] = False
    path.write_text(json.dumps(packet))
    run.rig.target.script("v1.4.3", error_rate=0.5)

    result = _monitor(run, _policy(tmp_path))

    assert result.report.status == "rollback_recommended"
    assert result.report.rollback.requested_at is None
    assert run.rig.target.weights == {"v1.4.3": 100}
    assert "rollback on regression is off" in result.run.final_text


def test_tools_take_the_packet_from_the_request_when_nothing_else_provides_it(
    tmp_path: Path,
) -> None:
    run = _deployed(tmp_path)
    packet = load_handoff(run.run_dir / "handoff.json")
    packet = packet.model_copy(
        update={"monitoring": packet.monitoring.model_copy(update={"window_s": 2.0,
                                                                   "interval_s": 1.0})}
    )  # fmt: skip
    rig = run.rig
    options = SessionOptions(
        description=packet_message(packet), workspace=run.workspace, approver=DenyAllApprover(),
        agent="post-fix-monitoring", model_client=MonitorRunbook(),
        extra_tools=missing_monitor_tools(),
    )  # fmt: skip

    with wired(MonitorWiring(target=rig.target, verifier=rig.verifier, clock=rig.clock)):
        result = asyncio.run(run_session(options))

    assert result.status == "completed" and "Status: healthy" in result.final_text
    samples = [r for r in read_journal(result.journal_path) if r.get("kind") == "monitor-sample"]
    assert len(samples) == 2 and samples[0]["details"]["label"] == "v1.4.3"


def test_a_vscode_flavoured_workspace_definition_does_not_take_the_monitor_tools_away(
    tmp_path: Path,
) -> None:
    run = _deployed(tmp_path)
    agents = run.workspace / ".github" / "agents"
    agents.mkdir(parents=True)
    (agents / "post-fix-monitoring.agent.md").write_text(
        "---\nname: Post-Fix Monitoring\ntools: ['read/readFile', 'hotfix/*']\n---\nWatch.\n"
    )

    result = _monitor(run, DenyAllApprover(), duration_s=2.0)

    assert result.report.status == "healthy" and len(result.report.samples) == 2
