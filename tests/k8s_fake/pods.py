"""How the fake kubelet runs a pod: per container image, ready, crash-looping or unpullable.

Each controller tick advances every pod one step, so a test sees the same sequence a real
node shows (ContainerCreating -> Running/Ready; Error -> CrashLoopBackOff with a growing
restart count; ErrImagePull -> ImagePullBackOff), with the matching events and logs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .store import Obj, now_rfc3339

# ready: serves 200; errors: ready, but a regression: paths with "checkout" answer 500;
# unhealthy: ready (its readiness probe passes) but /healthz answers 500;
# crash: exits at start (CrashLoopBackOff); pull: the image cannot be pulled.
Behaviour = Literal["ready", "errors", "unhealthy", "crash", "pull"]

READY_AFTER_TICKS = 2
CRASH_PERIOD_TICKS = 3
EventSink = Callable[[Obj, str, str, str], None]  # (object, type, reason, message)


def crash_log(image: str) -> list[str]:
    return [
        f"starting {image}",
        "Traceback (most recent call last):",
        '  File "/app/app.py", line 12, in <module>',
        "KeyError: 'DATABASE_URL'",
    ]


@dataclass
class PodSim:
    """What the fake kubelet knows about one pod."""

    behaviours: dict[str, Behaviour]
    ticks: int = 0
    restarts: dict[str, int] = field(default_factory=dict[str, int])

    def behaviour(self, image: str) -> Behaviour:
        return self.behaviours.get(image, "ready")


def new_pod(rs: Obj) -> Obj:
    """A pod for ReplicaSet `rs`, just scheduled."""
    template = rs["spec"]["template"]
    meta = template.get("metadata") or {}
    suffix = "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    return {
        "metadata": {
            "name": f"{rs['metadata']['name']}-{suffix}",
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": rs["metadata"]["name"],
                    "uid": rs["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": dict(template["spec"]),
        "status": {"phase": "Pending", "conditions": [_condition("PodScheduled", True)]},
    }


def _condition(kind: str, ok: bool) -> Obj:
    return {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": now_rfc3339()}


def is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def advance(pod: Obj, sim: PodSim, emit: EventSink) -> None:
    """One kubelet step for `pod`."""
    sim.ticks += 1
    statuses: list[Obj] = []
    started = False
    for container in pod["spec"].get("containers", []):
        status, running = _container(pod, container, sim, emit)
        statuses.append(status)
        started = started or running
    ready = all(s["ready"] for s in statuses)
    pull_failed = any(
        s["state"].get("waiting", {}).get("reason") in ("ErrImagePull", "ImagePullBackOff")
        for s in statuses
    )
    pod["status"] = {
        "phase": "Pending" if pull_failed or not (started or sim.ticks > 1) else "Running",
        "conditions": [
            _condition("PodScheduled", True),
            _condition("Initialized", True),
            _condition("ContainersReady", ready),
            _condition("Ready", ready),
        ],
        "containerStatuses": statuses,
        "podIP": "10.1.0.1",
        "startTime": pod.get("status", {}).get("startTime") or now_rfc3339(),
    }


def _container(pod: Obj, container: Obj, sim: PodSim, emit: EventSink) -> tuple[Obj, bool]:
    name, image = container["name"], container["image"]
    behaviour = sim.behaviour(image)
    restarts = sim.restarts.get(name, 0)
    base: dict[str, Any] = {"name": name, "image": image, "imageID": "", "restartCount": restarts}
    if sim.ticks < READY_AFTER_TICKS:
        if sim.ticks == 1:
            emit(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        return {
            **base,
            "ready": False,
            "started": False,
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }, False
    if behaviour == "pull":
        reason = "ErrImagePull" if sim.ticks < READY_AFTER_TICKS + 2 else "ImagePullBackOff"
        if reason == "ErrImagePull":
            emit(
                pod,
                "Warning",
                "Failed",
                f'Failed to pull image "{image}": rpc error: code = '
                f'NotFound desc = failed to pull and unpack image "{image}": not found',
            )
            message = f'rpc error: code = NotFound desc = failed to pull image "{image}"'
        else:
            emit(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"')
            message = f'Back-off pulling image "{image}"'
        return {
            **base,
            "ready": False,
            "started": False,
            "state": {"waiting": {"reason": reason, "message": message}},
        }, False
    if behaviour == "crash":
        if (sim.ticks - READY_AFTER_TICKS) % CRASH_PERIOD_TICKS == 0:
            restarts = sim.restarts[name] = restarts + 1
            base["restartCount"] = restarts
            emit(
                pod,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {name} in "
                f"pod {pod['metadata']['name']}_{pod['metadata'].get('namespace', '')}"
                f"({pod['metadata'].get('uid', '')})",
            )
        waiting = {
            "reason": "CrashLoopBackOff",
            "message": f"back-off 10s restarting failed container={name} "
            f"pod={pod['metadata']['name']}",
        }
        last = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": now_rfc3339()}}
        return {
            **base,
            "ready": False,
            "started": False,
            "state": {"waiting": waiting},
            "lastState": last,
        }, False
    if sim.ticks == READY_AFTER_TICKS:
        emit(pod, "Normal", "Started", f"Started container {name}")
    state = {"running": {"startedAt": now_rfc3339()}}
    return {**base, "ready": True, "started": True, "state": state}, True


def pod_log(pod: Obj, container: str | None, logs: dict[str, list[str]], sim: PodSim) -> str:
    """What `kubectl logs` would print for `container` of `pod`."""
    containers = pod["spec"].get("containers", [])
    chosen = (
        next((c for c in containers if c["name"] == container), None)
        if container
        else (containers[0] if len(containers) == 1 else None)
    )
    if chosen is None:
        raise KeyError(container)
    image = chosen["image"]
    if image in logs:
        lines = logs[image]
    elif sim.behaviour(image) == "crash":
        lines = crash_log(image)
    elif sim.behaviour(image) == "pull":
        lines = []
    else:
        lines = [f"{image} listening on :8080"]
    return "".join(line + "\n" for line in lines)
