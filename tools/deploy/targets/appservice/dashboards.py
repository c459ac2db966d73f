"""Where to watch the app after a deployment: Azure portal links for the handoff.

Metrics for the analysis come from the target's own probes (`_sampler.py`), which work the
same on every target and need no extra permission. Application Insights and Azure Monitor
are linked here for the people and the monitoring agent that take over afterwards; querying
them from the analysis would need the Monitor Query SDK (not a dependency) or the Azure MCP
monitor tools (which go through the gate), so it is left to the monitoring agent.
"""

from __future__ import annotations

from tools.deploy.targets.appservice.settings import AppServiceTargetConfig

PORTAL = "https://portal.azure.com/#@/resource"


def portal_links(cfg: AppServiceTargetConfig) -> list[dict[str, str]]:
    """Portal links: the app, and Application Insights (overview, live metrics) if set."""
    app_id = (
        f"/subscriptions/{cfg.subscription_id}/resourceGroups/{cfg.resource_group}"
        f"/providers/Microsoft.Web/sites/{cfg.app_name}"
    )
    links = [{"name": f"App Service {cfg.app_name}", "url": f"{PORTAL}{app_id}/appServices"}]
    insights = cfg.app_insights_resource_id
    if not insights and cfg.app_insights_name:
        insights = (
            f"/subscriptions/{cfg.subscription_id}/resourceGroups/{cfg.resource_group}"
            f"/providers/Microsoft.Insights/components/{cfg.app_insights_name}"
        )
    if insights:
        links.append({"name": "Application Insights", "url": f"{PORTAL}{insights}/overview"})
        links.append({"name": "Live metrics", "url": f"{PORTAL}{insights}/quickPulse"})
    return links
