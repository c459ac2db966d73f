"""The basic report and handoff are derived from the journal, never from the model's words."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fakes import Rig, make_rig

from agent.journal import (
    ApprovalRecorded,
    Journal,
    ModelTurn,
    RunFinished,
    RunStarted,
    ToolFinished,
)
from agent.redaction import Redactor
from handoffs.report import collect_report, write_handoff, write_report
from tools.deploy.target import VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")
CONFIG = """
[deploy]
target = "local"
[deploy.local]
production_port = 18123
env = { SHOP_API_TOKEN = "tok-very-secret-123" }
"""


def _run(tmp_path: Path, model_text: str) -> tuple[Rig, Path]:
    """A run directory under a workspace with a config, started and narrated by a 'model'."""
    workspace = tmp_path / "shop"
    workspace.mkdir()
    (workspace / "hotfix.toml").write_text(CONFIG)
    run_dir = workspace / ".hotfix" / "runs" / "run-1"
    with Journal(run_dir / "journal.jsonl", Redactor(), "run-1") as journal:
        journal.write(
            RunStarted(
                run_id="run-1",
                description="checkout 500, fix on hotfix/1.4.3",
                agent="hotfix-deployment",
                model="scripted",
                workspace=str(workspace),
                config_source=str(workspace / "hotfix.toml"),
            )
        )
        journal.write(ModelTurn(turn=1, model="scripted", stop_reason="end_turn", text=model_text))
    return make_rig(workspace / ".hotfix"), run_dir


def _finish(run_dir: Path, status: str = "completed") -> None:
    with Journal(run_dir / "journal.jsonl", Redactor(), "run-1") as journal:
        journal.write(RunFinished(status=status, stop_reason="end_turn", turns=2, tool_calls=4))


def test_rolled_back_run_is_reported_as_rolled_back_whatever_the_model_claimed(
    tmp_path: Path,
) -> None:
    rig, run_dir = _run(tmp_path, "MODEL-CLAIM: v1.4.3 is DEPLOYED and perfectly healthy")
    rig.target.script("v1.4.3", error_rate=0.5)
    assert asyncio.run(rig.engine.deploy(FIX, "blue-green")).status == "rolled_back"
    _finish(run_dir)

    path = write_report(run_dir)

    text = path.read_text()
    assert "MODEL-CLAIM" not in text
    assert "**rolled_back**" in text
    assert "| Version deployed | v1.4.3 (ref hotfix/1.4.3) |" in text
    assert "| Previous version | v1.0.0 |" in text
    assert "`rollback:1` finished" in text
    assert "**analysis failed**" in text  # the incident log names the failed check
    assert "Already rolled back" in text
    data = json.loads((run_dir / "report.json").read_text())
    assert data["status"] == "rolled_back"
    assert data["deployment"]["time_to_rollback_s"] is not None
    assert [c["step_id"] for c in data["checks"]][-1] == "rollback-verify:1"
    assert any(not a["passed"] for a in data["analysis"])


def test_deployed_run_says_the_previous_version_must_be_redeployed_to_roll_back(
    tmp_path: Path,
) -> None:
    rig, run_dir = _run(tmp_path, "done")
    assert asyncio.run(rig.engine.deploy(FIX, "blue-green")).status == "deployed"
    _finish(run_dir)

    data = collect_report(run_dir)
    handoff = json.loads(write_handoff(run_dir, data).read_text())

    assert data["status"] == "deployed"
    assert "v1.0.0 was retired after the promotion" in data["rollback_plan"]
    assert data["incidents"] == []
    assert handoff["version"] == "v1.4.3" and handoff["previous_version"] == "v1.0.0"
    assert handoff["checks"]["failed"] == [] and handoff["checks"]["total"] >= 2
    assert handoff["rollback_procedure"] == data["rollback_plan"]
    assert handoff["monitoring"]["stats_url"] == "http://127.0.0.1:18123/_hotfix/stats"
    assert "suggested_prompt" in handoff


def test_run_without_a_deployment_reports_the_run_status_and_lists_denials(
    tmp_path: Path,
) -> None:
    _, run_dir = _run(tmp_path, "I deployed it")
    with Journal(run_dir / "journal.jsonl", Redactor(), "run-1") as journal:
        journal.write(
            ApprovalRecorded(
                call_id="c1",
                fingerprint="f",
                approved=False,
                approver="deny-all",
                reason="nobody may approve",
            )
        )
        journal.write(
            ToolFinished(
                call_id="c1",
                tool="hotfix_deploy",
                status="denied",
                summary="not run: denied by the gate",
            )
        )
    _finish(run_dir, status="stopped")

    text = write_report(run_dir).read_text()

    assert "**stopped**" in text
    assert "this run did not start a deployment" in text
    assert "**denied**: nobody may approve" in text
    assert "**hotfix_deploy denied**" in text
    assert "Nothing to roll back" in text


def test_configuration_in_the_report_has_its_secrets_masked(tmp_path: Path) -> None:
    _, run_dir = _run(tmp_path, "")
    _finish(run_dir)

    write_report(run_dir)

    for name in ("report.md", "report.json"):
        text = (run_dir / name).read_text()
        assert "SHOP_API_TOKEN" in text and "18123" in text
        assert "tok-very-secret-123" not in text
