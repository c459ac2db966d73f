"""`hotfix run --target appservice` as a real subprocess against the ARM + Kudu fake.

The fake runs in this process on a loopback port; the workspace's hotfix.toml points
`[deploy.appservice]` at it with the loopback-only test credential. Each run goes through
the console script exactly as a pipeline would: runbook model, policy-file approvals, `--json`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure_fake import FakeAzure
from azure_fake.cli_run import (
    CLIENT_SECRET,
    TOKEN,
    CliRun,
    hotfix_run,
    journaled_requests,
    shop,
    wire,
)

DEPLOYED_OPS = [
    "arm PUT slots/staging",
    "arm PUT slots/staging/config/appsettings",
    "kudu POST staging/api/zipdeploy",
    "arm POST slots/staging/slotsswap",
    "arm POST slots/staging/stop",
]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRun]:
    with FakeAzure(shop(), token=TOKEN) as fake:
        yield hotfix_run(tmp_path_factory.mktemp("deployed"), fake)


@pytest.fixture(scope="module")
def swapped_back(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRun]:
    # Healthy in the slot (DB_MODE=staging there), broken once production's sticky
    # DB_MODE=prod applies after the swap: only the production verification can catch it.
    with FakeAzure(shop(), token=TOKEN) as fake:
        root = tmp_path_factory.mktemp("swapped_back")
        yield hotfix_run(root, fake, behaviour={"fail_when": {"DB_MODE": "prod"}})


@pytest.mark.slow
def test_cli_run_deploys_to_the_slot_verifies_and_swaps_it_into_production(
    deployed: CliRun,
) -> None:
    assert deployed.proc.returncode == 0, deployed.proc.stderr
    doc = deployed.document
    assert (doc["status"], doc["deployment"]["status"]) == ("completed", "deployed")
    assert (doc["deployment"]["version"], doc["deployment"]["previous_version"]) == (
        "v2.0.1",
        "v1",
    )
    assert deployed.fake.app.serve("production", "/")[1]["version"] == "v2.0.1"
    assert deployed.fake.mutations() == DEPLOYED_OPS
    checks = {(c["kind"], c["passed"]) for c in doc["deployment"]["checks"]}
    assert checks == {("health", True), ("smoke", True)}
    for name in ("report", "report_html", "handoff"):
        assert Path(doc[name]).is_file()
    assert Path(doc["report"]).parent == deployed.run_dir


@pytest.mark.slow
def test_cli_run_takes_its_approvals_from_the_policy_file(deployed: CliRun) -> None:
    approvals = [r for r in deployed.records() if r["type"] == "approval"]
    asked = {r["call_id"]: r for r in deployed.records() if r["type"] == "tool_requested"}

    assert [asked[a["call_id"]]["tool"] for a in approvals] == ["hotfix_predeploy", "hotfix_deploy"]
    assert all(a["approved"] and a["approver"] == "policy-file" for a in approvals)
    assert all("approvals.toml" in a["reason"] for a in approvals)


@pytest.mark.slow
def test_report_lists_exactly_the_operations_the_fake_received_in_order(deployed: CliRun) -> None:
    operations = deployed.report()["cloud_operations"]

    assert [wire(op) for op in operations] == journaled_requests(deployed.fake)
    assert [wire(op) for op in operations if op["mutating"]] == deployed.fake.mutations()
    assert {op["outcome"] for op in operations} == {"ok"}
    markdown = (deployed.run_dir / "report.md").read_text()
    section = markdown.split("### Cloud operations", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    assert [row.split("`")[1] for row in rows] == [op["operation"] for op in operations]
    assert "set HOTFIX_VERSION=v2.0.1" in section
    html = (deployed.run_dir / "report.html").read_text()
    assert "<h3>Cloud operations</h3>" in html
    positions = [html.index(f"<code>{op['operation']}</code>") for op in operations]
    assert positions == sorted(positions)


def assert_no_secret_in_the_run(run: CliRun) -> None:
    """Neither the bearer token nor the client secret is in any file of the run or its output."""
    files = [p for p in run.run_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert names >= {"journal.jsonl", "report.md", "report.json", "report.html", "handoff.json"}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert TOKEN not in text, path
        assert CLIENT_SECRET not in text, path
    assert TOKEN not in run.proc.stdout + run.proc.stderr
    assert CLIENT_SECRET not in run.proc.stdout + run.proc.stderr


@pytest.mark.slow
def test_no_token_or_client_secret_reaches_any_file_of_the_run(deployed: CliRun) -> None:
    assert_no_secret_in_the_run(deployed)
    # It was there to leak: production's settings carry it, and the slot diff names it.
    differences = next(
        op
        for op in deployed.report()["cloud_operations"]
        if op["operation"] == "web_apps.list_slot_differences_slot"
    )
    masked = {d["setting"]: d["production_value"] for d in differences["details"]["differences"]}
    assert masked["PAYMENTS_CLIENT_SECRET"] == "[REDACTED]"


@pytest.mark.slow
def test_cli_run_of_a_version_failing_in_production_swaps_back(swapped_back: CliRun) -> None:
    assert swapped_back.proc.returncode == 4, swapped_back.proc.stderr  # completed; not deployed
    deployment = swapped_back.document["deployment"]
    assert deployment["status"] == "rolled_back"
    assert deployment["rollback_verified"] is True
    assert swapped_back.fake.app.serve("production", "/")[1]["version"] == "v1"
    swaps = [m for m in swapped_back.fake.mutations() if m.endswith("slotsswap")]
    assert len(swaps) == 2
    report = swapped_back.report()
    assert report["status"] == "rolled_back"
    assert [wire(op) for op in report["cloud_operations"]] == journaled_requests(swapped_back.fake)
    failed = [c for c in report["health_checks"] if not c["passed"]]
    assert failed and {c["where"] for c in failed} == {"production"}


def where_it_stopped(run: CliRun) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The failed step events and the failed cloud operations of the run, in order."""
    records = run.records()
    steps = [r for r in records if r["type"] == "step" and r["phase"] == "failed"]
    operations = [r for r in records if r["type"] == "azure_operation" and r["status"] == "error"]
    return steps, operations


def assert_one_clear_line(run: CliRun, needle: str) -> str:
    line = run.line(needle)
    assert "Traceback" not in run.proc.stderr
    assert_no_secret_in_the_run(run)  # error paths are where tokens leak
    assert TOKEN not in line and len(line) < 500
    return line


@pytest.mark.slow
def test_cli_run_whose_swap_arm_rejects_with_409_stops_there_and_keeps_production(
    tmp_path: Path,
) -> None:
    app = shop()
    app.faults.swap_conflicts = 1
    with FakeAzure(app, token=TOKEN) as fake:
        run = hotfix_run(tmp_path, fake)

    assert run.proc.returncode == 4, run.proc.stderr
    line = assert_one_clear_line(run, "409")
    assert "web_apps.begin_swap_slot on shop/slots/staging was rejected by ARM" in line
    assert "swap operation in progress" in line
    steps, operations = where_it_stopped(run)
    assert [s["step_id"] for s in steps] == ["shift:v2.0.1:100", "deploy:v2.0.1"]
    assert [o["operation"] for o in operations] == ["web_apps.begin_swap_slot"]
    assert fake.app.serve("production", "/")[1]["version"] == "v1"
    report = run.report()
    assert (report["deployment"]["status"], report["deployment"]["version"]) == (
        "rolled_back",
        "v2.0.1",
    )
    outcomes = [(op["operation"], op["outcome"]) for op in report["cloud_operations"]]
    assert ("web_apps.begin_swap_slot", "error") in outcomes
    assert [wire(op) for op in report["cloud_operations"]] == journaled_requests(fake)


@pytest.mark.slow
def test_cli_run_with_a_credential_arm_rejects_changes_nothing_and_says_log_in(
    tmp_path: Path,
) -> None:
    with FakeAzure(shop(), token="a-token-only-the-real-tenant-would-issue") as fake:
        run = hotfix_run(tmp_path, fake)

    assert run.proc.returncode == 4, run.proc.stderr  # completed; the fix is not in production
    line = assert_one_clear_line(run, "401")
    assert line.startswith("Not deployed:")
    assert "the Azure credential was not accepted — log in again" in line
    steps, operations = where_it_stopped(run)
    assert steps == []
    assert {(o["operation"], o["resource"]) for o in operations} == {("web_apps.get", "shop")}
    failed_tools = [
        r["tool"] for r in run.records() if r["type"] == "tool_finished" and r["status"] == "error"
    ]
    # The runbook stops at the status read it could not make: no pre-deployment, no plan.
    assert failed_tools == ["hotfix_status"]
    assert not [r for r in run.records() if r.get("tool") in ("hotfix_predeploy", "hotfix_plan")]
    assert fake.mutations() == []
    report = run.report()
    assert report["deployment"] is None
    assert {op["outcome"] for op in report["cloud_operations"]} == {"error"}


@pytest.mark.slow
def test_cli_run_to_a_missing_slot_it_may_not_create_stops_at_stage(tmp_path: Path) -> None:
    with FakeAzure(shop(), token=TOKEN) as fake:
        run = hotfix_run(tmp_path, fake, settings={"create_slot": False})

    assert run.proc.returncode == 4, run.proc.stderr
    line = assert_one_clear_line(run, "create_slot")
    assert "shop has no deployment slot 'staging' and create_slot is off" in line
    steps, operations = where_it_stopped(run)
    assert [s["step_id"] for s in steps] == ["stage:v2.0.1", "deploy:v2.0.1"]
    assert operations == []
    assert fake.mutations() == []
    deployment = run.report()["deployment"]
    assert deployment["status"] == "failed"
    assert "create_slot is off" in deployment["reason"]
