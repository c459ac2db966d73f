"""`kubectl rollout undo deployment/<name> [--to-revision=N]`, reproduced exactly.

Kubernetes has no rollback API (apps/v1 dropped `rollbackTo`); kubectl's
`DeploymentRollbacker` (k8s.io/kubectl/pkg/polymorphichelpers/rollback.go) does it on the
client: list the ReplicaSets the Deployment controls, pick the one at the previous
`deployment.kubernetes.io/revision` (the second highest, or `--to-revision`), refuse a
paused Deployment, skip when the template already matches, delete `pod-template-hash`
from that ReplicaSet's template, and send one JSON patch replacing `/spec/template` and
`/metadata/annotations` (the Deployment's own revision-bookkeeping annotations kept, the
ReplicaSet's others copied). Error and result texts are kubectl's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from tools.deploy.target import TargetError
from tools.deploy.targets.kubernetes._client import KubeApi, KubeError
from tools.deploy.targets.kubernetes._objects import (
    HASH_LABEL,
    Obj,
    annotations_of,
    equal_ignore_hash,
    go_quote,
    revision,
)
from tools.deploy.targets.kubernetes._reads import (
    new_replica_set,
    owned_replica_sets,
    read_deployment,
    sort_by_creation,
)

ROLLBACK_SUCCESS = "rolled back"
ROLLBACK_SKIPPED = "skipped rollback"
# Kept from the Deployment, never copied from the ReplicaSet (kubectl's annotationsToSkip).
ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


@dataclass(frozen=True)
class UndoResult:
    """What the undo did: kubectl's message, the revisions, and the patch it sent."""

    message: str
    from_revision: int
    to_revision: int
    replica_set: str
    patch: list[Obj]

    @property
    def skipped(self) -> bool:
        return self.message.startswith(ROLLBACK_SKIPPED)


def revision_not_found(to_revision: int) -> TargetError:
    return TargetError(f"unable to find specified revision {to_revision} in history")


def deployment_revision(deployment: Obj, replica_sets: list[Obj], to_revision: int) -> Obj:
    """kubectl's `deploymentRevision`: the ReplicaSet to roll back to.

    Args:
        deployment: The Deployment.
        replica_sets: Its ReplicaSets, old ones by creation time then the new one (the
            order `GetAllReplicaSets` gives; it only matters between equal revisions).
        to_revision: The revision wanted; 0 means the previous (second highest) one.

    Raises:
        TargetError: No such revision, or no previous one (kubectl's wording).
    """
    latest: Obj | None = None
    previous: Obj | None = None
    latest_revision = previous_revision = -1
    for rs in replica_sets:
        try:
            value = revision(rs)
        except TargetError:
            continue  # kubectl skips a ReplicaSet whose revision does not parse
        if to_revision == 0:
            if latest_revision < value:
                previous_revision, previous = latest_revision, latest
                latest_revision, latest = value, rs
            elif previous_revision < value:
                previous_revision, previous = value, rs
        elif to_revision == value:
            return rs
    if to_revision > 0:
        raise revision_not_found(to_revision)
    if previous is None:
        name = go_quote(deployment["metadata"]["name"])
        raise TargetError(f"no rollout history found for deployment {name}")
    return previous


def undo_patch(deployment: Obj, replica_set: Obj) -> list[Obj]:
    """kubectl's `getDeploymentPatch`: the JSON patch restoring `replica_set`'s template."""
    template = copy.deepcopy(replica_set["spec"]["template"])
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    current = annotations_of(deployment)
    restored = {k: current[k] for k in ANNOTATIONS_TO_SKIP if k in current}
    restored |= {
        k: v for k, v in annotations_of(replica_set).items() if k not in ANNOTATIONS_TO_SKIP
    }
    return [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": restored},
    ]


async def rollout_undo(api: KubeApi, name: str, to_revision: int = 0) -> UndoResult:
    """Roll Deployment `name` back as `kubectl rollout undo` does.

    Args:
        api: The cluster connection (namespace included).
        name: The Deployment.
        to_revision: The revision to go back to; 0 means the previous one.

    Raises:
        TargetError: kubectl's refusals (negative or unknown revision, no history, paused).
        KubeError: The API server refused a call.
    """
    if to_revision < 0:
        raise revision_not_found(to_revision)
    try:
        deployment = await read_deployment(api, name)
    except KubeError as exc:
        raise KubeError(f"failed to retrieve Deployment {name}: {exc}", exc.status) from None
    try:
        replica_sets = await owned_replica_sets(api, deployment)
    except KubeError as exc:
        raise KubeError(
            f"failed to retrieve replica sets from deployment {name}: {exc}", exc.status
        ) from None
    newest = new_replica_set(deployment, replica_sets)
    ordered = [rs for rs in sort_by_creation(replica_sets) if rs is not newest]
    target = deployment_revision(deployment, [*ordered, *([newest] if newest else [])], to_revision)
    current = revision(deployment)
    if (deployment.get("spec") or {}).get("paused"):
        raise TargetError(
            "you cannot rollback a paused deployment; resume it first with "
            f"'kubectl rollout resume deployment/{name}' and try again"
        )
    rs_name = target["metadata"]["name"]
    if equal_ignore_hash(target["spec"]["template"], deployment["spec"]["template"]):
        message = f"{ROLLBACK_SKIPPED} (current template already matches revision {to_revision})"
        return UndoResult(message, current, revision(target), rs_name, [])
    patch = undo_patch(deployment, target)
    try:
        await api.call(
            f"restoring revision {revision(target)} of deployment {name}",
            api.apps.patch_namespaced_deployment,
            name,
            api.namespace,
            patch,
            _content_type="application/json-patch+json",
        )
    except KubeError as exc:
        raise KubeError(f"failed restoring revision {to_revision}: {exc}", exc.status) from None
    return UndoResult(ROLLBACK_SUCCESS, current, revision(target), rs_name, patch)
