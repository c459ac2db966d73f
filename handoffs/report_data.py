"""Collect the deployment report from a run's journal: `collect(run_dir) -> ReportDocument`.

Statuses, versions, checks, configuration changes and incidents come from the step, tool,
gate and notice events the harness wrote; cloud operations from the target's own events.
The model's final text may be wrong; the journal is the truth (DESIGN.md §2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handoffs.checklists import build_checklists
from handoffs.cloud_operations import cloud_operations
from handoffs.dashboards import build_dashboards
from handoffs.deployment import deployment_summary
from handoffs.facts import Record, RunFacts, iso
from handoffs.report_model import (
    AnalysisRecord,
    CheckRecord,
    ConfigurationApplied,
    Incident,
    ReportDocument,
    StepRecord,
    VerdictRecord,
)
from handoffs.rollback_plan import build_rollback_plan

_VERDICT_KINDS = ("verify", "rollback-verify")


def collect(run_dir: Path, facts: RunFacts | None = None) -> ReportDocument:
    """The whole report of the run in `run_dir`, from its journal alone."""
    facts = facts or RunFacts.load(run_dir)
    deployment = deployment_summary(facts)
    finished = facts.finished
    run_status = str(finished.get("status")) if finished else "unfinished"
    production_url = production_url_of(facts)
    target = target_of(facts)
    verdicts = [_verdict(e) for e in facts.verdicts(*_VERDICT_KINDS)]
    checks = [check for verdict in verdicts for check in verdict.checks]
    stats_url = f"{production_url}/_hotfix/stats" if production_url and target == "local" else None
    analysis = [_analysis(e) for e in facts.verdicts("analysis")]
    doc = ReportDocument(
        run_id=facts.run_id,
        description=str(facts.started.get("description", "")),
        agent=str(facts.started.get("agent", "")),
        model=str(facts.started.get("model", "")),
        front_end=str(facts.started.get("front_end", "")),
        workspace=str(facts.workspace),
        status=deployment.status if deployment else run_status,
        run_status=run_status,
        started_at=iso(facts.started.get("ts")),
        finished_at=iso(finished.get("ts")) if finished else None,
        target=target,
        production_url=production_url,
        stats_url=stats_url,
        deployment=deployment,
        steps=[_step(e) for e in facts.steps()],
        cloud_operations=cloud_operations(facts),
        health_checks=[c for c in checks if c.kind == "health"],
        smoke_tests=[c for c in checks if c.kind == "smoke"],
        checks=verdicts,
        analysis=analysis,
        configuration=configuration_applied(facts),
        rollback_plan=build_rollback_plan(facts, deployment, production_url, target),
        dashboards=build_dashboards(facts, deployment, production_url, target),
        incidents=incidents(facts),
        checklists=build_checklists(facts, deployment),
    )
    return doc


def production_url_of(facts: RunFacts) -> str | None:
    """Production's URL as a tool or a production check recorded it, else from the config."""
    for use in facts.tool_uses:
        if isinstance(use.data.get("production_url"), str):
            return str(use.data["production_url"])
    for event in facts.verdicts("verify", "rollback-verify"):
        details: Record = event.get("details") or {}
        if details.get("where") == "production" or event.get("kind") == "rollback-verify":
            url = details.get("url")
            if isinstance(url, str):
                return url
    if facts.config is not None and facts.config.deploy.target == "local":
        return f"http://127.0.0.1:{facts.config.deploy.local.production_port}"
    return None


def target_of(facts: RunFacts) -> str | None:
    """The deployment target's name."""
    for use in facts.tool_uses:
        if isinstance(use.data.get("target"), str):
            return str(use.data["target"])
    return facts.config.deploy.target if facts.config is not None else None


def configuration_applied(facts: RunFacts) -> ConfigurationApplied:
    """The `[deploy]` settings (secrets masked) and the changes the run made to production."""
    if facts.config is None:
        return ConfigurationApplied(error=facts.config_error, changes=_changes(facts))
    from agent.session import build_redactor

    config = facts.config
    secret_names = set(config.secrets.env_names)
    settings = _mask_named(config.deploy.model_dump(mode="json"), secret_names)
    return ConfigurationApplied(
        source=config.source,
        settings=build_redactor(config).value(settings),
        changes=_changes(facts),
    )


def incidents(facts: RunFacts) -> list[Incident]:
    """Failures, retries, rollbacks, denials and errors, in journal order."""
    found: list[Incident] = []
    seen_started: set[str] = set()
    for e in facts.events:
        kind, when = e.get("type"), iso(e.get("ts"))
        details: Record = e.get("details") or {}
        if kind == "step":
            step_id, phase = str(e.get("step_id")), e.get("phase")
            if phase == "started" and step_id in seen_started:
                found.append(Incident(time=when, kind="retry", what=f"{step_id} started again"))
            elif phase == "started" and e.get("kind") == "rollback":
                found.append(Incident(time=when, kind="rollback", what=str(details.get("reason"))))
            elif phase == "failed":
                what = str(details.get("reason") or details.get("error") or step_id)
                found.append(Incident(time=when, kind=f"{e.get('kind')} failed", what=what))
            elif details.get("reconciled"):
                what = f"{step_id} was interrupted; the target already showed it done"
                found.append(Incident(time=when, kind="retry", what=what))
            if phase == "started":
                seen_started.add(step_id)
        elif kind == "approval" and not e.get("approved"):
            found.append(Incident(time=when, kind="denied", what=str(e.get("reason"))))
        elif kind == "tool_finished" and e.get("status") in ("error", "denied", "invalid"):
            what = str(e.get("summary", ""))[:300]
            found.append(Incident(time=when, kind=f"{e.get('tool')} {e.get('status')}", what=what))
        elif kind == "notice" and e.get("level") == "error":
            found.append(Incident(time=when, kind="error", what=str(e.get("message"))))
        elif kind == "notice" and "picked this run up" in str(e.get("message")):
            found.append(Incident(time=when, kind="resumed", what=str(e.get("message"))))
    return found


def _changes(facts: RunFacts) -> list[str]:
    lines: list[str] = []
    for e in facts.steps(phase="finished"):
        d: Record = e.get("details") or {}
        at, kind, label = iso(e.get("ts")), e.get("kind"), d.get("label")
        if kind == "stage":
            target: Record = d.get("target_details") or {}
            commit = str(target.get("commit") or "")[:12]
            where = f" at {d['url']}" if d.get("url") else ""
            lines.append(f"{at}: started {label} from ref {d.get('ref')} {commit}{where}".strip())
        elif kind in ("shift", "rolling") and "weights" in d:
            lines.append(f"{at}: production traffic weights set to {_weights(d['weights'])}")
        elif kind == "flag":
            value = "on" if d.get("value") else "off"
            lines.append(f"{at}: flag {d.get('name')} switched {value} (was {d.get('before')})")
        elif kind == "rollback":
            restored = _weights(d.get("weights") or {})
            flags = d.get("restore_flags") or {}
            lines.append(f"{at}: rollback restored weights {restored}; flags {flags or 'none'}")
        elif kind == "promote":
            lines.append(f"{at}: {label} promoted")
        elif kind == "retire":
            lines.append(f"{at}: {label} retired")
    return lines


def _weights(weights: Any) -> str:
    if not isinstance(weights, dict) or not weights:
        return "(none)"
    pairs: dict[str, Any] = weights  # pyright: ignore[reportUnknownVariableType]
    return ", ".join(f"{k} {v}%" for k, v in sorted(pairs.items()))


def _mask_named(value: Any, names: set[str]) -> Any:
    """Mask dict entries whose key is one of the config's declared secret names."""
    if isinstance(value, dict):
        items: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return {
            k: "[REDACTED]" if k in names and v else _mask_named(v, names) for k, v in items.items()
        }
    if isinstance(value, list):
        return [_mask_named(v, names) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _step(event: Record) -> StepRecord:
    details: Record = event.get("details") or {}
    note = details.get("reason") or details.get("error") or ""
    if not note and "weights" in details:
        note = f"weights {_weights(details['weights'])}"
    return StepRecord(
        step_id=str(event.get("step_id")),
        kind=str(event.get("kind")),
        phase=str(event.get("phase")),
        time=iso(event.get("ts")),
        note=str(note),
    )


def _verdict(event: Record) -> VerdictRecord:
    details: Record = event.get("details") or {}
    step_id = str(event.get("step_id"))
    where = "rollback" if event.get("kind") == "rollback-verify" else details.get("where")
    where = str(where or "production")
    checks: list[CheckRecord] = []
    for c in details.get("checks") or []:
        check: Record = c
        samples: list[Record] = check.get("samples") or []
        latency = samples[-1].get("latency_ms") if samples else None
        checks.append(
            CheckRecord(
                step_id=step_id,
                where=where,
                kind=str(check.get("kind")),
                name=str(check.get("name")),
                passed=bool(check.get("passed")),
                message=str((check.get("details") or {}).get("message", "")),
                time=iso(check.get("finished_at") or event.get("ts")),
                latency_ms=float(latency) if isinstance(latency, int | float) else None,
            )
        )
    return VerdictRecord(
        step_id=step_id,
        where=where,
        passed=details.get("passed") is True,
        reason=details.get("reason"),
        checks=checks,
    )


def _analysis(event: Record) -> AnalysisRecord:
    details: Record = event.get("details") or {}
    analysis: Record = details.get("analysis") or {}
    percent = details.get("percent")
    return AnalysisRecord(
        step_id=str(event.get("step_id")),
        percent=int(percent) if isinstance(percent, int | float) else None,
        passed=details.get("passed") is True,
        outcome=analysis.get("outcome"),
        score=analysis.get("score"),
        reasons=[str(r) for r in analysis.get("reasons") or []],
        window_s=details.get("window_s"),
        time=iso(event.get("ts")),
        candidate=dict(analysis.get("candidate") or {}),
        baseline=dict(analysis.get("baseline") or {}),
    )
