"""Links to the observability views of a deployed service, derived from its configuration.

- local target: the router's stats page (requests, errors, latency per version);
- App Service: the app in the Azure portal and its Application Insights component, when the
  `[deploy.<target>]` section names the subscription, resource group and app;
- a Grafana (or any) URL template from `[monitoring] grafana_url`, and extra named templates.
"""

from __future__ import annotations

import string
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from handoffs.facts import RunFacts
from handoffs.monitoring.settings import monitoring_settings
from handoffs.report_model import Dashboard, DeploymentSummary
from handoffs.rollback_plan import target_settings

PORTAL = "https://portal.azure.com/#@/resource"
_APP_SERVICE_TARGETS = ("appservice", "app-service", "app_service", "azure", "azure-appservice")


def build_dashboards(
    facts: RunFacts,
    deployment: DeploymentSummary | None,
    production_url: str | None,
    target: str | None,
) -> list[Dashboard]:
    """Every dashboard the run's configuration allows linking to."""
    found: list[Dashboard] = []
    if target == "local" and production_url:
        found.append(
            Dashboard(
                name="Local router stats",
                url=f"{production_url}/_hotfix/stats",
                kind="router-stats",
            )
        )
    if target in _APP_SERVICE_TARGETS:
        found += azure_dashboards(target_settings(facts, target))
    settings = monitoring_settings(facts.config)
    values = template_values(facts, deployment, target)
    if settings.grafana_url:
        url = fill_template(settings.grafana_url, values)
        if url:
            found.append(Dashboard(name="Grafana", url=url, kind="grafana"))
    for name, template in settings.dashboards.items():
        url = fill_template(template, values)
        if url:
            found.append(Dashboard(name=name, url=url, kind="custom"))
    return found


def azure_dashboards(settings: dict[str, Any]) -> list[Dashboard]:
    """The Azure portal views of an App Service app (and its Application Insights)."""
    subscription = settings.get("subscription_id") or settings.get("subscription")
    group = settings.get("resource_group")
    app = settings.get("app_name") or settings.get("app") or settings.get("name")
    if not (subscription and group and app):
        return []
    base = f"{PORTAL}/subscriptions/{subscription}/resourceGroups/{group}/providers"
    found = [
        Dashboard(
            name=f"Azure portal: {app}",
            url=f"{base}/Microsoft.Web/sites/{app}/appServices",
            kind="azure-portal",
        ),
        Dashboard(
            name=f"Azure portal: {app} metrics",
            url=f"{base}/Microsoft.Web/sites/{app}/metrics",
            kind="azure-portal",
        ),
    ]
    insights = settings.get("app_insights") or settings.get("application_insights")
    if isinstance(insights, str) and insights:
        path = (
            insights
            if insights.startswith("/subscriptions/")
            else (
                f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                f"microsoft.insights/components/{insights}"
            )
        )
        found.append(
            Dashboard(
                name="Application Insights", url=f"{PORTAL}{path}/overview", kind="app-insights"
            )
        )
    return found


def template_values(
    facts: RunFacts, deployment: DeploymentSummary | None, target: str | None
) -> dict[str, str]:
    """Values for URL templates; times cover the run, in epoch milliseconds."""
    start = facts.started.get("ts")
    end = facts.finished.get("ts") if facts.finished else None
    values = {
        "service": Path(str(facts.workspace)).name,
        "version": deployment.version if deployment else "",
        "previous": (deployment.previous or "") if deployment else "",
        "run_id": facts.run_id,
        "target": target or "",
        "from_ms": str(int(float(start) * 1000)) if isinstance(start, int | float) else "now-1h",
        "to_ms": str(int(float(end) * 1000) + 600_000) if isinstance(end, int | float) else "now",
    }
    return {k: quote(v, safe="-") for k, v in values.items()}


def fill_template(template: str, values: dict[str, str]) -> str | None:
    """`template` with its placeholders filled; None when it names an unknown placeholder."""
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if not fields <= set(values):
        return None
    return template.format_map(values)


def now_ms() -> int:
    """Epoch milliseconds now (for templates rendered outside a run)."""
    return int(datetime.now().timestamp() * 1000)
