"""The monitoring window as a chart: error rate, p95 latency and health per sample.

Thresholds are drawn as dashed lines, the confirmed regression and the rollback (or the
denied rollback) as labelled markers, so the trend reads without the tables.
"""

from __future__ import annotations

from collections.abc import Callable

from handoffs.facts import Record, RunFacts
from handoffs.monitoring.probes import SAMPLE_KIND
from handoffs.monitoring.report_model import MonitoringReport
from handoffs.svg_chart import Chart, Lane, Marker, Series, Span


def monitoring_chart(facts: RunFacts, report: MonitoringReport) -> Chart | None:
    """The chart of the monitoring run; None when it took no sample."""
    events = [e for e in facts.steps(SAMPLE_KIND) if e.get("phase") != "started"]
    if not events:
        return None
    details: list[Record] = [e.get("details") or {} for e in events]
    # One clock for the axis: the journal's (a test's fake clock only moves the sample data).
    ends = [float(e["ts"]) for e in events]
    t0 = min(end - float(d.get("window_s") or 0) for d, end in zip(details, ends, strict=True))
    last = max(float(e["ts"]) for e in facts.steps())
    t_end = (last - t0) * 1.03 + 0.2

    def rel(ts: object) -> float:
        return float(ts) - t0 if isinstance(ts, int | float) else 0.0

    t = report.thresholds
    rates: list[Span] = []
    p95: list[tuple[float, float]] = []
    health = Series(name="health probe", kind="dots", color="#1a7f37", row=0.5)
    for d, at in zip(details, ends, strict=True):
        end = rel(at)
        start = end - float(d.get("window_s") or 0)
        verdict = d.get("verdict")
        color = {"breach": "#cf222e", "no_data": "#8c959f"}.get(str(verdict))
        note = f"sample {d.get('n')}: {d.get('errors')}/{d.get('requests')} errors; " + (
            "; ".join(d.get("breaches") or []) or str(verdict)
        )
        rates.append(Span(start, end, 100 * float(d.get("error_rate") or 0), note, color))
        if isinstance(d.get("p95_ms"), int | float):
            p95.append((end, float(d["p95_ms"])))
        health.points.append((end, 1.0 if (d.get("health") or {}).get("passed") else 0.0))
        health.notes.append(str((d.get("health") or {}).get("message") or ""))
    max_rate = 100 * t.max_error_rate if t else 2.0
    top_rate = min(100.0, _nice(max([s.value for s in rates] + [max_rate * 2, 5.0]) * 1.15))
    for e in facts.verdicts("rollback-verify"):  # production after the rollback
        for check in (e.get("details") or {}).get("checks") or []:
            health.points.append((rel(e["ts"]), 1.0 if check.get("passed") else 0.0))
            health.notes.append(
                f"after the rollback: {(check.get('details') or {}).get('message')}"
            )
    lanes = [
        _traffic(facts, report, details, ends, rel),
        Lane(
            title="Error rate",
            unit="%",
            max_value=top_rate,
            series=[
                Series(name="error rate per sample", kind="bars", color="#0969da", spans=rates)
            ],
            thresholds=[(max_rate, f"max {max_rate:g}%")],
        ),
    ]
    base = report.baseline
    if p95:
        limits: list[tuple[float, str]] = []
        if base is not None and base.p95_ms and t is not None:
            limit = max(base.p95_ms * t.max_latency_ratio_p95, base.p95_ms + t.latency_floor_ms)
            limits.append((limit, f"limit {limit:.0f} ms"))
        peak = max([v for _, v in p95] + [lim for lim, _ in limits] + [10.0])
        series = [Series(name="p95 latency", kind="line", color="#8250df", points=p95)]
        if base is not None and base.p95_ms:
            series.append(
                Series(
                    name=f"baseline p95 ({base.p95_ms:.1f} ms)",
                    kind="step",
                    color="#8c959f",
                    points=[(0.0, base.p95_ms)],
                )
            )
        lanes.append(
            Lane(
                title="p95 latency",
                unit="ms",
                max_value=_nice(peak * 1.2),
                series=series,
                thresholds=limits,
                height=90,
            )
        )
    lanes.append(Lane(title="Health", unit="", max_value=1.0, series=[health], height=40))
    return Chart(
        title=_title(report),
        subtitle=_subtitle(report),
        t_end=t_end,
        lanes=lanes,
        markers=_markers(facts, report, rel),
        x_label="seconds since monitoring started",
    )


def _traffic(
    facts: RunFacts,
    report: MonitoringReport,
    details: list[Record],
    ends: list[float],
    rel: Callable[[object], float],
) -> Lane:
    label = report.version or ""
    points = [
        (rel(at - float(d.get("window_s") or 0)), float((d.get("weights") or {}).get(label, 0)))
        for d, at in zip(details, ends, strict=True)
    ]
    for e in facts.steps("rollback", "finished"):
        weights: Record = (e.get("details") or {}).get("weights") or {}
        points.append((rel(e["ts"]), float(weights.get(label, 0))))
    series = Series(name=f"traffic to {label}", kind="step", color="#0969da", points=points)
    return Lane(title="Traffic", unit="%", max_value=100.0, series=[series], height=60)


def _title(report: MonitoringReport) -> str:
    status = report.status.replace("_", " ").upper()
    return f"Post-fix monitoring of {report.version} ({report.service}): {status}"


def _subtitle(report: MonitoringReport) -> str:
    if report.regression:
        return f"Regression: {report.regression[0]}"
    return f"{len(report.samples)} sample(s) of {report.interval_s or 0:g}s; no regression"


def _markers(
    facts: RunFacts, report: MonitoringReport, rel: Callable[[object], float]
) -> list[Marker]:
    marks: list[Marker] = []
    for e in facts.steps(SAMPLE_KIND):
        d: Record = e.get("details") or {}
        if (
            e.get("phase") == "failed"
            and report.regression_detected_at
            and (
                d.get("n")
                == max(
                    (s.n for s in report.samples if s.time == report.regression_detected_at),
                    default=-1,
                )
            )
        ):
            marks.append(Marker(rel(e["ts"]), "regression confirmed", "failure"))
    for e in facts.steps():
        if (
            e.get("kind") in ("stage", "verify", "rollback-verify", "retire")
            and e.get("phase") != "started"
        ):
            ok = "✓" if e.get("phase") == "finished" else "✗"
            marks.append(Marker(rel(e["ts"]), f"{e['step_id']} {ok}"))
    use = next(iter(reversed(facts.uses("monitor_rollback"))), None)
    if use is not None and use.status == "denied":
        marks.append(Marker(rel(use.finished_ts), "rollback NOT approved: recommended", "failure"))
    for e in facts.steps("rollback", "finished"):
        marks.append(
            Marker(
                rel(e["ts"]),
                f"rollback: traffic back on {report.previous_version}",
                "rollback",
            )
        )
    return sorted(marks, key=lambda m: m.t)


def _nice(value: float) -> float:
    for step in (5, 10, 20, 25, 50, 100, 200, 500, 1000, 2000, 5000):
        if value <= step:
            return float(step)
    return value
