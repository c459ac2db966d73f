"""Build the handoff packet of a run from its report (itself derived from the journal)."""

from __future__ import annotations

from pathlib import Path

from handoffs.contract import (
    Endpoints,
    HandoffPacket,
    MetricBaseline,
    MonitoringPlan,
    NextAgent,
    Thresholds,
    Timestamps,
)
from handoffs.facts import Record, RunFacts, iso
from handoffs.monitoring.settings import monitoring_settings
from handoffs.report_model import Incident, ReportDocument

DEFAULT_NEXT = NextAgent(
    label="Monitor Post-Fix",
    agent="post-fix-monitoring",
    prompt="Watch the fix that was just deployed, using the handoff packet of this run.",
)


def build_handoff(doc: ReportDocument, facts: RunFacts) -> HandoffPacket:
    """The packet for the post-fix-monitoring agent."""
    d = doc.deployment
    baseline, previous_baseline = _baselines(facts, d.version if d else None)
    plan = monitoring_plan(facts)
    health_path = "/healthz"
    if facts.config is not None:
        health_path = facts.config.deploy.verification.health.path
    url = doc.production_url
    packet = HandoffPacket(
        run_id=doc.run_id,
        service=Path(doc.workspace).name,
        workspace=doc.workspace,
        config_source=doc.configuration.source,
        target=doc.target,
        strategy=d.strategy if d else None,
        status=doc.status,
        version=d.version if d else None,
        version_ref=d.ref if d else None,
        previous_version=d.previous if d else None,
        previous_ref=d.previous_ref if d else None,
        flags_before=dict(facts.state.flags_before),
        timestamps=Timestamps(
            run_started=doc.started_at,
            run_finished=doc.finished_at,
            deployment_started=d.started_at if d else None,
            deployment_finished=d.finished_at if d else None,
            promoted=d.promoted_at if d else None,
            first_failure=d.first_failure_at if d else None,
            traffic_restored=d.traffic_restored_at if d else None,
        ),
        endpoints=Endpoints(
            production_url=url,
            health_url=f"{url.rstrip('/')}{health_path}" if url else None,
            stats_url=doc.stats_url,
        ),
        health=doc.health_checks[-6:],
        smoke=doc.smoke_tests[-12:],
        baseline=baseline,
        previous_baseline=previous_baseline,
        rollback=doc.rollback_plan,
        monitoring=plan,
        dashboards=doc.dashboards,
        open_incidents=_open_incidents(doc),
        next_agent=_next_agent(facts),
        suggested_prompt="",
    )
    packet.suggested_prompt = suggested_prompt(packet)
    return packet


def monitoring_plan(facts: RunFacts) -> MonitoringPlan:
    """Window, interval and thresholds: `[monitoring]`, defaulting to the rollout's analysis."""
    settings = monitoring_settings(facts.config)
    from tools.deploy.verification.settings import AnalysisSettings

    analysis = facts.config.deploy.verification.analysis if facts.config else AnalysisSettings()
    loopback = facts.config is not None and facts.config.deploy.target == "local"
    thresholds = Thresholds(
        max_error_rate=_pick(settings.max_error_rate, analysis.max_error_rate),
        max_error_rate_delta=_pick(settings.max_error_rate_delta, analysis.max_error_rate_delta),
        max_latency_ratio_p95=_pick(settings.max_latency_ratio_p95, analysis.max_latency_ratio_p95),
        latency_floor_ms=_pick(settings.latency_floor_ms, analysis.latency_floor_ms),
        min_requests=settings.min_requests,
        consecutive_breaches=settings.consecutive_breaches,
    )
    return MonitoringPlan(
        window_s=settings.window_s,
        interval_s=settings.interval_s,
        thresholds=thresholds,
        synthetic_load=settings.synthetic_load and loopback,
        load_paths=list(analysis.load_paths),
        load_rps=settings.load_rps or analysis.load_rps,
        rollback_on_regression=settings.rollback_on_regression,
    )


def suggested_prompt(packet: HandoffPacket) -> str:
    """The prompt offered with the handoff (pre-filled, never sent by itself)."""
    t = packet.monitoring.thresholds
    watched = packet.watched_version or "the service"
    where = f"{packet.target or 'its target'} ({packet.endpoints.production_url or 'no URL'})"
    minutes = packet.monitoring.window_s / 60
    if packet.status == "deployed":
        base = packet.baseline
        normal = (
            f"baseline error rate {100 * base.error_rate:.1f}%, p95 {base.p95_ms:.1f} ms"
            if base and base.p95_ms is not None
            else "no metric baseline was measured; rely on health checks"
        )
        head = f"Monitor {watched} on {where}, deployed by run {packet.run_id}"
    else:
        normal = "the fix is not in production"
        head = f"Monitor {watched} on {where} after run {packet.run_id} ended {packet.status}"
    return (
        f"{head}, for {minutes:g} min, sampling every {packet.monitoring.interval_s:g} s "
        f"({normal}). "
        f"A regression is an error rate above {100 * t.max_error_rate:g}% or "
        f"{100 * t.max_error_rate_delta:g} points over the baseline, p95 latency above "
        f"x{t.max_latency_ratio_p95:g} the baseline, or failing health checks, for "
        f"{t.consecutive_breaches} samples in a row. On a regression recommend the rollback "
        f"procedure of this packet ({packet.rollback.state}) and carry it out only with approval."
    )


def _baselines(
    facts: RunFacts, label: str | None
) -> tuple[MetricBaseline | None, MetricBaseline | None]:
    current: MetricBaseline | None = None
    previous: MetricBaseline | None = None
    for e in facts.verdicts("analysis"):
        d: Record = e.get("details") or {}
        analysis: Record = d.get("analysis") or {}
        for side in ("candidate", "baseline"):
            m: Record = analysis.get(side) or {}
            if not m.get("requests"):
                continue
            measured = MetricBaseline(
                label=str(m.get("label")),
                source=str(e.get("step_id")),
                measured_at=iso(e["ts"]),
                window_s=d.get("window_s"),
                requests=int(m["requests"]),
                errors=int(m.get("errors") or 0),
                error_rate=float(m.get("error_rate") or 0),
                p50_ms=m.get("p50_ms"),
                p95_ms=m.get("p95_ms"),
            )
            if side == "candidate" and d.get("passed") and measured.label == label:
                current = measured
            elif side == "baseline":
                previous = measured
    return current, previous


def _open_incidents(doc: ReportDocument) -> list[Incident]:
    d = doc.deployment
    if d is None:
        return [i for i in doc.incidents if i.kind != "denied"]
    if d.status == "deployed":
        after = d.promoted_at or ""
        return [i for i in doc.incidents if (i.time or "") >= after]
    if d.status == "rolled_back":
        still = Incident(
            time=d.traffic_restored_at,
            kind="fix not deployed",
            what=f"{d.version} was rolled back ({d.reason}); production runs {d.previous} "
            "without the fix",
        )
        late = [i for i in doc.incidents if (i.time or "") > (d.traffic_restored_at or "")]
        return [still, *late]
    return list(doc.incidents)


def _next_agent(facts: RunFacts) -> NextAgent:
    from agent.definitions import DefinitionError, find_definition

    try:
        agent = str(facts.started.get("agent") or "hotfix-deployment")
        definition = find_definition(agent, [facts.workspace / ".github" / "agents"])
    except DefinitionError:
        return DEFAULT_NEXT
    offered = next((h for h in definition.handoffs if h.agent == "post-fix-monitoring"), None)
    if offered is None:
        return DEFAULT_NEXT
    # `send` is copied, not forced: the front ends still only offer it (send: false).
    return NextAgent(
        label=offered.label, agent=offered.agent, prompt=offered.prompt, send=offered.send
    )


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value
