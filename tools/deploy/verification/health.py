"""Health check: poll a version until it answers healthy several times in a row.

Like a Kubernetes readiness probe or App Service's swap warm-up, but quick: a staged
version must return `expected_status` (and, optionally, a body containing a marker) for
`consecutive_successes` probes in a row before `max_wait_s` runs out. A flapping version
never reaches the streak and fails.
"""

from __future__ import annotations

import asyncio
import time

import httpx2

from tools.deploy.verification._http import client_for, describe_error, join_url
from tools.deploy.verification.results import CheckResult, Probe
from tools.deploy.verification.settings import HealthCheckSettings


async def _probe(
    client: httpx2.AsyncClient, url: str, settings: HealthCheckSettings, timeout_s: float
) -> Probe:
    ts = time.time()
    started = time.perf_counter()
    try:
        response = await client.get(url, timeout=timeout_s)
    except httpx2.HTTPError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return Probe(ts, None, elapsed, describe_error(exc, timeout_s))
    elapsed = (time.perf_counter() - started) * 1000
    error: str | None = None
    if response.status_code != settings.expected_status:
        error = f"expected status {settings.expected_status}, got {response.status_code}"
    elif settings.body_contains is not None and settings.body_contains not in response.text:
        error = f"body does not contain {settings.body_contains!r}"
    return Probe(ts, response.status_code, elapsed, error)


async def check_health(
    base_url: str,
    settings: HealthCheckSettings,
    *,
    client: httpx2.AsyncClient | None = None,
) -> CheckResult:
    """Poll `base_url` + `settings.path` until it is healthy or time runs out.

    No probe starts after `max_wait_s`; the one in flight may take up to `request_timeout_s`.

    Args:
        base_url: Where the version answers, e.g. "http://127.0.0.1:8041".
        settings: Path, expected status, streak length, interval and deadline.
        client: An HTTP client to reuse; by default one is opened and closed here.

    Returns:
        A "health" CheckResult with every probe as a sample; `details["message"]` says how
        many probes it took, or why the version never became healthy.
    """
    url = join_url(base_url, settings.path)
    started_at = time.time()
    deadline = time.monotonic() + settings.max_wait_s
    samples: list[Probe] = []
    streak = 0
    async with client_for(client, timeout_s=settings.request_timeout_s) as http:
        while True:
            # Every probe gets its full timeout (a probe cut short would fail for our reasons,
            # not the version's), so the check may overrun max_wait_s by one request timeout.
            probe = await _probe(http, url, settings, settings.request_timeout_s)
            samples.append(probe)
            streak = streak + 1 if probe.ok else 0
            if streak >= settings.consecutive_successes:
                break
            if time.monotonic() + settings.interval_s >= deadline:
                break
            await asyncio.sleep(settings.interval_s)

    passed = streak >= settings.consecutive_successes
    failures = sum(not probe.ok for probe in samples)
    if passed:
        message = (
            f"healthy: {settings.consecutive_successes} consecutive successes after "
            f"{len(samples)} probes ({failures} failed first)"
        )
    else:
        last = next((p.error for p in reversed(samples) if p.error), "no failure recorded")
        message = (
            f"not healthy within {settings.max_wait_s:g}s: no {settings.consecutive_successes} "
            f"consecutive successes in {len(samples)} probes ({failures} failed; last: {last})"
        )
    details = {
        "url": url,
        "message": message,
        "probes": len(samples),
        "failures": failures,
        "required_consecutive": settings.consecutive_successes,
        "final_streak": streak,
    }
    name = f"health {settings.path}"
    return CheckResult("health", name, passed, started_at, time.time(), details, samples)
