"""The fake cluster's data plane: requests through a Service or an HTTPRoute reach ready pods.

`/_svc/<ns>/<service>/<path>` picks a ready pod the Service's selector matches at random
(as kube-proxy does),
`/_gw/<ns>/<route>/<path>` first picks a backend Service by the route's weights. The pod
answers as its image's behaviour says, and every answer is counted per version label (the
pod's `hotfix-agent/version` annotation, else its image tag) for `/_metrics/<ns>/<label>`,
which answers `{"requests", "errors", "latencies_ms"}` since `?since=<epoch s>`.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from .pods import Behaviour, is_ready
from .store import ApiError, Obj, Store, matches_labels

VERSION_ANNOTATION = "hotfix-agent/version"


def version_of(pod: Obj) -> str:
    """The version label a pod serves."""
    annotations = pod["metadata"].get("annotations") or {}
    if annotations.get(VERSION_ANNOTATION):
        return str(annotations[VERSION_ANNOTATION])
    image = str(pod["spec"]["containers"][0]["image"])
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else image


class DataPlane:
    """Routes requests to pods and keeps per-version request samples."""

    def __init__(self, store: Store, behaviours: dict[str, Behaviour]) -> None:
        self.store = store
        self.behaviours = behaviours
        self._lock = threading.Lock()
        self._samples: dict[tuple[str, str], list[tuple[float, int, float]]] = {}

    def via_service(self, namespace: str, service: str, path: str) -> tuple[int, Obj]:
        with self.store.lock:
            svc = self.store.get("services", namespace, service)
            selector: dict[str, str] = svc["spec"].get("selector") or {}
            pods = [
                p
                for p in self.store.items("pods", namespace)
                if selector
                and is_ready(p)
                and matches_labels(p["metadata"].get("labels") or {}, selector)
            ]
            if not pods:
                return 503, {"error": f"no endpoints available for service {service!r}"}
            pod = random.choice(pods)
            label = version_of(pod)
            image = str(pod["spec"]["containers"][0]["image"])
        started = time.perf_counter()
        status = self._answer(self.behaviours.get(image, "ready"), path)
        latency = (time.perf_counter() - started) * 1000 + random.uniform(1.0, 3.0)
        with self._lock:
            self._samples.setdefault((namespace, label), []).append((time.time(), status, latency))
        body = {"version": label, "pod": pod["metadata"]["name"], "path": path}
        return status, body

    def via_route(self, namespace: str, route: str, path: str) -> tuple[int, Obj]:
        obj = self.store.get("httproutes", namespace, route)
        refs: list[Obj] = [
            ref for rule in obj["spec"].get("rules", []) for ref in rule.get("backendRefs", [])
        ]
        weighted = [(ref["name"], int(ref.get("weight", 1))) for ref in refs]
        total = sum(w for _, w in weighted)
        if total <= 0:
            return 503, {"error": f"route {route!r} has no backend with weight"}
        pick = random.uniform(0, total)
        for name, weight in weighted:
            pick -= weight
            if pick <= 0 and weight > 0:
                return self.via_service(namespace, name, path)
        return self.via_service(namespace, weighted[-1][0], path)

    def metrics(self, namespace: str, label: str, since: float) -> dict[str, Any]:
        with self._lock:
            window = [s for s in self._samples.get((namespace, label), []) if s[0] >= since]
        return {
            "label": label,
            "requests": len(window),
            "errors": sum(1 for _, status, _ in window if status >= 500),
            "latencies_ms": [latency for _, _, latency in window],
        }

    @staticmethod
    def _answer(behaviour: Behaviour, path: str) -> int:
        health = path.rstrip("/").endswith("healthz")
        if behaviour == "unhealthy" and health:
            return 500
        if behaviour == "errors" and "checkout" in path:
            return 500
        return 200


def route(plane: DataPlane, path: str, query: dict[str, str]) -> tuple[int, Obj]:
    """Dispatch a data-plane URL (`/_svc/...`, `/_gw/...`, `/_metrics/...`)."""
    parts = path.split("/", 4)  # "", "_svc", ns, name, rest
    if len(parts) < 4:
        raise ApiError(404, "NotFound", f"no data-plane route {path}")
    kind, namespace, name = parts[1], parts[2], parts[3]
    rest = "/" + (parts[4] if len(parts) > 4 else "")
    if kind == "_svc":
        return plane.via_service(namespace, name, rest)
    if kind == "_gw":
        return plane.via_route(namespace, name, rest)
    if kind == "_metrics":
        return 200, plane.metrics(namespace, name, float(query.get("since", "0")))
    raise ApiError(404, "NotFound", f"no data-plane route {path}")
