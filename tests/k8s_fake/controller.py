"""A tiny kube-controller-manager + kubelet: Deployments -> ReplicaSets -> Pods, every tick.

Follows the real deployment controller where kubectl can see it: a template change creates
a ReplicaSet with the next `deployment.kubernetes.io/revision` and a `pod-template-hash`
label (a template equal to an old ReplicaSet's re-uses it and bumps its revision, which is
what `rollout undo` relies on); the rolling update honours maxSurge / maxUnavailable
(defaults 25 % / 25 %); the Progressing condition moves through NewReplicaSetCreated,
ReplicaSetUpdated, NewReplicaSetAvailable and, without progress for
`progressDeadlineSeconds` (times `deadline_scale`), ProgressDeadlineExceeded.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from . import pods as kubelet
from .replicasets import (
    HISTORY,
    NOT_COPIED,
    REVISION,
    create_replica_set,
    omit_zero,
    owned_by,
    pods_of,
    revision,
    set_condition,
    sync_replica_set,
    without_hash,
)
from .store import Obj, Store, matches_labels


def _scaled(value: Any, desired: int, default: str, round_up: bool) -> int:
    value = default if value is None else value
    if isinstance(value, int):
        return value
    fraction = desired * int(str(value).rstrip("%")) / 100
    return math.ceil(fraction) if round_up else math.floor(fraction)


class Controller:
    """Runs the reconcile loop in a thread until `stop()`."""

    def __init__(
        self,
        store: Store,
        emit: Callable[[Obj, str, str, str], None],
        behaviours: dict[str, kubelet.Behaviour],
        *,
        tick_s: float = 0.03,
        deadline_scale: float = 1.0,
    ) -> None:
        self.store = store
        self.emit = emit
        self.behaviours = behaviours
        self.tick_s = tick_s
        self.deadline_scale = deadline_scale
        self.sims: dict[str, kubelet.PodSim] = {}
        self._progress_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="k8s-fake-controller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            self.tick()

    def tick(self) -> None:
        with self.store.lock:
            self._collect_garbage()
            for pod in self.store.items("pods"):
                sim = self.sims.setdefault(pod["metadata"]["uid"], kubelet.PodSim(self.behaviours))
                kubelet.advance(pod, sim, self.emit)
                self.store.touch(pod)
            for deployment in self.store.items("deployments"):
                self._sync_deployment(deployment)
            for rs in self.store.items("replicasets"):
                sync_replica_set(self.store, self.emit, rs)

    def _collect_garbage(self) -> None:
        owners = {
            o["metadata"]["uid"]
            for r in ("deployments", "replicasets")
            for o in self.store.items(r)
        }
        for resource in ("replicasets", "pods"):
            for obj in self.store.items(resource):
                refs = obj["metadata"].get("ownerReferences") or []
                if refs and not any(ref["uid"] in owners for ref in refs):
                    meta = obj["metadata"]
                    self.store.delete(resource, meta["namespace"], meta["name"])

    # -- ReplicaSets --------------------------------------------------------------------

    # -- Deployments --------------------------------------------------------------------

    def _sync_deployment(self, d: Obj) -> None:
        meta, spec = d["metadata"], d["spec"]
        before = dict(d.get("status") or {})
        rss = [rs for rs in self.store.items("replicasets", meta["namespace"]) if owned_by(rs, d)]
        desired = spec.get("replicas", 1)
        wanted = without_hash(spec["template"])
        new = next((rs for rs in rss if without_hash(rs["spec"]["template"]) == wanted), None)
        top = max((revision(rs) for rs in rss), default=0)
        uid = meta["uid"]
        if spec.get("paused"):
            self._set_progressing(d, "Unknown", "DeploymentPaused", "Deployment is paused")
        elif new is None:
            active = any(rs["spec"].get("replicas", 0) for rs in rss)
            new = create_replica_set(self.store, d, top + 1, 0 if active else desired)
            rss.append(new)
            self._scaled_event(d, new, 0, new["spec"]["replicas"])
            self._set_progressing(
                d,
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{new["metadata"]["name"]}"',
            )
            self._progress_at[uid] = time.monotonic()
        elif revision(new) < top:
            notes = new["metadata"]["annotations"]
            history = [h for h in notes.get(HISTORY, "").split(",") if h]
            notes[HISTORY] = ",".join([*history, str(revision(new))])
            notes |= {
                k: v for k, v in (meta.get("annotations") or {}).items() if k not in NOT_COPIED
            }
            notes[REVISION] = str(top + 1)
            self._set_progressing(
                d,
                "True",
                "FoundNewReplicaSet",
                f'Found new replica set "{new["metadata"]["name"]}"',
            )
            self._progress_at[uid] = time.monotonic()
        if new is not None:
            meta.setdefault("annotations", {})[REVISION] = str(revision(new))
            if not spec.get("paused"):
                self._roll(d, new, [rs for rs in rss if rs is not new], desired)
        self._status(d, new, rss, before)
        self.store.touch(d)

    def _roll(self, d: Obj, new: Obj, olds: list[Obj], desired: int) -> None:
        strategy = d["spec"].get("strategy") or {}
        if strategy.get("type") == "Recreate":
            for old in olds:
                self._scale(d, old, 0)
            if not any(pods_of(self.store, old) for old in olds):
                self._scale(d, new, desired)
            return
        rolling = strategy.get("rollingUpdate") or {}
        surge = _scaled(rolling.get("maxSurge"), desired, "25%", round_up=True)
        unavailable = _scaled(rolling.get("maxUnavailable"), desired, "25%", round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        total = sum(rs["spec"].get("replicas", 0) for rs in [new, *olds])
        current = new["spec"].get("replicas", 0)
        if current < desired:
            self._scale(d, new, min(desired, current + max(0, desired + surge - total)))
        elif current > desired:
            self._scale(d, new, desired)
        min_available = desired - unavailable
        new_ready = sum(kubelet.is_ready(p) for p in pods_of(self.store, new))
        everyone = sum(rs["spec"].get("replicas", 0) for rs in [new, *olds])
        cleanup = everyone - min_available - (new["spec"].get("replicas", 0) - new_ready)
        for old in olds:  # unhealthy old pods first, as the real controller does
            unhealthy = old["spec"].get("replicas", 0) - sum(
                map(kubelet.is_ready, pods_of(self.store, old))
            )
            cut = max(0, min(unhealthy, cleanup))
            if cut:
                self._scale(d, old, old["spec"]["replicas"] - cut)
                cleanup -= cut
        available = sum(kubelet.is_ready(p) for rs in [new, *olds] for p in pods_of(self.store, rs))
        budget = available - min_available
        for old in olds:
            cut = max(0, min(old["spec"].get("replicas", 0), budget))
            if cut:
                self._scale(d, old, old["spec"]["replicas"] - cut)
                budget -= cut

    def _scale(self, d: Obj, rs: Obj, replicas: int) -> None:
        old = rs["spec"].get("replicas", 0)
        if old != replicas:
            rs["spec"]["replicas"] = replicas
            self.store.touch(rs)
            self._scaled_event(d, rs, old, replicas)

    def _scaled_event(self, d: Obj, rs: Obj, old: int, new: int) -> None:
        if old != new:
            way = "up" if new > old else "down"
            self.emit(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {way} replica set {rs['metadata']['name']} from {old} to {new}",
            )

    def _status(self, d: Obj, new: Obj | None, rss: list[Obj], before: Obj) -> None:
        meta, spec = d["metadata"], d["spec"]
        desired = spec.get("replicas", 1)
        pods = {rs["metadata"]["uid"]: pods_of(self.store, rs) for rs in rss}
        total = sum(len(p) for p in pods.values())
        updated = len(pods.get(new["metadata"]["uid"], [])) if new else 0
        ready = sum(kubelet.is_ready(p) for group in pods.values() for p in group)
        spec_total = sum(rs["spec"].get("replicas", 0) for rs in rss)
        status = d.setdefault("status", {})
        conditions = status.get("conditions", [])
        status.clear()
        status.update(
            omit_zero(
                {
                    "observedGeneration": meta["generation"],
                    "replicas": total,
                    "updatedReplicas": updated,
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "unavailableReplicas": max(0, spec_total - ready),
                }
            )
        )
        status["conditions"] = conditions
        avail = ready >= desired - _scaled(
            (spec.get("strategy") or {}).get("rollingUpdate", {}).get("maxUnavailable"),
            desired,
            "25%",
            round_up=False,
        )
        set_condition(
            d,
            "Available",
            "True" if avail else "False",
            "MinimumReplicasAvailable" if avail else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if avail
            else "Deployment does not have minimum availability.",
        )
        if new is None or spec.get("paused"):
            return
        name = new["metadata"]["name"]
        old_left = before.get("replicas", 0) - before.get("updatedReplicas", 0)
        progressed = (
            updated > before.get("updatedReplicas", 0)
            or total - updated < old_left
            or ready > before.get("readyReplicas", 0)
        )
        reason = self._progressing(d).get("reason")
        if updated == desired and total == desired and ready == desired:
            self._set_progressing(
                d,
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.',
            )
        elif progressed:
            self._set_progressing(
                d, "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'
            )
            self._progress_at[meta["uid"]] = time.monotonic()
        elif reason not in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
            deadline = spec.get("progressDeadlineSeconds", 600) * self.deadline_scale
            if time.monotonic() - self._progress_at.get(meta["uid"], time.monotonic()) > deadline:
                self._set_progressing(
                    d,
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{name}" has timed out progressing.',
                )

    def _progressing(self, d: Obj) -> Obj:
        conditions = (d.get("status") or {}).get("conditions", [])
        return next((c for c in conditions if c["type"] == "Progressing"), {})

    def _set_progressing(self, d: Obj, status: str, reason: str, message: str) -> None:
        set_condition(d, "Progressing", status, reason, message)

    def matching_pods(self, namespace: str, selector: dict[str, str]) -> list[Obj]:
        return [
            p
            for p in self.store.items("pods", namespace)
            if matches_labels(p["metadata"].get("labels") or {}, selector)
        ]
