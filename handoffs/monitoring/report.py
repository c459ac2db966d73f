"""The monitoring report of a post-fix-monitoring run, derived from its journal alone.

Status, samples, the regression, the rollback request (and who approved or denied it) and
the rollback steps all come from journaled events; the driver's final text is not read.
Writes `report.json`, `report.md`, `report.html` (metric-trend chart) and `handoff.json`
(the "plan the next bug fix" handoff, offered with send: false).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from handoffs.contract import HandoffPacket, NextAgent, packet_from_text
from handoffs.facts import Record, RunFacts, iso
from handoffs.monitoring.chart import monitoring_chart
from handoffs.monitoring.probes import SAMPLE_KIND
from handoffs.monitoring.report_model import (
    FollowUpHandoff,
    MonitoringReport,
    MonitoringStatus,
    RollbackRecord,
    SampleRecord,
)
from handoffs.render import render_html, render_markdown
from handoffs.report_data import incidents
from handoffs.report_model import Incident
from handoffs.svg_chart import render_svg

if TYPE_CHECKING:
    from handoffs.report import ReportPaths

NEXT_FIX = NextAgent(
    label="Plan the Next Bug Fix",
    agent="hotfix-deployment",
    prompt="Plan the next bug fix from the monitoring report above.",
)


def collect_monitoring(run_dir: Path, facts: RunFacts | None = None) -> MonitoringReport:
    """The monitoring report of the run in `run_dir`."""
    facts = facts or RunFacts.load(run_dir)
    packet = packet_from_text(str(facts.started.get("description") or ""))
    samples = [_sample(e) for e in facts.steps(SAMPLE_KIND) if e.get("phase") != "started"]
    regression_at, reasons = _regression(samples, packet)
    rollback = _rollback(facts, regression_at)
    status = _status(facts, packet, samples, reasons, rollback)
    report = MonitoringReport(
        run_id=facts.run_id,
        monitored_run=packet.run_id if packet else None,
        service=packet.service if packet else None,
        target=packet.target if packet else None,
        version=packet.watched_version if packet else None,
        previous_version=packet.previous_version if packet else None,
        status=status,
        summary=str((facts.finished or {}).get("summary") or "")[:2000],
        started_at=iso(facts.started.get("ts")),
        finished_at=iso(facts.finished.get("ts")) if facts.finished else None,
        window_s=packet.monitoring.window_s if packet else None,
        interval_s=packet.monitoring.interval_s if packet else None,
        baseline=packet.baseline if packet and packet.status == "deployed" else None,
        thresholds=packet.monitoring.thresholds if packet else None,
        samples=samples,
        regression_detected_at=regression_at,
        regression=reasons,
        rollback=rollback,
        issues=_issues(facts, samples),
        recommendations=[],
        dashboards=packet.dashboards if packet else [],
        next_agent=_next_agent(facts),
        suggested_prompt="",
    )
    report.recommendations = _recommendations(report, packet)
    report.suggested_prompt = _next_prompt(report, packet)
    return report


def write_monitoring_report(run_dir: Path) -> ReportPaths:
    """Write the monitoring run's report files and its follow-up handoff."""
    from handoffs.report import ReportPaths

    facts = RunFacts.load(run_dir)
    report = collect_monitoring(run_dir, facts)
    data = report.model_dump(mode="json")
    paths = ReportPaths(
        run_dir / "report.md",
        run_dir / "report.json",
        run_dir / "report.html",
        run_dir / "handoff.json",
    )
    paths.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    paths.markdown.write_text(render_markdown("monitoring.md.j2", **data), encoding="utf-8")
    chart = monitoring_chart(facts, report)
    svg = render_svg(chart) if chart is not None else None
    paths.html.write_text(
        render_html("monitoring.html.j2", chart_svg=svg, **data), encoding="utf-8"
    )
    follow = FollowUpHandoff(
        run_id=report.run_id,
        monitored_run=report.monitored_run,
        service=report.service,
        version=report.version,
        status=report.status,
        regression=report.regression,
        recommendations=report.recommendations,
        next_agent=report.next_agent,
        suggested_prompt=report.suggested_prompt,
    )
    assert paths.handoff is not None
    paths.handoff.write_text(follow.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return paths


def _sample(event: Record) -> SampleRecord:
    d: Record = event.get("details") or {}
    return SampleRecord(
        n=int(d.get("n") or 0),
        time=iso(d.get("end") or event.get("ts")),
        label=d.get("label"),
        window_s=float(d.get("window_s") or 0),
        requests=int(d.get("requests") or 0),
        errors=int(d.get("errors") or 0),
        error_rate=float(d.get("error_rate") or 0),
        p50_ms=d.get("p50_ms"),
        p95_ms=d.get("p95_ms"),
        health_passed=bool((d.get("health") or {}).get("passed")),
        verdict=d.get("verdict") or "no_data",
        breaches=list(d.get("breaches") or []),
        notes=list(d.get("notes") or []),
        weights=dict(d.get("weights") or {}),
    )


def _regression(
    samples: list[SampleRecord], packet: HandoffPacket | None
) -> tuple[str | None, list[str]]:
    needed = packet.monitoring.thresholds.consecutive_breaches if packet else 1
    streak = 0
    for sample in samples:
        streak = (
            streak + 1 if sample.verdict == "breach" else (0 if sample.verdict == "ok" else streak)
        )
        if streak >= needed:
            return sample.time, sample.breaches
    return None, []


def _rollback(facts: RunFacts, regression_at: str | None) -> RollbackRecord:
    uses = facts.uses("monitor_rollback")
    if not uses:
        return RollbackRecord()
    use = uses[-1]
    approval = next(
        (
            e
            for e in facts.events
            if e.get("type") == "approval" and e.get("call_id") == use.call_id
        ),
        None,
    )
    gate = next(
        (
            e
            for e in facts.events
            if e.get("type") == "gate_decision" and e.get("call_id") == use.call_id
        ),
        None,
    )
    st = facts.state
    done: Record = st.completed.get("rollback:1", {})
    restored = st.traffic_restored_ts
    detected = next(
        (
            float(e["ts"])
            for e in facts.steps(SAMPLE_KIND)
            if iso((e.get("details") or {}).get("end")) == regression_at
        ),
        None,
    )
    return RollbackRecord(
        requested_at=iso(use.ts),
        reason=str(use.args.get("reason") or ""),
        approved=None if approval is None else bool(approval.get("approved")),
        approver=None if approval is None else str(approval.get("approver")),
        decision=str(approval.get("reason"))
        if approval
        else (str(gate.get("reason")) if gate else None),
        executed=st.rollback_phase == "finished",
        traffic_restored_at=iso(restored),
        time_to_rollback_s=None if restored is None or detected is None else restored - detected,
        weights=done.get("weights"),
        verified=st.rollback_verified,
    )


def _status(
    facts: RunFacts,
    packet: HandoffPacket | None,
    samples: list[SampleRecord],
    regression: list[str],
    rollback: RollbackRecord,
) -> MonitoringStatus:
    use = next(iter(reversed(facts.uses("monitor_rollback"))), None)
    if packet is None:
        return "failed"
    if rollback.executed:
        return "rolled_back"
    if use is not None and use.status not in ("denied", None):
        return "rollback_failed"
    if regression or use is not None:
        return "rollback_recommended"
    if any(s.verdict == "ok" for s in samples):
        return "healthy" if (facts.finished or {}).get("status") == "completed" else "failed"
    return "inconclusive" if samples else "failed"


def _issues(facts: RunFacts, samples: list[SampleRecord]) -> list[Incident]:
    found = [
        Incident(time=s.time, kind="breach", what="; ".join(s.breaches))
        for s in samples
        if s.verdict == "breach"
    ]
    found += [i for i in incidents(facts) if i.kind != f"{SAMPLE_KIND} failed"]
    return sorted(found, key=lambda i: i.time or "")


def _recommendations(report: MonitoringReport, packet: HandoffPacket | None) -> list[str]:
    if packet is None:
        return ["Start monitoring from a handoff packet: `hotfix monitor RUN`."]
    version, previous = report.version, packet.previous_version
    why = "; ".join(report.regression)
    recs = {
        "healthy": [
            f"Keep {version}: no regression in {len(report.samples)} sample(s).",
            "Close the incident the fix addressed once real traffic confirms it.",
        ],
        "inconclusive": [
            "Too little traffic to judge: watch again with real traffic, or "
            "enable synthetic load for a loopback target."
        ],
        "rolled_back": [
            f"{version} regressed after promotion ({why}); production runs {previous} again.",
            f"Reproduce the regression of {version} under load before the next "
            "attempt; the original bug is back in production.",
        ],
        "rollback_recommended": [
            f"Roll back {version} now ({why}): "
            + "; ".join(packet.rollback.commands or [packet.rollback.summary])
        ],
        "rollback_failed": [
            "The rollback did not complete: restore production by hand now ("
            + packet.rollback.summary
            + ")."
        ],
        "failed": ["Monitoring did not complete: check the incident log and run it again."],
    }[report.status]
    if report.rollback.executed and report.rollback.verified is False:
        recs.insert(0, "Production is NOT healthy after the rollback: investigate now.")
    return recs


def _next_prompt(report: MonitoringReport, packet: HandoffPacket | None) -> str:
    if packet is None:
        return NEXT_FIX.prompt
    what = {
        "rolled_back": f"{report.version} was rolled back after a regression "
        f"({'; '.join(report.regression)})",
        "rollback_recommended": f"{report.version} regressed ({'; '.join(report.regression)})"
        " and should be rolled back",
    }.get(report.status, f"{report.version} was {report.status} during monitoring")
    return (
        f"Plan the next bug fix for {packet.service}: {what}. The fix came from "
        f"{packet.version_ref or packet.version} (run {packet.run_id}); see monitoring run "
        f"{report.run_id}."
    )


def _next_agent(facts: RunFacts) -> NextAgent:
    from agent.definitions import DefinitionError, find_definition

    try:
        definition = find_definition(
            "post-fix-monitoring", [facts.workspace / ".github" / "agents"]
        )
    except DefinitionError:
        return NEXT_FIX
    offered = definition.handoffs[0] if definition.handoffs else None
    if offered is None:
        return NEXT_FIX
    return NextAgent(
        label=offered.label, agent=offered.agent, prompt=offered.prompt, send=offered.send
    )
