"""The REST surface of the fake API server, as the official Python client calls it.

Paths: `/api/v1/namespaces/<ns>` and `/api/v1/namespaces/<ns>/<resource>[/<name>[/log]]`,
`/apis/<group>/<version>/namespaces/<ns>/<resource>[/<name>]`, and
`/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`. Label and field selectors,
the three patch types, RBAC denials (403 with the real wording) and `Status` errors behave
as the real API server's do; anything else is a 404.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlsplit

from . import dataplane
from .patches import apply_patch
from .pods import PodSim, pod_log
from .store import KINDS, ApiError, Obj, qualified

if TYPE_CHECKING:
    from .cluster import FakeCluster

USER = "system:serviceaccount:ci:deployer"
_GROUPS = {"apps/v1", "gateway.networking.k8s.io/v1"}


class Request:
    """One parsed REST request."""

    def __init__(self, method: str, path: str, query: dict[str, str]) -> None:
        self.method, self.query = method, query
        parts = [p for p in path.split("/") if p]
        self.namespace = self.resource = self.name = self.sub = ""
        if parts[:2] == ["api", "v1"]:
            rest, group_version = parts[2:], "v1"
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            rest, group_version = parts[3:], f"{parts[1]}/{parts[2]}"
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if rest[:1] == ["namespaces"] and len(rest) == 2:
            self.resource, self.name = "namespaces", rest[1]
        elif rest[:1] == ["namespaces"] and len(rest) >= 3:
            self.namespace, self.resource = rest[1], rest[2]
            self.name = rest[3] if len(rest) > 3 else ""
            self.sub = rest[4] if len(rest) > 4 else ""
        elif rest == ["selfsubjectaccessreviews"]:
            self.resource = "selfsubjectaccessreviews"
        if self.resource not in KINDS and self.resource != "selfsubjectaccessreviews":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        expected = KINDS.get(self.resource, ("authorization.k8s.io/v1",))[0]
        if expected != group_version and not (
            group_version in _GROUPS and expected == group_version
        ):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

    @property
    def verb(self) -> str:
        if self.method == "GET":
            return "get" if self.name else "list"
        return {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(
            self.method, self.method.lower()
        )

    @property
    def rbac_resource(self) -> str:
        return f"{self.resource}/{self.sub}" if self.sub else self.resource


def forbidden(
    cluster: FakeCluster, verb: str, resource: str, namespace: str, name: str
) -> ApiError:
    base = resource.split("/")[0]
    group = KINDS.get(base, ("", "", ""))[2]
    subject = f'{qualified(base)} "{name}"' if name else qualified(base)
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{cluster.user}" cannot {verb} resource "{resource}" '
        f'in API group "{group}"{where}'
    )
    return ApiError(403, "Forbidden", message, {"name": name, "group": group, "kind": base})


def handle(cluster: FakeCluster, req: Request, body: Any, content_type: str) -> tuple[int, Any]:
    """Answer one API request: (status, JSON body or text)."""
    if req.resource == "selfsubjectaccessreviews":
        return 201, access_review(cluster, body)
    if (req.verb, req.rbac_resource) in cluster.forbidden:
        raise forbidden(cluster, req.verb, req.rbac_resource, req.namespace, req.name)
    store = cluster.store
    if req.resource == "namespaces":
        return 200, store.get("namespaces", "", req.name)
    if req.method == "POST" and store.find("namespaces", "", req.namespace) is None:
        raise ApiError(404, "NotFound", f'namespaces "{req.namespace}" not found')
    if req.sub == "log" and req.resource == "pods":
        return 200, _log(cluster, req)
    if req.sub:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    if req.method == "GET" and not req.name:
        items = store.list(
            req.resource,
            req.namespace,
            req.query.get("labelSelector"),
            req.query.get("fieldSelector"),
        )
        api_version, kind, _ = KINDS[req.resource]
        return 200, {
            "apiVersion": api_version,
            "kind": f"{kind}List",
            "metadata": {"resourceVersion": "1"},
            "items": items,
        }
    if req.method == "GET":
        return 200, store.get(req.resource, req.namespace, req.name)
    if req.method == "POST":
        return 201, store.create(req.resource, req.namespace, _defaults(req.resource, body))
    if req.method == "DELETE":
        store.delete(req.resource, req.namespace, req.name)
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Success",
            "details": {"name": req.name, "kind": req.resource},
        }
    if req.method == "PATCH":
        with store.lock:
            current = store.get(req.resource, req.namespace, req.name)
            patched = apply_patch(current, body, content_type)
            _validate(req.resource, current, patched)
            return 200, store.replace(req.resource, req.namespace, patched)
    raise ApiError(405, "MethodNotAllowed", f"{req.method} is not supported")


def access_review(cluster: FakeCluster, body: Obj) -> Obj:
    attrs: Obj = (body.get("spec") or {}).get("resourceAttributes") or {}
    resource = attrs.get("resource", "")
    if attrs.get("subresource"):
        resource += "/" + attrs["subresource"]
    allowed = (attrs.get("verb"), resource) not in cluster.forbidden
    status: Obj = {"allowed": allowed}
    if allowed:
        status["reason"] = (
            f'RBAC: allowed by RoleBinding "deployer" of Role "deployer" to {cluster.user}'
        )
    return {**body, "status": status}


def _log(cluster: FakeCluster, req: Request) -> str:
    with cluster.store.lock:
        pod = cluster.store.get("pods", req.namespace, req.name)
        names = [c["name"] for c in pod["spec"].get("containers", [])]
        container = req.query.get("container")
        if container is None and len(names) > 1:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod "
                f"{req.name}, choose one of: [{' '.join(names)}]",
            )
        name = container or names[0]
        if name not in names:
            raise ApiError(400, "BadRequest", f"container {name} is not valid for pod {req.name}")
        status = next(
            (s for s in pod.get("status", {}).get("containerStatuses", []) if s["name"] == name),
            None,
        )
        waiting = (status or {}).get("state", {}).get("waiting", {}).get("reason")
        if waiting in (None, "ContainerCreating", "ErrImagePull", "ImagePullBackOff"):
            why = (
                "trying and failing to pull image"
                if waiting and "Pull" in waiting
                else ("ContainerCreating")
            )
            raise ApiError(
                400,
                "BadRequest",
                f'container "{name}" in pod "{req.name}" is waiting to start: {why}',
            )
        sim = cluster.controller.sims.get(pod["metadata"]["uid"])
        text = pod_log(pod, name, cluster.logs, sim or PodSim(cluster.behaviours))
    tail = req.query.get("tailLines")
    if tail is not None:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-int(tail) :]) if int(tail) else ""
    return text


def _defaults(resource: str, body: Obj) -> Obj:
    if resource == "deployments":
        spec = body.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault(
            "strategy",
            {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        )
        _validate(resource, body, body)
    if resource == "services":
        body.setdefault("spec", {}).setdefault("type", "ClusterIP")
    return body


def _validate(resource: str, before: Obj, after: Obj) -> None:
    if resource != "deployments":
        return
    selector = after["spec"].get("selector", {}).get("matchLabels", {})
    labels = after["spec"]["template"].get("metadata", {}).get("labels", {})
    name = after["metadata"].get("name", "")
    if before["spec"].get("selector") != after["spec"].get("selector"):
        raise ApiError(
            422,
            "Invalid",
            f'Deployment.apps "{name}" is invalid: spec.selector: '
            "Invalid value: field is immutable",
        )
    if any(labels.get(k) != v for k, v in selector.items()):
        raise ApiError(
            422,
            "Invalid",
            f'Deployment.apps "{name}" is invalid: '
            "spec.template.metadata.labels: Invalid value: `selector` does not match "
            "template `labels`",
        )


class FakeHTTPServer(ThreadingHTTPServer):
    """Listens on 127.0.0.1 (an ephemeral port) for one `FakeCluster`."""

    daemon_threads = True

    def __init__(self, cluster: FakeCluster) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.cluster = cluster


class Handler(BaseHTTPRequestHandler):
    """HTTP glue: JSON in, JSON (or text logs) out, errors as `Status`."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; without this, Nagle + delayed ACK add 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        try:
            cluster = cast(FakeHTTPServer, self.server).cluster
            if url.path.startswith(("/_svc/", "/_gw/", "/_metrics/")):
                status, payload = dataplane.route(cluster.plane, url.path, query)
            else:
                cluster.record(self.command, url.path, query, body)
                req = Request(self.command, url.path, query)
                status, payload = handle(cluster, req, body, self.headers.get("Content-Type", ""))
        except ApiError as exc:
            status, payload = exc.code, exc.status()
        except (KeyError, ValueError, TypeError) as exc:
            status, payload = (
                400,
                ApiError(400, "BadRequest", f"{type(exc).__name__}: {exc}").status(),
            )
        if isinstance(payload, str):
            data, kind = payload.encode(), "text/plain"
        else:
            data, kind = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve
