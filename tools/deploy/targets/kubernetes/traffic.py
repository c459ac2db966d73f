"""Production traffic between the production version and the staged one: read and set.

Weights are read from what actually routes requests: the production Service's selector
(pinned to the production pods, pinned to the staged pods, or the original one that
selects both), the replica counts, or the HTTPRoute's backend weights. In replica mode a
split is approximate; the requested split is kept on the Service (`hotfix-agent/weights`)
and reported as long as the pods still match it, the delivered one goes in the details.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tools.deploy.target import TargetError
from tools.deploy.targets.kubernetes import blue_green, canary
from tools.deploy.targets.kubernetes._client import KubeApi
from tools.deploy.targets.kubernetes._objects import HASH_LABEL, TRACK, WEIGHTS, Obj
from tools.deploy.targets.kubernetes.settings import KubernetesTargetConfig


@dataclass(frozen=True)
class Versions:
    """The production and (when there is one) staged Deployment with their labels."""

    primary: Obj
    primary_label: str
    staged: Obj | None = None
    staged_label: str | None = None

    @property
    def production_replicas(self) -> int:
        return int(self.primary["spec"].get("replicas", 1))


async def read_weights(
    api: KubeApi, config: KubernetesTargetConfig, versions: Versions, service: Obj | None
) -> tuple[dict[str, int], dict[str, Any]]:
    """(weights, details): who gets production traffic now, and how that was found."""
    primary = versions.primary_label
    if versions.staged is None or versions.staged_label is None:
        return {primary: 100}, {"routing": "production deployment only"}
    staged = versions.staged_label
    if config.canary_mode == "gateway":
        production, share = canary.route_shares(await canary.read_route(api, config), config)
        total = production + share
        if total <= 0:
            return {}, {"routing": f"HTTPRoute {config.httproute} has no weighted backend"}
        percent = round(100 * share / total)
        return _nonzero({primary: 100 - percent, staged: percent}), {"routing": "httproute"}
    selector = (service or {}).get("spec", {}).get("selector") or {}
    if HASH_LABEL in selector:
        return {primary: 100}, {"routing": "service pinned to production pods"}
    if selector.get(TRACK) == config.staged_suffix:
        return {staged: 100}, {"routing": f"service pinned to {config.staged_deployment}"}
    staged_replicas = int(versions.staged["spec"].get("replicas", 1))
    delivered = canary.effective_weights(
        primary, versions.production_replicas, staged, staged_replicas
    )
    details = {"routing": "replica ratio", "effective_weights": delivered}
    requested = (service or {}).get("metadata", {}).get("annotations", {}).get(WEIGHTS)
    if requested:
        wanted = {str(k): int(v) for k, v in json.loads(requested).items()}
        share = wanted.get(staged, 0)
        replicas_for = canary.canary_replicas(versions.production_replicas, share)
        if set(wanted) <= {primary, staged} and replicas_for == staged_replicas:
            return _nonzero(wanted), details
    return _nonzero(delivered), details


async def apply_weights(
    api: KubeApi,
    config: KubernetesTargetConfig,
    versions: Versions,
    weights: dict[str, int],
    wait_ready: Callable[[], Awaitable[None]],
) -> None:
    """Route production traffic by `weights` (labels of `versions`, percent, sum 100).

    `wait_ready()` is awaited after the staged version was scaled up and before it gets a
    bigger share, so that capacity is there before the traffic.
    """
    primary, staged = versions.primary_label, versions.staged_label
    unknown = set(weights) - {primary, *([staged] if staged else [])}
    if unknown:
        known = ", ".join(filter(None, [primary, staged]))
        raise TargetError(f"unknown version(s) {', '.join(sorted(unknown))}; running: {known}")
    share = weights.get(staged, 0) if staged else 0
    if versions.staged is None or staged is None:
        if share:
            raise TargetError("no staged version to send traffic to; stage one first")
        return
    name = config.staged_deployment
    if share == 0:
        # Abort / switch back: traffic first (one patch), then the canary goes to 0.
        if config.canary_mode == "gateway":
            await canary.set_route_weights(api, config, 100, 0)
        else:
            pin = await blue_green.production_pin(api, versions.primary)
            await blue_green.set_selector(api, config, pin, None)
        await blue_green.scale(api, name, 0)
        return
    replicas = canary.canary_replicas(versions.production_replicas, share)
    if int(versions.staged["spec"].get("replicas", 1)) != replicas:
        await blue_green.scale(api, name, replicas)
    await wait_ready()
    if config.canary_mode == "gateway":
        await canary.set_route_weights(api, config, 100 - share, share)
    elif share == 100:
        await blue_green.set_selector(api, config, {TRACK: config.staged_suffix}, None)
    else:
        requested = json.dumps({primary: 100 - share, staged: share}, sort_keys=True)
        await blue_green.set_selector(api, config, None, requested)


def _nonzero(weights: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in weights.items() if v}
