"""Why a version's pods are not serving: readiness, restarts, waiting reasons, events, logs.

Used while a rollout is followed (fail fast on pods that cannot start) and when it fails,
so that the failure reason in the journal — and so the report's incident log — says what
an on-call engineer would look up with `kubectl describe pod` and `kubectl logs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.deploy.targets.kubernetes._client import KubeApi, KubeError
from tools.deploy.targets.kubernetes._objects import Obj
from tools.deploy.targets.kubernetes._reads import pods_matching

# Waiting reasons after which a container will not start without a change to the spec.
FATAL_WAITING = frozenset(
    {"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"}
)
_MAX_PODS = 3


@dataclass(frozen=True)
class ContainerReport:
    """One container of one pod, as `kubectl describe pod` shows it."""

    pod: str
    name: str
    ready: bool
    restarts: int
    waiting: str | None
    message: str | None
    last_exit: int | None

    def describe(self) -> str:
        text = f"pod {self.pod} container {self.name}: "
        if self.waiting:
            text += self.waiting
            if self.message and self.waiting not in ("ContainerCreating", "PodInitializing"):
                text += f" ({self.message})"
        else:
            text += "ready" if self.ready else "running, not ready"
        text += f", {self.restarts} restart{'s' if self.restarts != 1 else ''}"
        if self.last_exit is not None:
            text += f", last exit code {self.last_exit}"
        return text


@dataclass
class Diagnosis:
    """What the pods of one version show; `summary()` is one paragraph for the journal."""

    containers: list[ContainerReport] = field(default_factory=list[ContainerReport])
    events: list[str] = field(default_factory=list[str])
    logs: dict[str, list[str]] = field(default_factory=dict[str, list[str]])
    notes: list[str] = field(default_factory=list[str])

    @property
    def pods(self) -> int:
        return len({c.pod for c in self.containers})

    @property
    def ready(self) -> int:
        by_pod: dict[str, bool] = {}
        for c in self.containers:
            by_pod[c.pod] = by_pod.get(c.pod, True) and c.ready
        return sum(by_pod.values())

    def problems(self) -> list[ContainerReport]:
        return [c for c in self.containers if not c.ready or c.restarts]

    def fatal(self, crashloop_restarts: int) -> str | None:
        """A reason to stop waiting now, or None."""
        for c in self.containers:
            if c.waiting in FATAL_WAITING:
                return c.describe()
            crash = c.waiting == "CrashLoopBackOff"
            if crash and crashloop_restarts and c.restarts >= crashloop_restarts:
                return c.describe()
        return None

    def summary(self) -> str:
        parts = [f"{self.ready}/{self.pods} new pods ready"]
        parts += [c.describe() for c in self.problems()[:_MAX_PODS]]
        if self.events:
            parts.append("events: " + "; ".join(self.events[:6]))
        for pod, lines in list(self.logs.items())[:1]:
            if lines:
                parts.append(f"last log lines of {pod}: " + " | ".join(lines))
        parts += self.notes
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pods": self.pods,
            "ready": self.ready,
            "problems": [c.describe() for c in self.problems()],
            "events": self.events,
            "logs": self.logs,
            "notes": self.notes,
        }


def container_reports(pod: Obj) -> list[ContainerReport]:
    """One report per container status of `pod` (one placeholder before it has any)."""
    name = pod["metadata"]["name"]
    reports: list[ContainerReport] = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        terminated = (status.get("lastState") or {}).get("terminated") or {}
        reports.append(
            ContainerReport(
                pod=name,
                name=str(status.get("name", "")),
                ready=bool(status.get("ready")),
                restarts=int(status.get("restartCount", 0)),
                waiting=waiting.get("reason"),
                message=waiting.get("message"),
                last_exit=terminated.get("exitCode"),
            )
        )
    if not reports:  # not scheduled or no status yet
        phase = (pod.get("status") or {}).get("phase", "Unknown")
        reports.append(ContainerReport(name, "-", False, 0, phase, None, None))
    return reports


async def diagnose(
    api: KubeApi,
    selector: Obj,
    *,
    container: str | None,
    log_lines: int,
    details: bool = True,
) -> Diagnosis:
    """Look at the pods `selector` matches; with `details`, their events and logs too.

    Never raises for lack of permission: what could not be read is noted instead.
    """
    diagnosis = Diagnosis()
    try:
        pods = await pods_matching(api, selector)
    except KubeError as exc:
        diagnosis.notes.append(f"pods unavailable: {exc}")
        return diagnosis
    for pod in pods:
        diagnosis.containers += container_reports(pod)
    if not details:
        return diagnosis
    troubled = [p for p in pods if any(not c.ready or c.restarts for c in container_reports(p))]
    for pod in troubled[:_MAX_PODS]:
        diagnosis.events += await _events(api, pod["metadata"]["name"], diagnosis)
    if troubled and log_lines:
        pod_name = troubled[0]["metadata"]["name"]
        diagnosis.logs[pod_name] = await _logs(api, pod_name, container, log_lines, diagnosis)
    return diagnosis


async def _events(api: KubeApi, pod: str, diagnosis: Diagnosis) -> list[str]:
    try:
        listed = await api.call(
            f"listing the events of pod {pod}",
            api.core.list_namespaced_event,
            api.namespace,
            field_selector=f"involvedObject.name={pod}",
        )
    except KubeError as exc:
        diagnosis.notes.append(f"events unavailable: {exc}")
        return []
    warnings = [e for e in listed.get("items") or [] if e.get("type") == "Warning"]
    return [
        f"{e.get('reason')} x{e.get('count', 1)}: {e.get('message', '')}".strip() for e in warnings
    ]


async def _logs(
    api: KubeApi, pod: str, container: str | None, lines: int, diagnosis: Diagnosis
) -> list[str]:
    try:
        text = await api.call(
            f"reading the log of pod {pod}",
            api.core.read_namespaced_pod_log,
            pod,
            api.namespace,
            container=container,
            tail_lines=lines,
        )
    except KubeError as exc:
        diagnosis.notes.append(f"logs of {pod} unavailable: {exc}")
        return []
    return [line for line in str(text).splitlines() if line.strip()][-lines:]
