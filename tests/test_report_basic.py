"""The report is derived from the journal, never from the model's words."""

from __future__ import annotations

import json
from pathlib import Path

from report_runs import deployed_run, rolled_back_run, start_run

from agent.journal import ApprovalRecorded, ToolFinished
from handoffs.report import collect_report, write_handoff, write_report


def test_rolled_back_run_is_reported_as_rolled_back_whatever_the_model_claimed(
    tmp_path: Path,
) -> None:
    run = rolled_back_run(tmp_path, "MODEL-CLAIM: v1.4.3 is DEPLOYED and perfectly healthy")

    text = write_report(run.run_dir).read_text()

    assert "MODEL-CLAIM" not in text
    assert "**rolled_back**" in text
    assert "| Version deployed | v1.4.3 (ref hotfix/1.4.3) |" in text
    assert "| Previous version | v1.0.0 (ref v1.0.0) |" in text
    assert "`rollback:1` finished" in text
    assert "**analysis failed**" in text  # the incident log names the failed check
    assert "State: **done**. Already rolled back" in text
    data = json.loads((run.run_dir / "report.json").read_text())
    assert data["status"] == "rolled_back"
    assert data["deployment"]["time_to_rollback_s"] is not None
    assert [c["step_id"] for c in data["checks"]][-1] == "rollback-verify:1"
    assert any(not a["passed"] for a in data["analysis"])


def test_deployed_run_plans_its_rollback_as_a_redeploy_of_the_retired_previous_version(
    tmp_path: Path,
) -> None:
    run = deployed_run(tmp_path)

    data = collect_report(run.run_dir)
    handoff = json.loads(write_handoff(run.run_dir, data).read_text())

    plan = data["rollback_plan"]
    assert data["status"] == "deployed"
    assert plan["state"] == "redeploy"
    assert "v1.0.0 was retired after the promotion" in plan["summary"]
    assert [op["op"] for op in plan["operations"]] == [
        "stage_previous",
        "health_check_staged",
        "set_weights",
        "health_check_production",
        "retire",
    ]
    assert plan["operations"][0]["args"]["ref"] == "v1.0.0"
    assert plan["commands"][0].startswith("hotfix monitor run-1 ")
    assert data["incidents"] == []
    assert (handoff["version"], handoff["previous_version"]) == ("v1.4.3", "v1.0.0")
    assert handoff["rollback"] == plan
    assert handoff["endpoints"]["production_url"] == "memory://production"  # as verified


def test_run_without_a_deployment_reports_the_run_status_and_lists_denials(
    tmp_path: Path,
) -> None:
    run = start_run(tmp_path, "I deployed it", git=False)
    run.write(
        ApprovalRecorded(
            call_id="c1",
            fingerprint="f",
            approved=False,
            approver="deny-all",
            reason="nobody may approve",
        ),
        ToolFinished(
            call_id="c1", tool="hotfix_deploy", status="denied", summary="not run: denied"
        ),
    )
    run.finish(status="stopped")

    text = write_report(run.run_dir).read_text()

    assert "**stopped**" in text
    assert "this run did not start a deployment" in text
    assert "**denied**: nobody may approve" in text
    assert "**hotfix_deploy denied**" in text
    assert "Nothing to roll back" in text


def test_configuration_in_the_report_has_its_secrets_masked(tmp_path: Path) -> None:
    run = start_run(tmp_path, git=False)
    run.finish()

    write_report(run.run_dir)

    for name in ("report.md", "report.json", "report.html", "handoff.json"):
        text = (run.run_dir / name).read_text()
        assert "tok-very-secret-123" not in text, name
    for name in ("report.md", "report.json", "report.html"):
        text = (run.run_dir / name).read_text()
        assert "SHOP_API_TOKEN" in text and "eu-west" in text and "18123" in text
