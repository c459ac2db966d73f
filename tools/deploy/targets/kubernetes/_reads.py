"""Reads shared by the target's modules: Deployments, their ReplicaSets, pods, Services."""

from __future__ import annotations

from tools.deploy.targets.kubernetes._client import KubeApi, KubeError
from tools.deploy.targets.kubernetes._objects import (
    Obj,
    controlled_by,
    equal_ignore_hash,
    selector_string,
)


async def read_deployment(api: KubeApi, name: str) -> Obj:
    doing = f"reading deployment {name} in namespace {api.namespace}"
    return await api.call(doing, api.apps.read_namespaced_deployment, name, api.namespace)


async def find_deployment(api: KubeApi, name: str) -> Obj | None:
    """The Deployment, or None when it does not exist."""
    try:
        return await read_deployment(api, name)
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


async def find_service(api: KubeApi, name: str) -> Obj | None:
    try:
        return await api.call(
            f"reading service {name}", api.core.read_namespaced_service, name, api.namespace
        )
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


async def owned_replica_sets(api: KubeApi, deployment: Obj) -> list[Obj]:
    """kubectl's `listReplicaSets`: by the Deployment's selector, then by controller ref."""
    selector = selector_string(deployment["spec"].get("selector") or {})
    name = deployment["metadata"]["name"]
    listed = await api.call(
        f"listing the replica sets of deployment {name}",
        api.apps.list_namespaced_replica_set,
        api.namespace,
        label_selector=selector,
    )
    return [rs for rs in listed.get("items") or [] if controlled_by(rs, deployment)]


def sort_by_creation(objects: list[Obj]) -> list[Obj]:
    """Oldest first, names breaking ties (kubectl's `replicaSetsByCreationTimestamp`)."""
    return sorted(
        objects, key=lambda o: (o["metadata"].get("creationTimestamp", ""), o["metadata"]["name"])
    )


def new_replica_set(deployment: Obj, replica_sets: list[Obj]) -> Obj | None:
    """kubectl's `findNewReplicaSet`: the oldest one whose template is the Deployment's."""
    template = deployment["spec"]["template"]
    return next(
        (
            rs
            for rs in sort_by_creation(replica_sets)
            if equal_ignore_hash(rs["spec"]["template"], template)
        ),
        None,
    )


async def pods_matching(api: KubeApi, selector: Obj) -> list[Obj]:
    listed = await api.call(
        "listing pods",
        api.core.list_namespaced_pod,
        api.namespace,
        label_selector=selector_string(selector),
    )
    return list(listed.get("items") or [])
