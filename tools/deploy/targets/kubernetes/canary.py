"""Canary weights: replica ratios behind one Service, or Gateway API HTTPRoute backend weights.

Replica mode: the production Deployment keeps its replicas (it is never touched); the
canary gets `canary_replicas(...)` pods and the Service selects both, so its share of
requests follows the pod ratio (10 % of 3 replicas rounds to 1 canary pod, 25 % of the pods:
`effective_weights` reports that). Gateway mode: the route's backends are the production
Service and the preview Service, with exactly the requested weights; the canary still gets
enough replicas to carry its share. Either way an abort scales the canary to 0.
"""

from __future__ import annotations

import copy

from tools.deploy.targets.kubernetes._client import KubeApi
from tools.deploy.targets.kubernetes._objects import Obj
from tools.deploy.targets.kubernetes.settings import KubernetesTargetConfig
from tools.deploy.targets.kubernetes.validation import GATEWAY_GROUP


def canary_replicas(production_replicas: int, percent: int) -> int:
    """Canary pods for `percent` % beside `production_replicas` untouched production pods."""
    if percent <= 0:
        return 0
    if percent >= 100:
        return max(1, production_replicas)
    wanted = round(production_replicas * percent / (100 - percent))
    return min(max(1, production_replicas), max(1, wanted))


def effective_weights(
    primary: str, production_replicas: int, staged: str, staged_replicas: int
) -> dict[str, int]:
    """The request shares the pod ratio gives (what replica mode really delivers)."""
    total = production_replicas + staged_replicas
    if total == 0:
        return {primary: 100}
    share = round(100 * staged_replicas / total)
    return {primary: 100 - share, staged: share}


async def read_route(api: KubeApi, config: KubernetesTargetConfig) -> Obj:
    """The configured HTTPRoute, as JSON."""
    return await api.call(
        f"reading HTTPRoute {config.httproute}",
        api.custom.get_namespaced_custom_object,
        GATEWAY_GROUP,
        "v1",
        api.namespace,
        "httproutes",
        config.httproute,
    )


def route_shares(route: Obj, config: KubernetesTargetConfig) -> tuple[int, int]:
    """(production, staged) weights of the route's first rule."""
    refs = _refs(route)
    production = sum(int(r.get("weight", 1)) for r in refs if r.get("name") == config.service_name)
    staged = sum(int(r.get("weight", 1)) for r in refs if r.get("name") == config.staged_service)
    return production, staged


def _refs(route: Obj) -> list[Obj]:
    rules = (route.get("spec") or {}).get("rules") or [{}]
    return list(rules[0].get("backendRefs") or [])


async def set_route_weights(
    api: KubeApi, config: KubernetesTargetConfig, production: int, staged: int | None
) -> None:
    """Weight the production and preview Services in the route's first rule.

    `staged=None` removes the preview backend. Other rules and backends are kept as they are.
    """
    route = await read_route(api, config)
    rules = copy.deepcopy((route.get("spec") or {}).get("rules") or [{}])
    refs = [r for r in rules[0].get("backendRefs") or [] if r.get("name") != config.staged_service]
    template = next((r for r in refs if r.get("name") == config.service_name), None)
    if template is None:
        template = {"name": config.service_name, "port": 80}
        refs.insert(0, template)
    template["weight"] = production
    if staged is not None:
        refs.append(
            {
                **{k: v for k, v in template.items() if k != "name"},
                "name": config.staged_service,
                "weight": staged,
            }
        )
    rules[0]["backendRefs"] = refs
    await api.call(
        f"setting the backend weights of HTTPRoute {config.httproute}",
        api.custom.patch_namespaced_custom_object,
        GATEWAY_GROUP,
        "v1",
        api.namespace,
        "httproutes",
        config.httproute,
        {"spec": {"rules": rules}},
        _content_type="application/merge-patch+json",
    )
