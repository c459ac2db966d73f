"""The rollout as a timeline chart: traffic share, error rate and health across the steps.

Built from the journaled step details alone: weights from `shift`/`rollback` steps, error
rates from the baseline window and each analysis window, health from every probe of every
health check, and one marker per step plus the failure and the rollback.
"""

from __future__ import annotations

from collections.abc import Callable

from handoffs.facts import Record, RunFacts
from handoffs.report_model import DeploymentSummary
from handoffs.svg_chart import Chart, Lane, Marker, Series, Span

Rel = Callable[[object], float]
_STEP_MARKS = (
    "stage",
    "verify",
    "baseline",
    "shift",
    "analysis",
    "promote",
    "retire",
    "flag",
    "rolling",
    "rollback-verify",
    "migration",
)


def deployment_chart(facts: RunFacts, deployment: DeploymentSummary | None) -> Chart | None:
    """The chart of the run's deployment; None when it made no deployment steps."""
    steps = [e for e in facts.steps() if e.get("kind") != "deploy"]
    if deployment is None or not steps:
        return None
    # Positions come from the journal's own timestamps only: a target or a test may run the
    # engine on another clock, and one axis needs one clock.
    t0 = min(float(e["ts"]) for e in facts.steps())
    t_end = max(float(e["ts"]) for e in facts.steps()) - t0
    t_end = t_end * 1.04 + 0.2

    def rel(ts: object) -> float:
        return float(ts) - t0 if isinstance(ts, int | float) else 0.0

    label = deployment.version
    return Chart(
        title=_title(deployment, facts.state.previous),
        subtitle=_subtitle(deployment, facts, rel),
        t_end=t_end,
        lanes=[_traffic(facts, deployment, rel), _errors(facts, rel), _health(facts, rel)],
        markers=_markers(facts, deployment, rel, label),
    )


def _title(d: DeploymentSummary, previous: str | None) -> str:
    verdict = {"deployed": "DEPLOYED", "rolled_back": "ROLLED BACK", "failed": "FAILED"}
    status = verdict.get(d.status, d.status.upper())
    return f"{d.version} replacing {previous or '-'} ({d.strategy}): {status}"


def _subtitle(d: DeploymentSummary, facts: RunFacts, rel: Rel) -> str:
    if d.status == "rolled_back":
        ttr = f"{d.time_to_rollback_s:.2f}s" if d.time_to_rollback_s is not None else "?"
        failed = _short(failure_text(facts, d.reason or ""))
        return f"Failed check: {failed} — traffic back on {d.previous} {ttr} after the failure"
    if d.status == "deployed":
        promoted = facts.steps("promote", "finished")
        at = f" at +{rel(promoted[-1]['ts']):.1f}s" if promoted else ""
        return f"All checks passed; {d.version} promoted{at} and serves all traffic"
    return f"Status {d.status}: {_short(d.reason or 'see the incident log')}"


def _traffic(facts: RunFacts, d: DeploymentSummary, rel: Rel) -> Lane:
    label = d.version
    flag = label.startswith("flag:")
    start = 0.0
    points: list[tuple[float, float]] = [(0.0, start)]
    for e in facts.steps(phase="finished"):
        details: Record = e.get("details") or {}
        if e.get("kind") in ("shift", "rolling", "rollback") and "weights" in details:
            points.append((rel(e["ts"]), float(details["weights"].get(label, 0))))
        elif e.get("kind") == "flag":
            points.append((rel(e["ts"]), 100.0 if details.get("value") else 0.0))
        elif e.get("kind") == "rollback" and flag:
            points.append((rel(e["ts"]), 0.0))
    name = f"traffic to {label}" if not flag else f"{label} on (share of users)"
    series = [Series(name=name, kind="step", color="#0969da", points=points)]
    if d.previous and not flag:
        prev = [(t, 100.0 - v) for t, v in points]
        series.append(
            Series(name=f"traffic to {d.previous}", kind="step", color="#8c959f", points=prev)
        )
    return Lane(title="Traffic", unit="%", max_value=100.0, series=series)


def _errors(facts: RunFacts, rel: Rel) -> Lane:
    candidate: list[Span] = []
    previous: list[Span] = []
    for e in facts.steps("baseline", "finished"):
        d: Record = e.get("details") or {}
        load: Record = d.get("load") or {}
        if load.get("sent"):
            rate = 100.0 * float(load.get("failed") or 0) / float(load["sent"])
            end = rel(e["ts"])
            note = f"baseline of the previous version: {load.get('failed')}/{load['sent']} errors"
            previous.append(Span(end - float(d.get("window_s") or 0), end, rate, note))
    for e in facts.verdicts("analysis"):
        d = e.get("details") or {}
        a: Record = d.get("analysis") or {}
        end = rel(e["ts"])
        start = end - float(d.get("window_s") or 0)
        for side, out in (("candidate", candidate), ("baseline", previous)):
            m: Record = a.get(side) or {}
            if m.get("requests"):
                note = (
                    f"{m.get('label')}: {m.get('errors')}/{m.get('requests')} errors "
                    f"({100 * float(m.get('error_rate') or 0):.1f}%) — {a.get('outcome')}"
                )
                color = None if side == "baseline" or d.get("passed") else "#cf222e"
                if side == "candidate" or d.get("percent") != 100:
                    rate = 100 * float(m.get("error_rate") or 0)
                    out.append(Span(start, end, rate, note, color))
    threshold = 2.0
    if facts.config is not None:
        threshold = 100 * facts.config.deploy.verification.analysis.max_error_rate
    failing = [s for s in candidate if s.color]
    peak = max([s.value for s in candidate + previous] + [threshold * 2, 5.0])
    top = _nice(peak * 1.15)
    return Lane(
        title="Error rate",
        unit="%",
        max_value=top,
        thresholds=[(threshold, f"max {threshold:g}%")],
        series=[
            Series(name="error rate, new version", kind="bars", color="#0969da", spans=candidate),
            Series(
                name="error rate, previous version", kind="bars", color="#8c959f", spans=previous
            ),
            *(
                [Series(name="failing measurement", kind="bars", color="#cf222e")]
                if failing
                else []
            ),
        ],
    )


def _health(facts: RunFacts, rel: Rel) -> Lane:
    health = Series(name="health probes", kind="dots", color="#1a7f37", row=0.62)
    smoke = Series(name="smoke tests", kind="dots", color="#1a7f37", row=0.22)
    for e in facts.verdicts("verify", "rollback-verify"):
        d: Record = e.get("details") or {}
        for check in d.get("checks") or []:
            c: Record = check
            where = d.get("where") or ("production" if e.get("kind") == "rollback-verify" else "")
            message = str((c.get("details") or {}).get("message", ""))
            if c.get("kind") == "health":
                for probe in c.get("samples") or []:
                    ok = 1.0 if probe.get("error") is None else 0.0
                    health.points.append((rel(probe.get("ts")), ok))
                    health.notes.append(
                        f"{e['step_id']} ({where}): {probe.get('status')} "
                        f"{probe.get('error') or 'ok'}"
                    )
                if not c.get("samples"):
                    health.points.append(
                        (rel(c.get("finished_at") or e["ts"]), float(bool(c.get("passed"))))
                    )
                    health.notes.append(f"{e['step_id']}: {message}")
            elif c.get("kind") == "smoke":
                smoke.points.append(
                    (rel(c.get("finished_at") or e["ts"]), float(bool(c.get("passed"))))
                )
                smoke.notes.append(f"{e['step_id']} ({where}) {c.get('name')}: {message}")
    return Lane(title="Health", unit="", max_value=1.0, series=[health, smoke], height=62)


def _markers(facts: RunFacts, d: DeploymentSummary, rel: Rel, label: str) -> list[Marker]:
    marks: list[Marker] = []
    for e in facts.steps():
        kind, phase = str(e.get("kind")), e.get("phase")
        if kind not in _STEP_MARKS or phase == "started":
            continue
        details: Record = e.get("details") or {}
        text = str(e.get("step_id"))
        if kind == "shift":
            text = f"shift {details.get('percent')}% to {details.get('label')}"
        elif kind == "analysis":
            text = f"{e['step_id']} {(details.get('analysis') or {}).get('outcome', '')}"
        mark = "✓" if phase == "finished" else "✗"
        if kind == "promote":
            marks.append(Marker(rel(e["ts"]), f"promoted {label}", "ok"))
            continue
        marks.append(Marker(rel(e["ts"]), f"{text} {mark}"))
    failed = [e for e in facts.steps(phase="failed") if e.get("kind") != "retire"]
    if failed:
        text = _short(failure_text(facts, d.reason or ""))
        marks.append(Marker(rel(failed[0]["ts"]), f"failure: {text}", "failure"))
    for e in facts.steps("rollback", "finished"):
        ttr = "" if d.time_to_rollback_s is None else f" ({d.time_to_rollback_s:.2f}s later)"
        marks.append(
            Marker(
                rel(e["ts"]),
                f"rollback: traffic back on {d.previous}{ttr}",
                "rollback",
            )
        )
    return sorted(marks, key=lambda m: m.t)


def failure_text(facts: RunFacts, reason: str) -> str:
    """The first concrete failure: a failing analysis reason, else the step's own reason."""
    for e in facts.steps(phase="failed"):
        analysis: Record = (e.get("details") or {}).get("analysis") or {}
        reasons = [str(r) for r in analysis.get("reasons") or [] if not str(r).startswith("score")]
        if reasons:
            return f"{e.get('step_id')}: {reasons[0]}"
    return reason


def _short(text: str, limit: int = 80) -> str:
    head = text.split(" failed: ", 1)[-1].split(";")[0]
    return head if len(head) <= limit else head[: limit - 1] + "…"


def _nice(value: float) -> float:
    for step in (5, 10, 20, 25, 50, 100):
        if value <= step:
            return float(step)
    return 100.0
