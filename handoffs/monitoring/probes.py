"""One monitoring sample: a window of production traffic and a health probe, judged.

A sample waits out (or, on a loopback target, drives synthetic traffic for) one interval,
reads the watched version's requests, errors and latencies for that window from the target,
probes production health, and compares them with the packet's baseline and thresholds.
Each sample is journaled as a `monitor-sample` step, so the report's trend chart and a
crash-resumed reader see every one of them.
"""

from __future__ import annotations

import math
from typing import Any

from handoffs.monitoring.session import MonitorSession
from tools.deploy.steps import Details
from tools.deploy.target import VersionMetrics
from tools.deploy.verification.statistics import percentile

SAMPLE_KIND = "monitor-sample"


async def take_sample(session: MonitorSession, window_s: float) -> Details:
    """Observe one window, judge it, journal it; the sample."""
    number = len(session.samples) + 1
    label = session.watched
    start = session.clock()
    state = await session.target.state()
    url = state.production_url
    load = await session.verifier.drive_load(url, window_s)
    metrics = await session.target.metrics(label, start) if label else VersionMetrics("?", 0, 0, [])
    health = await session.verifier.health(url)
    sample = judge(session, metrics, health)
    sample |= {
        "n": number,
        "label": label,
        "start": start,
        "end": session.clock(),
        "window_s": window_s,
        "weights": dict(state.weights),
        "load": {k: load.get(k) for k in ("sent", "failed") if k in load},
    }
    session.samples.append(sample)
    if sample["verdict"] == "breach":
        session.streak += 1
        confirmed = session.streak >= session.packet.monitoring.thresholds.consecutive_breaches
        if confirmed and session.regression is None:
            first = session.samples[-session.streak]
            session.regression = {
                "detected_at": sample["end"],
                "since": first["start"],
                "reasons": sample["breaches"],
                "sample": number,
            }
    elif sample["verdict"] == "ok":
        session.streak = 0
    phase = "failed" if sample["verdict"] == "breach" else "finished"
    details = {**sample, "reason": "; ".join(sample["breaches"])} if sample["breaches"] else sample
    session.steps.write(f"sample:{number}", SAMPLE_KIND, phase, details)
    return sample


def judge(session: MonitorSession, metrics: VersionMetrics, health: dict[str, Any]) -> Details:
    """Compare one window with the baseline and thresholds: `ok`, `breach` or `no_data`."""
    t = session.packet.monitoring.thresholds
    base = session.baseline
    latencies = [v for v in metrics.latencies_ms if math.isfinite(v)]
    p95 = percentile(latencies, 95) if latencies else None
    p50 = percentile(latencies, 50) if latencies else None
    healthy = health.get("passed") is True
    breaches: list[str] = []
    notes: list[str] = []
    if not healthy:
        message = (health.get("details") or {}).get("message") or "failed"
        breaches.append(f"health check failed: {message}")
    judged = metrics.requests >= t.min_requests
    if judged:
        rate = metrics.error_rate
        if rate > t.max_error_rate + 1e-12:
            breaches.append(
                f"error rate {100 * rate:.1f}% ({metrics.errors}/{metrics.requests}) "
                f"above the maximum {100 * t.max_error_rate:g}%"
            )
        elif base is not None and rate - base.error_rate > t.max_error_rate_delta + 1e-12:
            breaches.append(
                f"error rate {100 * rate:.1f}% is {100 * (rate - base.error_rate):.1f} "
                f"points over the baseline {100 * base.error_rate:.1f}%"
            )
        if base is not None and base.p95_ms and p95 is not None:
            limit = max(base.p95_ms * t.max_latency_ratio_p95, base.p95_ms + t.latency_floor_ms)
            if p95 > limit:
                breaches.append(
                    f"p95 latency {p95:.1f} ms above {limit:.1f} ms (baseline {base.p95_ms:.1f} ms)"
                )
    else:
        notes.append(f"{metrics.requests} requests (< {t.min_requests}): metrics not judged")
    verdict = "breach" if breaches else ("ok" if judged or healthy else "no_data")
    return {
        "verdict": verdict,
        "breaches": breaches,
        "notes": notes,
        "requests": metrics.requests,
        "errors": metrics.errors,
        "error_rate": metrics.error_rate,
        "p50_ms": p50,
        "p95_ms": p95,
        "health": {
            "passed": healthy,
            "message": (health.get("details") or {}).get("message", ""),
        },
    }
