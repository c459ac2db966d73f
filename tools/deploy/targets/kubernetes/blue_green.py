"""A second Deployment for the new version, and the Service selector switch between the two.

The staged Deployment `<deployment>-<suffix>` is the production Deployment's spec with the
new image, one replica, and an extra pod label `hotfix-agent/track=<suffix>` (also in its
selector); a preview Service `<service>-<suffix>` selects only its pods. The production
Service's selector is narrowed, before the staged pods exist, to the production pods
(`pod-template-hash` of the current ReplicaSet, as Argo Rollouts does), so the new version
gets no traffic until `switch(...)`; the original selector is kept in an annotation and
restored when the staged version goes away. A switch is one Service patch, so the old
version keeps running and switching back is instant.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time

from tools.deploy.target import TargetError
from tools.deploy.targets.kubernetes import canary, rolling
from tools.deploy.targets.kubernetes._client import KubeApi
from tools.deploy.targets.kubernetes._objects import (
    HASH_LABEL,
    MANAGED_BY,
    ORIGINAL_SELECTOR,
    REF,
    TRACK,
    VERSION,
    WEIGHTS,
    Obj,
    annotations_of,
    container_index,
)
from tools.deploy.targets.kubernetes._reads import (
    find_deployment,
    find_service,
    new_replica_set,
    owned_replica_sets,
    pods_matching,
)
from tools.deploy.targets.kubernetes.settings import KubernetesTargetConfig


def staged_body(
    primary: Obj, config: KubernetesTargetConfig, container: str, image: str, label: str, ref: str
) -> Obj:
    """The staged Deployment: production's spec, the new image, one replica, its own track."""
    spec = copy.deepcopy(primary["spec"])
    track = {TRACK: config.staged_suffix}
    selector = spec.get("selector") or {}
    selector["matchLabels"] = dict(selector.get("matchLabels") or {}) | track
    template = spec["template"]
    meta = template.setdefault("metadata", {})
    meta["labels"] = dict(meta.get("labels") or {}) | track
    meta["annotations"] = dict(meta.get("annotations") or {}) | {VERSION: label, REF: ref}
    template["spec"]["containers"][container_index(template, container)]["image"] = image
    spec |= {"replicas": 1, "selector": selector, "template": template, "paused": False}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": config.staged_deployment,
            "labels": dict(primary["metadata"].get("labels") or {})
            | track
            | {MANAGED_BY: config.deployment},
            "annotations": {VERSION: label, REF: ref},
        },
        "spec": spec,
    }


def preview_body(service: Obj, config: KubernetesTargetConfig) -> Obj:
    """The preview Service: production's ports, selecting only the staged pods."""
    selector = original_selector(service) | {TRACK: config.staged_suffix}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": config.staged_service, "labels": {MANAGED_BY: config.deployment}},
        "spec": {"selector": selector, "ports": copy.deepcopy(service["spec"].get("ports") or [])},
    }


def original_selector(service: Obj) -> dict[str, str]:
    """The Service's selector before we narrowed it (its selector if we never did)."""
    recorded = (service["metadata"].get("annotations") or {}).get(ORIGINAL_SELECTOR)
    if recorded:
        return dict(json.loads(recorded))
    return dict(service["spec"].get("selector") or {})


async def production_pin(api: KubeApi, primary: Obj) -> dict[str, str]:
    """Labels that select exactly the production Deployment's current pods."""
    current = new_replica_set(primary, await owned_replica_sets(api, primary))
    pod_hash = (current or {}).get("metadata", {}).get("labels", {}).get(HASH_LABEL)
    if not pod_hash:
        raise TargetError(
            f"deployment {primary['metadata']['name']} has no current ReplicaSet to pin traffic to"
        )
    return {HASH_LABEL: pod_hash}


async def set_selector(
    api: KubeApi, config: KubernetesTargetConfig, extra: dict[str, str] | None, weights: str | None
) -> None:
    """Production Service selector := original + `extra` (None: the original, unpinned)."""
    service = await find_service(api, config.service_name)
    if service is None:
        raise TargetError(f"service {config.service_name} not found in namespace {api.namespace}")
    original = original_selector(service)
    notes: dict[str, str | None] = {
        ORIGINAL_SELECTOR: json.dumps(original, sort_keys=True) if extra else None,
        WEIGHTS: weights,
    }
    # A merge patch: a selector key set to null is removed, so the original comes back.
    selector: dict[str, str | None] = {k: None for k in service["spec"].get("selector") or {}}
    selector |= original | (extra or {})
    await api.call(
        f"switching the selector of service {config.service_name}",
        api.core.patch_namespaced_service,
        config.service_name,
        api.namespace,
        {"metadata": {"annotations": notes}, "spec": {"selector": selector}},
        _content_type="application/merge-patch+json",
    )


async def create_staged(
    api: KubeApi, config: KubernetesTargetConfig, primary: Obj, service: Obj, body: Obj
) -> None:
    """Pin production traffic to the production pods, then create the staged objects."""
    await set_selector(api, config, await production_pin(api, primary), None)
    if await find_service(api, config.staged_service) is None:
        await api.call(
            f"creating preview service {config.staged_service}",
            api.core.create_namespaced_service,
            api.namespace,
            preview_body(service, config),
        )
    if await find_deployment(api, config.staged_deployment) is None:
        await api.call(
            f"creating deployment {config.staged_deployment}",
            api.apps.create_namespaced_deployment,
            api.namespace,
            body,
        )


async def scale(api: KubeApi, name: str, replicas: int) -> None:
    """Set Deployment `name`'s replicas (a merge patch of `spec.replicas` only)."""
    await api.call(
        f"scaling deployment {name} to {replicas}",
        api.apps.patch_namespaced_deployment,
        name,
        api.namespace,
        {"spec": {"replicas": replicas}},
        _content_type="application/merge-patch+json",
    )


async def remove_staged(api: KubeApi, config: KubernetesTargetConfig, service: Obj | None) -> None:
    """Scale the staged version to 0, wait for its pods to go, delete it, unpin production."""
    staged = await find_deployment(api, config.staged_deployment)
    if staged is not None:
        if staged["spec"].get("replicas", 1):
            await scale(api, config.staged_deployment, 0)
        selector = staged["spec"].get("selector") or {}
        deadline = time.monotonic() + config.progress_timeout_s
        # Deleting first would leave the pods serving through the original selector for
        # their grace period; they go before production gets that selector back.
        while time.monotonic() < deadline:
            if not await pods_matching(api, selector):
                break
            await asyncio.sleep(config.poll_interval_s)
        await api.call(
            f"deleting deployment {config.staged_deployment}",
            api.apps.delete_namespaced_deployment,
            config.staged_deployment,
            api.namespace,
        )
    if await find_service(api, config.staged_service) is not None:
        await api.call(
            f"deleting preview service {config.staged_service}",
            api.core.delete_namespaced_service,
            config.staged_service,
            api.namespace,
        )
    if service is not None:
        await set_selector(api, config, None, None)


async def fold_into_production(
    api: KubeApi,
    config: KubernetesTargetConfig,
    primary: Obj,
    staged: Obj,
    container: str,
    service: Obj | None,
) -> None:
    """After the staged version was promoted: make the production Deployment run it.

    While the Service still sends everything to the staged pods, the production Deployment
    is rolled to the staged image (the same verified image, recorded like any rolling
    update); then the Service gets its own selector back and the staged Deployment goes.
    """
    template = staged["spec"]["template"]
    notes = (template.get("metadata") or {}).get("annotations") or {}
    image = template["spec"]["containers"][container_index(template, container)]["image"]
    label = str(notes.get(VERSION) or annotations_of(staged).get(VERSION) or image)
    await rolling.rolling_update(
        api, config, primary, container, image=image, label=label, ref=str(notes.get(REF, ""))
    )
    await set_selector(api, config, None, None)
    if config.canary_mode == "gateway":
        await canary.set_route_weights(api, config, 100, None)
    await remove_staged(api, config, service)
