"""`FakeCluster`: a loopback Kubernetes API server with a tiny controller and data plane.

    with FakeCluster(deadline_scale=0.25) as cluster:
        cluster.add_deployment("shop", image="shop:v1.0.0", replicas=3)
        cluster.add_service("shop", {"app": "shop"})
        cluster.behave("shop:v2-crash", "crash")
        api = kubernetes.client.ApiClient(cluster.client_configuration())

Scenarios are per image (`behave`); RBAC denials per (verb, resource) (`forbid`). Every API
request is recorded, so a test can assert that nothing was changed (`mutations()`).
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .controller import Controller
from .dataplane import DataPlane
from .pods import Behaviour
from .replicasets import owned_by, revision
from .server import USER, FakeHTTPServer
from .store import Obj, Store, now_rfc3339

if TYPE_CHECKING:
    from kubernetes.client import Configuration


@dataclass(frozen=True)
class Recorded:
    """One API request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


class FakeCluster:
    """The fake API server, its controller thread and its data plane."""

    def __init__(self, *, tick_s: float = 0.03, deadline_scale: float = 1.0) -> None:
        self.store = Store()
        self.behaviours: dict[str, Behaviour] = {}
        self.logs: dict[str, list[str]] = {}
        self.forbidden: set[tuple[str, str]] = set()
        self.user = USER
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self.controller = Controller(
            self.store, self.emit, self.behaviours, tick_s=tick_s, deadline_scale=deadline_scale
        )
        self.plane = DataPlane(self.store, self.behaviours)
        self._server = FakeHTTPServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.add_namespace("default")

    # -- lifetime -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeCluster:
        self._thread.start()
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scenario -----------------------------------------------------------------------

    def behave(self, image: str, behaviour: Behaviour, logs: list[str] | None = None) -> None:
        """Pods running `image` will behave so (and print `logs`)."""
        self.behaviours[image] = behaviour
        if logs is not None:
            self.logs[image] = logs

    def forbid(self, verb: str, resource: str) -> None:
        """RBAC: the client's user may not `verb` `resource` (e.g. "patch", "deployments")."""
        self.forbidden.add((verb, resource))

    def record(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        with self._lock:  # a copy: the handler may fill in defaults afterwards
            self.requests.append(Recorded(method, path, query, copy.deepcopy(body)))

    def mutations(self) -> list[Recorded]:
        """Requests that change something (access reviews excluded)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method != "GET" and not r.path.endswith("selfsubjectaccessreviews")
            ]

    def emit(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        """Record an Event about `obj` (repeats bump `count`, as the event recorder does)."""
        meta = obj["metadata"]
        ns = meta.get("namespace", "default")
        with self.store.lock:
            for event in self.store.items("events", ns):
                same = event["involvedObject"].get("uid") == meta.get("uid")
                if same and event["reason"] == reason and event["message"] == message:
                    event["count"] += 1
                    event["lastTimestamp"] = now_rfc3339()
                    return
            self.store.create(
                "events",
                ns,
                {
                    "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}"},
                    "involvedObject": {
                        "kind": obj.get("kind", ""),
                        "namespace": ns,
                        "name": meta["name"],
                        "uid": meta.get("uid", ""),
                        "apiVersion": obj.get("apiVersion", ""),
                    },
                    "reason": reason,
                    "message": message,
                    "type": kind,
                    "count": 1,
                    "firstTimestamp": now_rfc3339(),
                    "lastTimestamp": now_rfc3339(),
                    "source": {"component": "fake-controller"},
                },
            )

    # -- seeding ------------------------------------------------------------------------

    def add_namespace(self, name: str) -> None:
        self.store.create("namespaces", "", {"metadata": {"name": name}, "spec": {}})

    def add_deployment(
        self,
        name: str,
        *,
        image: str | None = None,
        replicas: int = 3,
        namespace: str = "default",
        containers: list[Obj] | None = None,
        labels: dict[str, str] | None = None,
        paused: bool = False,
        progress_deadline_s: int = 600,
        wait: bool = True,
    ) -> Obj:
        """A Deployment (rolled out to revision 1 unless `wait=False`)."""
        labels = labels or {"app": name}
        containers = containers or [
            {"name": name, "image": image or f"{name}:v1.0.0", "ports": [{"containerPort": 8080}]}
        ]
        body = {
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {
                "replicas": replicas,
                "paused": paused,
                "progressDeadlineSeconds": progress_deadline_s,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": dict(labels)},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {"containers": containers, "restartPolicy": "Always"},
                },
            },
        }
        created = self.store.create("deployments", namespace, body)
        if wait and not paused:
            self.wait_for(lambda: self.rolled_out(name, namespace), what=f"{name} rolled out")
        return created

    def add_service(self, name: str, selector: dict[str, str], namespace: str = "default") -> Obj:
        return self.store.create(
            "services",
            namespace,
            {
                "metadata": {"name": name},
                "spec": {"selector": dict(selector), "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )

    def add_httproute(
        self, name: str, backends: list[tuple[str, int]], namespace: str = "default"
    ) -> Obj:
        refs = [{"name": svc, "port": 80, "weight": weight} for svc, weight in backends]
        return self.store.create(
            "httproutes",
            namespace,
            {
                "metadata": {"name": name},
                "spec": {"parentRefs": [{"name": "gateway"}], "rules": [{"backendRefs": refs}]},
            },
        )

    def edit(self, resource: str, name: str, change: Callable[[Obj], None]) -> Obj:
        """Change an object as `kubectl edit` would (no API request recorded)."""
        with self.store.lock:
            obj = self.store.get(resource, "default", name)
            change(obj)
            return self.store.replace(resource, "default", obj)

    # -- observation --------------------------------------------------------------------

    def deployment(self, name: str, namespace: str = "default") -> Obj:
        return self.store.get("deployments", namespace, name)

    def replica_sets(self, name: str, namespace: str = "default") -> list[Obj]:
        """The Deployment's ReplicaSets, by revision."""
        with self.store.lock:
            owner = self.store.get("deployments", namespace, name)
            owned = [rs for rs in self.store.list("replicasets", namespace) if owned_by(rs, owner)]
        return sorted(owned, key=revision)

    def rolled_out(self, name: str, namespace: str = "default") -> bool:
        d = self.deployment(name, namespace)
        status, want = d.get("status") or {}, d["spec"].get("replicas", 1)
        return (
            status.get("observedGeneration", 0) >= d["metadata"]["generation"]
            and status.get("updatedReplicas", 0) == want
            and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
        )

    def wait_for(self, check: Callable[[], bool], *, what: str, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def service_url(self, service: str, namespace: str = "default") -> str:
        return f"{self.url}/_svc/{namespace}/{service}"

    def route_url(self, route: str, namespace: str = "default") -> str:
        return f"{self.url}/_gw/{namespace}/{route}"

    def metrics_url(self, namespace: str = "default") -> str:
        return self.url + "/_metrics/" + namespace + "/{label}?since={since}"

    # -- clients ------------------------------------------------------------------------

    def client_configuration(self) -> Configuration:
        """A `kubernetes.client.Configuration` that talks to this fake over HTTP."""
        from kubernetes.client import Configuration

        config = Configuration(host=self.url)
        config.api_key = {"BearerToken": "Bearer fake-token"}
        return config

    def write_kubeconfig(self, path: Path, contexts: dict[str, str] | None = None) -> Path:
        """A kubeconfig with `contexts` (name -> namespace) all pointing at this fake."""
        contexts = contexts or {"fake": "default"}
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "deployer", "user": {"token": "fake-token"}}],
            "contexts": [
                {"name": ctx, "context": {"cluster": "fake", "user": "deployer", "namespace": ns}}
                for ctx, ns in contexts.items()
            ],
            "current-context": next(iter(contexts)),
        }
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        return path
