"""The native rolling update of the production Deployment, and its undo.

Update: one JSON patch sets the container's image, records the version and ref on the pod
template and a `kubernetes.io/change-cause`, and leaves a marker on the Deployment naming
the revision this update creates and the one before it. Then the rollout is followed with
kubectl's `rollout status` logic; pods that cannot start end the wait early (fail fast)
and every failure carries a diagnosis of the new pods.

Undo: only an update of ours is undone (the marker's revision must be the Deployment's
current one), with kubectl's `rollout undo --to-revision=<the one before>`. A retried undo,
or an undo after an update that never reached the cluster, changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from tools.deploy.target import TargetError
from tools.deploy.targets.kubernetes._client import KubeApi
from tools.deploy.targets.kubernetes._objects import (
    CHANGE_CAUSE,
    HASH_LABEL,
    REF,
    ROLLBACK_MARKER,
    VERSION,
    Obj,
    annotations_of,
    container_index,
    equal_ignore_hash,
    go_quote,
    revision,
)
from tools.deploy.targets.kubernetes._reads import (
    new_replica_set,
    owned_replica_sets,
    read_deployment,
)
from tools.deploy.targets.kubernetes.diagnostics import diagnose
from tools.deploy.targets.kubernetes.rollout_status import (
    RolloutAborted,
    RolloutWatch,
    wait_for_rollout,
)
from tools.deploy.targets.kubernetes.settings import KubernetesTargetConfig
from tools.deploy.targets.kubernetes.undo import rollout_undo


@dataclass
class RolloutReport:
    """What a rollout (or undo) did, for `TargetState.details`."""

    deployment: str
    revision: int
    previous_revision: int | None = None
    image: str | None = None
    messages: list[str] = field(default_factory=list[str])
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def update_patch(
    deployment: Obj, container: str, image: str, label: str, ref: str, marker: Obj
) -> list[Obj]:
    """The JSON patch of a rolling update.

    Guarded by `test` operations: the container at that index is the one named, and the
    annotation maps it replaces are still the ones read (a concurrent edit makes the API
    server refuse the whole patch instead of being overwritten).
    """
    template = deployment["spec"]["template"]
    index = container_index(template, container)
    pod_meta = template.get("metadata") or {}
    pod_notes = dict(pod_meta.get("annotations") or {}) | {VERSION: label, REF: ref}
    notes = annotations_of(deployment) | {
        ROLLBACK_MARKER: json.dumps(marker, sort_keys=True),
        CHANGE_CAUSE: f"hotfix-agent: {label} (ref {ref}, image {image})",
    }
    base = f"/spec/template/spec/containers/{index}"
    ops: list[Obj] = [{"op": "test", "path": f"{base}/name", "value": container}]
    for path, meta in (
        ("/metadata", deployment["metadata"]),
        ("/spec/template/metadata", pod_meta),
    ):
        if "annotations" in meta:
            ops.append({"op": "test", "path": f"{path}/annotations", "value": meta["annotations"]})
    ops += [
        {"op": "replace", "path": f"{base}/image", "value": image},
        {"op": "add", "path": "/metadata/annotations", "value": notes},
    ]
    if "metadata" not in template:
        ops.append({"op": "add", "path": "/spec/template/metadata", "value": {}})
    ops.append({"op": "add", "path": "/spec/template/metadata/annotations", "value": pod_notes})
    return ops


def desired_template(deployment: Obj, container: str, image: str, label: str, ref: str) -> Obj:
    """The pod template the update will produce (to tell "already applied" from "to do")."""
    template = json.loads(json.dumps(deployment["spec"]["template"]))
    template["spec"]["containers"][container_index(template, container)]["image"] = image
    meta = template.setdefault("metadata", {})
    meta["annotations"] = dict(meta.get("annotations") or {}) | {VERSION: label, REF: ref}
    return template


async def follow(
    api: KubeApi, config: KubernetesTargetConfig, name: str, container: str
) -> RolloutWatch:
    """Wait for Deployment `name` with kubectl's status logic; diagnose it if it fails.

    Raises:
        TargetError: kubectl's error (or our timeout / fail-fast reason) and the diagnosis.
    """
    watch = RolloutWatch()

    async def read() -> Obj:
        return await read_deployment(api, name)

    async def fail_fast(deployment: Obj) -> str | None:
        if not config.fail_fast:
            return None
        selector = await _new_pods_selector(api, deployment)
        if selector is None:
            return None
        found = await diagnose(api, selector, container=container, log_lines=0, details=False)
        return found.fatal(config.crashloop_restarts)

    try:
        return await wait_for_rollout(
            read,
            timeout_s=config.progress_timeout_s,
            poll_s=config.poll_interval_s,
            fail_fast=fail_fast,
            watch=watch,
        )
    except TargetError as exc:
        deployment = await read_deployment(api, name)
        selector = await _new_pods_selector(api, deployment)
        found = (
            "no new pods"
            if selector is None
            else (
                await diagnose(api, selector, container=container, log_lines=config.log_lines)
            ).summary()
        )
        # A fail-fast reason is one of the problems the diagnosis lists anyway.
        why = "a new pod cannot start" if isinstance(exc, RolloutAborted) else str(exc).strip()
        raise RolloutFailure(
            f"revision {revision(deployment)} of deployment {name} did not roll out: {why}; "
            f"{found}",
            watch,
        ) from exc


class RolloutFailure(TargetError):
    """A rollout that did not finish; `watch` has kubectl's status lines up to then."""

    def __init__(self, message: str, watch: RolloutWatch) -> None:
        super().__init__(message)
        self.watch = watch


async def _new_pods_selector(api: KubeApi, deployment: Obj) -> Obj | None:
    replica_set = new_replica_set(deployment, await owned_replica_sets(api, deployment))
    if replica_set is None:
        return None
    labels = dict((deployment["spec"].get("selector") or {}).get("matchLabels") or {})
    pod_hash = replica_set["metadata"].get("labels", {}).get(HASH_LABEL)
    return {"matchLabels": labels | ({HASH_LABEL: pod_hash} if pod_hash else {})}


async def rolling_update(
    api: KubeApi,
    config: KubernetesTargetConfig,
    deployment: Obj,
    container: str,
    *,
    image: str,
    label: str,
    ref: str,
) -> RolloutReport:
    """Patch the production Deployment to `image` and follow the rollout to its end.

    Raises:
        RolloutFailure: The rollout did not finish; production is left for the undo.
    """
    name = deployment["metadata"]["name"]
    before = revision(deployment)
    wanted = desired_template(deployment, container, image, label, ref)
    if not equal_ignore_hash(wanted, deployment["spec"]["template"]):
        replica_sets = await owned_replica_sets(api, deployment)
        top = max([before, *(revision(rs) for rs in replica_sets)])
        marker = {"version": label, "from_revision": top + 1, "to_revision": before}
        await api.call(
            f"updating the image of deployment {name}",
            api.apps.patch_namespaced_deployment,
            name,
            api.namespace,
            update_patch(deployment, container, image, label, ref, marker),
            _content_type="application/json-patch+json",
        )
    try:
        watch = await follow(api, config, name, container)
    except RolloutFailure as exc:
        template = deployment["spec"]["template"]
        old = template["spec"]["containers"][container_index(template, container)]["image"]
        raise RolloutFailure(
            f"{exc}; production ran revision {before} ({old}) before this update", exc.watch
        ) from exc
    now = await read_deployment(api, name)
    return RolloutReport(name, revision(now), before, image, watch.messages)


async def undo_rolling_update(
    api: KubeApi, config: KubernetesTargetConfig, name: str, container: str
) -> RolloutReport:
    """Undo our last rolling update of Deployment `name`, if it is still the current one.

    Raises:
        TargetError: kubectl's refusal, or the restored revision did not become available.
    """
    deployment = await _observed(api, config, name)
    current = revision(deployment)
    marker = _marker(deployment)
    if marker is None or marker.get("from_revision") != current:
        note = f"nothing to undo: revision {current} of {name} was not made by this update"
        return RolloutReport(name, current, note=note)
    to_revision = int(marker["to_revision"])
    result = await rollout_undo(api, name, to_revision)
    watch = await follow(api, config, name, container)
    now = await read_deployment(api, name)
    note = f"kubectl rollout undo --to-revision={to_revision}: {result.message}"
    return RolloutReport(name, revision(now), current, None, watch.messages, note)


def _marker(deployment: Obj) -> Obj | None:
    try:
        value = json.loads(annotations_of(deployment).get(ROLLBACK_MARKER, "null"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _observed(api: KubeApi, config: KubernetesTargetConfig, name: str) -> Obj:
    """The Deployment once its controller has seen its latest spec, waiting at most a minute.

    Only then does its revision annotation name the revision that spec runs.
    """
    deadline = time.monotonic() + min(config.progress_timeout_s, 60.0)
    while True:
        deployment = await read_deployment(api, name)
        status = deployment.get("status") or {}
        if int(status.get("observedGeneration", 0)) >= int(deployment["metadata"]["generation"]):
            return deployment
        if time.monotonic() > deadline:
            raise TargetError(
                f"the controller has not observed the latest change of {go_quote(name)}; "
                "cannot tell which revision to undo"
            )
        await asyncio.sleep(config.poll_interval_s)
