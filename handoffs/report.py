"""The deployment report and handoff packet of a run, written into its run directory.

`write_outputs(run_dir)` writes `report.json` (schema: `report.schema.json`), `report.md`,
the self-contained `report.html` with the rollout timeline chart, and `handoff.json`
(schema: `handoff.schema.json`). Everything is derived from the run's journal alone; the
model's final text is never read (DESIGN.md §2). For a post-fix-monitoring run the same
entry points write the monitoring report instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.journal import runs_root
from handoffs.contract import HandoffPacket
from handoffs.facts import RunFacts
from handoffs.packet import build_handoff
from handoffs.render import render_html, render_markdown
from handoffs.report_data import collect, deployment_summary, production_url_of, target_of
from handoffs.report_model import ReportDocument
from handoffs.rollback_plan import build_rollback_plan
from handoffs.svg_chart import render_svg
from handoffs.timeline import deployment_chart
from tools.deploy.steps import EngineState

MONITORING_AGENT = "post-fix-monitoring"


@dataclass(frozen=True)
class ReportPaths:
    """Where the run's report files are, and how the run's deployment ended."""

    markdown: Path
    json: Path
    html: Path
    handoff: Path | None
    deployment_status: str | None = None  # None: the run made no deployment


def write_outputs(run_dir: Path) -> ReportPaths:
    """Write every report file of the run (and, for a deployment run, its handoff)."""
    if _agent_of(run_dir) == MONITORING_AGENT:
        from handoffs.monitoring.report import write_monitoring_report

        return write_monitoring_report(run_dir)
    facts = RunFacts.load(run_dir)
    doc = collect(run_dir, facts)
    paths = write_documents(run_dir, doc, facts)
    handoff = run_dir / "handoff.json"
    _write_text(handoff, build_handoff(doc, facts).model_dump_json(indent=2) + "\n")
    status = doc.deployment.status if doc.deployment else None
    return ReportPaths(paths.markdown, paths.json, paths.html, handoff, status)


def write_documents(run_dir: Path, doc: ReportDocument, facts: RunFacts) -> ReportPaths:
    """`report.json`, `report.md` and `report.html` for an already collected report."""
    data = doc.model_dump(mode="json")
    json_path = run_dir / "report.json"
    _write_text(json_path, json.dumps(data, indent=2) + "\n")
    md_path = run_dir / "report.md"
    _write_text(md_path, render_markdown("report.md.j2", **data))
    chart = deployment_chart(facts, doc.deployment)
    html_path = run_dir / "report.html"
    svg = render_svg(chart) if chart is not None else None
    _write_text(html_path, render_html("report.html.j2", chart_svg=svg, **data))
    return ReportPaths(md_path, json_path, html_path, None)


def collect_report(run_dir: Path) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data (the content of `report.json`)."""
    return collect(run_dir).model_dump(mode="json")


def write_report(run_dir: Path) -> Path:
    """Write all report files of the run; the path of `report.md`."""
    return write_outputs(run_dir).markdown


def write_handoff(run_dir: Path, data: dict[str, Any] | None = None) -> Path:
    """Write `handoff.json` (a validated `HandoffPacket`); its path.

    Args:
        run_dir: The deployment run's directory.
        data: The run's report as `collect_report` returned it, to avoid collecting twice.
    """
    facts = RunFacts.load(run_dir)
    doc = ReportDocument.model_validate(data) if data is not None else collect(run_dir, facts)
    path = run_dir / "handoff.json"
    _write_text(path, build_handoff(doc, facts).model_dump_json(indent=2) + "\n")
    return path


def build_packet(run_dir: Path) -> HandoffPacket:
    """The handoff packet of a deployment run, without writing anything."""
    facts = RunFacts.load(run_dir)
    return build_handoff(collect(run_dir, facts), facts)


def rollback_plan(
    run_id: str, workspace: Path, state: EngineState, deployment: dict[str, Any] | None
) -> str:
    """The exact way back for this run, in words (the summary of its rollback plan)."""
    del state, deployment  # rebuilt from the journal, the only source of truth
    facts = RunFacts.load(runs_root(workspace) / run_id)
    summary = deployment_summary(facts)
    plan = build_rollback_plan(facts, summary, production_url_of(facts), target_of(facts))
    return plan.summary


def _agent_of(run_dir: Path) -> str:
    from agent.journal import JOURNAL_NAME, iter_journal

    for record in iter_journal(run_dir / JOURNAL_NAME):
        if record.get("type") == "run_started":
            return str(record.get("agent") or "")
    return ""


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
