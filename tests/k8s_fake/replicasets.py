"""The fake's ReplicaSet controller: names, hashes, revisions, and pods to match replicas."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

from . import pods as kubelet
from .store import Obj, Store, now_rfc3339

Emit = Callable[[Obj, str, str, str], None]

REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"
# Deployment annotations the controller does not copy onto its ReplicaSets.
NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        HISTORY,
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj) -> str:
    """fnv-32a of the template, encoded like `rand.SafeEncodeString` (as the controller does)."""
    value = 0x811C9DC5
    for byte in json.dumps(template, sort_keys=True).encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(value))


def revision(obj: Obj) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0") or 0)


def without_hash(template: Obj) -> Obj:
    out = copy.deepcopy(template)
    (out.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    return out


def owned_by(obj: Obj, owner: Obj) -> bool:
    return any(
        ref.get("controller") and ref.get("uid") == owner["metadata"]["uid"]
        for ref in obj["metadata"].get("ownerReferences") or []
    )


def pods_of(store: Store, rs: Obj) -> list[Obj]:
    return [p for p in store.items("pods", rs["metadata"]["namespace"]) if owned_by(p, rs)]


def sync_replica_set(store: Store, emit: Emit, rs: Obj) -> None:
    """Create or delete pods until there are `spec.replicas`; update the status."""
    ns = rs["metadata"]["namespace"]
    pods = pods_of(store, rs)
    want = rs["spec"].get("replicas", 1)
    for _ in range(want - len(pods)):
        pod = store.create("pods", ns, kubelet.new_pod(rs))
        emit(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
    if len(pods) > want:
        doomed = sorted(pods, key=kubelet.is_ready)[: len(pods) - want]  # not ready first
        for pod in doomed:
            store.delete("pods", ns, pod["metadata"]["name"])
            emit(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
    pods = pods_of(store, rs)
    ready = sum(kubelet.is_ready(p) for p in pods)
    rs["status"] = omit_zero(
        {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"]["generation"],
        }
    )
    store.touch(rs)


def create_replica_set(store: Store, d: Obj, rev: int, replicas: int) -> Obj:
    """The ReplicaSet for Deployment `d`'s current template (the live object)."""
    meta, spec = d["metadata"], d["spec"]
    pod_hash = template_hash(spec["template"])
    template = copy.deepcopy(spec["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    selector = copy.deepcopy(spec["selector"])
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in NOT_COPIED}
    annotations |= {
        REVISION: str(rev),
        "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
    }
    rs: Obj = {
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "labels": dict(template["metadata"]["labels"]),
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
    }
    ns, name = meta["namespace"], rs["metadata"]["name"]
    live = store.find("replicasets", ns, name)
    if live is None:
        store.create("replicasets", ns, rs)
        live = store.find("replicasets", ns, name)
    assert live is not None
    return live


def set_condition(d: Obj, kind: str, status: str, reason: str, message: str) -> None:
    conditions: list[Obj] = d.setdefault("status", {}).setdefault("conditions", [])
    now = now_rfc3339()
    for cond in conditions:
        if cond["type"] == kind:
            if cond["status"] != status:
                cond["lastTransitionTime"] = now
            cond.update(status=status, reason=reason, message=message, lastUpdateTime=now)
            return
    conditions.append(
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        }
    )


def omit_zero(values: dict[str, int]) -> dict[str, int]:
    """Zero counts are left out of status, as the API server's `omitempty` does."""
    return {k: v for k, v in values.items() if v}
