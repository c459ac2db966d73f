"""The report's seven deliverables and checklists, each checklist item ticked only on evidence."""

from __future__ import annotations

import json
from pathlib import Path

from report_runs import DeployRun, deployed_run, tool

from agent.journal import ToolFinished, ToolRequested
from handoffs.dashboards import azure_dashboards, fill_template
from handoffs.report import write_outputs
from handoffs.report_model import SCHEMA_PATH, ReportDocument, report_schema

DELIVERABLE_HEADINGS = (
    "## 1. Deployment report",
    "## 2. Health check results",
    "## 3. Smoke test results",
    "## 4. Configuration applied (secrets redacted)",
    "## 5. Rollback plan",
    "## 6. Monitoring dashboards",
    "## 7. Incident log",
    "### Before deployment",
    "### During deployment",
    "### After deployment",
)


def _items(run: DeployRun) -> dict[str, dict[str, str]]:
    data = json.loads((run.run_dir / "report.json").read_text())
    lists = data["checklists"]
    return {item["id"]: item for part in ("before", "during", "after") for item in lists[part]}


def _terminal(run: DeployRun, command: str, exit_code: int = 0) -> None:
    call_id = f"term-{len(command)}-{exit_code}"
    run.write(
        ToolRequested(
            call_id=call_id,
            tool="runInTerminal",
            args={"command": command},
            fingerprint="f",
            effect="local",
        ),
        ToolFinished(
            call_id=call_id,
            tool="runInTerminal",
            status="ok",
            summary=f"exit code {exit_code}",
            data={"exit_code": exit_code},
        ),
    )


def test_report_files_hold_the_seven_deliverables_and_the_three_checklists(
    tmp_path: Path,
) -> None:
    run = deployed_run(tmp_path)

    paths = write_outputs(run.run_dir)

    markdown = paths.markdown.read_text()
    for heading in DELIVERABLE_HEADINGS:
        assert heading in markdown
    assert "| Health check results" not in markdown  # headings, not table rows
    assert "| Version deployed | v1.4.3 (ref hotfix/1.4.3) |" in markdown
    assert "[Local router stats](memory://production/_hotfix/stats)" in markdown
    html = paths.html.read_text()
    for title in ("1. Deployment report", "5. Rollback plan", "7. Incident log"):
        assert f"<h2>{title}</h2>" in html
    doc = ReportDocument.model_validate_json(paths.json.read_text())
    assert doc.deployment is not None and doc.deployment.promoted_at is not None
    assert doc.health_checks and all(c.kind == "health" for c in doc.health_checks)
    assert doc.smoke_tests and all(c.passed for c in doc.smoke_tests)
    assert any("retired" in change for change in doc.configuration.changes)
    assert paths.handoff is not None and paths.handoff.is_file()


def test_checklist_items_stay_open_when_the_run_skipped_their_step(tmp_path: Path) -> None:
    run = deployed_run(tmp_path, plan=False, tests=False)

    write_outputs(run.run_dir)

    items = _items(run)
    assert items["rollback-plan"]["status"] == "open"
    assert items["tests-passing"]["status"] == "open"
    assert items["security-scan"]["status"] == "open"
    assert items["stakeholders-before"]["status"] == "open"
    assert items["migrations-applied"]["status"] == "n/a"
    assert items["app-deployed"]["status"] == "done"
    assert "stage:v1.4.3" in items["app-deployed"]["evidence"]
    assert items["error-rates"]["status"] == "done"
    assert "error rate 0.0%" in items["error-rates"]["evidence"]
    markdown = (run.run_dir / "report.md").read_text()
    assert "- [ ] Rollback plan documented — no rollback plan was produced" in markdown
    assert "- [x] Application deployed — stage:v1.4.3 finished" in markdown


def test_a_failed_command_is_no_evidence_and_a_migration_adds_a_database_restore(
    tmp_path: Path,
) -> None:
    run = deployed_run(tmp_path)
    _terminal(run, "bandit -r src", exit_code=1)
    _terminal(run, "pg_dump shop > before.sql")
    _terminal(run, "alembic upgrade head")
    run.finish()

    write_outputs(run.run_dir)

    items = _items(run)
    assert items["security-scan"]["status"] == "open"
    assert "did not succeed" in items["security-scan"]["evidence"]
    assert items["backup-created"]["status"] == "done"
    assert items["migrations-applied"]["status"] == "done"
    assert items["migrations-prepared"]["status"] == "open"
    plan = json.loads((run.run_dir / "report.json").read_text())["rollback_plan"]
    assert plan["operations"][-1]["op"] == "database_restore"
    assert "alembic downgrade -1" in plan["database"]
    assert "pg_dump shop > before.sql" in plan["database"]


def test_tests_passing_is_ticked_from_the_problems_tool_result(tmp_path: Path) -> None:
    run = deployed_run(tmp_path, tests=False)
    tool(run, "problems", {}, data={"commands": [{"name": "pytest", "exit_code": 1}]})
    run.finish()

    write_outputs(run.run_dir)

    assert _items(run)["tests-passing"]["status"] == "open"


def test_report_json_schema_file_is_in_sync_with_the_model() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == report_schema()


def test_dashboard_links_are_derived_from_configuration_values() -> None:
    azure = azure_dashboards(
        {"subscription_id": "sub-1", "resource_group": "rg", "app_name": "shop",
         "app_insights": "shop-ai"}
    )  # fmt: skip
    urls = [d.url for d in azure]
    assert any(u.endswith("/resourceGroups/rg/providers/Microsoft.Web/sites/shop/appServices")
               for u in urls)  # fmt: skip
    assert any("/microsoft.insights/components/shop-ai/overview" in u for u in urls)
    assert azure_dashboards({"resource_group": "rg"}) == []
    values = {"service": "shop", "version": "v1.4.3", "from_ms": "1", "to_ms": "2"}
    template = "https://grafana.example/d/x?var-app={service}&var-v={version}&from={from_ms}"
    assert fill_template(template, values) == (
        "https://grafana.example/d/x?var-app=shop&var-v=v1.4.3&from=1"
    )
    assert fill_template("https://g/{unknown}", values) is None
