"""The fake API server's object store: typed-free JSON objects keyed by resource and name.

Objects are stored exactly as the API server would return them (camelCase JSON), with the
server-owned metadata filled in: uid, resourceVersion, creationTimestamp, and a generation
that moves only when `spec` changes. Errors are Kubernetes `Status` objects.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

# resource -> (apiVersion, kind, API group for error messages)
KINDS: dict[str, tuple[str, str, str]] = {
    "namespaces": ("v1", "Namespace", ""),
    "deployments": ("apps/v1", "Deployment", "apps"),
    "replicasets": ("apps/v1", "ReplicaSet", "apps"),
    "pods": ("v1", "Pod", ""),
    "services": ("v1", "Service", ""),
    "events": ("v1", "Event", ""),
    "httproutes": ("gateway.networking.k8s.io/v1", "HTTPRoute", "gateway.networking.k8s.io"),
}


def now_rfc3339() -> str:
    """The current time as the API server writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ApiError(Exception):
    """A request the fake refuses, rendered as a Kubernetes `Status`."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None

    def status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def qualified(resource: str) -> str:
    """`deployments.apps`, `pods`: how the API server names a resource in messages."""
    group = KINDS[resource][2]
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str) -> ApiError:
    group = KINDS[resource][2]
    details = (
        {"name": name, "group": group, "kind": resource}
        if group
        else {"name": name, "kind": resource}
    )
    return ApiError(404, "NotFound", f'{qualified(resource)} "{name}" not found', details)


def matches_labels(labels: dict[str, str], selector: dict[str, str]) -> bool:
    """Equality-based selection (what Services and matchLabels use)."""
    return all(labels.get(key) == value for key, value in selector.items())


def parse_selector(text: str | None) -> dict[str, str]:
    """`a=b,c==d` -> {"a": "b", "c": "d"} (the equality subset of label selectors)."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, _, value = part.replace("==", "=").partition("=")
        out[key.strip()] = value.strip()
    return out


def field_value(obj: Obj, dotted: str) -> str | None:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return None if node is None else str(node)


class Store:
    """Thread-safe objects by resource, namespace and name."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {r: {} for r in KINDS}
        self._rv = itertools.count(1000)

    def _stamp(self, obj: Obj) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self._rv))

    def create(self, resource: str, namespace: str, obj: Obj) -> Obj:
        with self.lock:
            obj = copy.deepcopy(obj)
            api_version, kind, _ = KINDS[resource]
            obj["apiVersion"], obj["kind"] = api_version, kind
            meta = obj.setdefault("metadata", {})
            name = meta.get("name")
            if not name:
                raise ApiError(422, "Invalid", f"{kind} is invalid: metadata.name: Required value")
            if (namespace, name) in self._objects[resource]:
                raise ApiError(
                    409, "AlreadyExists", f'{qualified(resource)} "{name}" already exists'
                )
            if resource != "namespaces":
                meta["namespace"] = namespace
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if "spec" in obj:
                meta["generation"] = 1
            self._stamp(obj)
            self._objects[resource][(namespace, name)] = obj
            return copy.deepcopy(obj)

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self._objects[resource].get((namespace, name))
            if obj is None:
                raise not_found(resource, name)
            return copy.deepcopy(obj)

    def find(self, resource: str, namespace: str, name: str) -> Obj | None:
        """The live object (no copy) for the controller; None when absent."""
        return self._objects[resource].get((namespace, name))

    def items(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """Live objects (no copies), oldest first (dicts keep insertion order)."""
        return [o for (ns, _), o in self._objects[resource].items() if namespace in (None, ns)]

    def list(
        self, resource: str, namespace: str, labels: str | None = None, fields: str | None = None
    ) -> list[Obj]:
        with self.lock:
            wanted = parse_selector(labels)
            field_rules = parse_selector(fields)
            out: list[Obj] = []
            for obj in self.items(resource, namespace):
                if not matches_labels(obj["metadata"].get("labels") or {}, wanted):
                    continue
                if any(field_value(obj, k) != v for k, v in field_rules.items()):
                    continue
                out.append(copy.deepcopy(obj))
            return out

    def replace(self, resource: str, namespace: str, obj: Obj) -> Obj:
        """Store a changed object; generation moves when its spec changed."""
        with self.lock:
            name = obj["metadata"]["name"]
            old = self._objects[resource].get((namespace, name))
            if old is None:
                raise not_found(resource, name)
            obj = copy.deepcopy(obj)
            for key in ("uid", "creationTimestamp", "namespace", "name"):
                if key in old["metadata"]:
                    obj["metadata"][key] = old["metadata"][key]
            obj["metadata"]["generation"] = old["metadata"].get("generation", 1)
            if "spec" in obj and obj.get("spec") != old.get("spec"):
                obj["metadata"]["generation"] += 1
            obj["status"] = old.get("status", obj.get("status"))
            self._stamp(obj)
            self._objects[resource][(namespace, name)] = obj
            return copy.deepcopy(obj)

    def touch(self, obj: Obj) -> None:
        """A live object changed in place (by the controller): new resourceVersion."""
        with self.lock:
            self._stamp(obj)

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self._objects[resource].pop((namespace, name), None)
            if obj is None:
                raise not_found(resource, name)
            return obj
