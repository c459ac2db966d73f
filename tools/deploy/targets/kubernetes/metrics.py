"""Per-version traffic for the canary analysis, from the configured `metrics_url`.

Kubernetes itself counts no requests; whatever does (an ingress or mesh exporter, a small
adapter over Prometheus) answers `GET <metrics_url>` with
`{"requests": n, "errors": n, "latencies_ms": [...]}` for one version since a time.
"""

from __future__ import annotations

from urllib.parse import quote

from tools.deploy.target import TargetError, VersionMetrics


async def fetch_metrics(
    template: str | None, namespace: str, label: str, since: float
) -> VersionMetrics:
    """`label`'s requests, errors and latencies since `since` (epoch seconds).

    Raises:
        TargetError: No `metrics_url` is configured, or it did not answer as described.
    """
    import httpx2

    if not template:
        raise TargetError(
            "no metrics source: set [deploy.kubernetes] metrics_url so that traffic "
            "analysis can compare versions (a canary is never promoted without it)"
        )
    url = (
        template.replace("{label}", quote(label, safe=""))
        .replace("{since}", f"{since:.3f}")
        .replace("{namespace}", namespace)
    )
    try:
        async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as http:
            response = await http.get(url)
            response.raise_for_status()
            data = response.json()
        latencies = [float(v) for v in data.get("latencies_ms") or []]
        return VersionMetrics(label, int(data["requests"]), int(data["errors"]), latencies)
    except (httpx2.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TargetError(f"metrics of {label} unavailable from {url}: {exc}") from exc
