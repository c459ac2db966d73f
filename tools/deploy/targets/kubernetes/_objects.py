"""Plain-JSON helpers over Kubernetes objects (as the API server returns them), and names.

Objects stay the API server's camelCase JSON throughout the target: what kubectl compares
and patches is that JSON, so the undo works on exactly the same data kubectl would.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from tools.deploy.target import TargetError

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# Ours: on pod templates (which version, from which ref) and on the objects we manage.
VERSION = "hotfix-agent/version"
REF = "hotfix-agent/ref"
TRACK = "hotfix-agent/track"
MANAGED_BY = "hotfix-agent/managed-by"
# On the Deployment: what a rolling update of ours changed, so that only it is undone.
ROLLBACK_MARKER = "hotfix-agent/rollback"
# On the Service: its selector before we narrowed it to one version's pods.
ORIGINAL_SELECTOR = "hotfix-agent/original-selector"
WEIGHTS = "hotfix-agent/weights"

_LABEL_VALUE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def go_quote(text: str) -> str:
    """Go's `%q` for the names kubectl quotes (printable text: a JSON string)."""
    return json.dumps(text, ensure_ascii=False)


def annotations_of(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def revision(obj: Obj) -> int:
    """`deploymentutil.Revision`: the revision annotation, 0 when absent.

    Raises:
        TargetError: The annotation is not an integer.
    """
    value = annotations_of(obj).get(REVISION)
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        raise TargetError(f"strconv.ParseInt: parsing {go_quote(value)}: invalid syntax") from None


def _semantic(value: Any) -> Any:
    # apimachinery's Semantic.DeepEqual treats nil and empty maps/slices as equal.
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def without_hash(template: Obj) -> Obj:
    """A copy of a pod template without the `pod-template-hash` label."""
    out = copy.deepcopy(template)
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return out


def equal_ignore_hash(first: Obj, second: Obj) -> bool:
    """kubectl's `equalIgnoreHash` for two pod templates."""
    return _semantic(without_hash(first)) == _semantic(without_hash(second))


def selector_string(selector: Obj) -> str:
    """`metav1.LabelSelectorAsSelector(...).String()` for the request's labelSelector."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], sorted(expr.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def controlled_by(obj: Obj, owner: Obj) -> bool:
    """`metav1.IsControlledBy`: the controller owner reference names `owner`'s uid."""
    uid = owner["metadata"].get("uid")
    return any(
        ref.get("controller") is True and ref.get("uid") == uid
        for ref in obj["metadata"].get("ownerReferences") or []
    )


def containers(template: Obj) -> list[Obj]:
    return list((template.get("spec") or {}).get("containers") or [])


def container_index(template: Obj, name: str) -> int:
    for index, container in enumerate(containers(template)):
        if container.get("name") == name:
            return index
    raise TargetError(f"container {go_quote(name)} not found")


def image_tag(image: str) -> str:
    """`registry/shop:v1.0.0` -> `v1.0.0`; `shop@sha256:abc…` -> `sha256-abc…` (12 hex)."""
    if "@" in image:
        digest = image.split("@", 1)[1]
        return digest.replace(":", "-")[:19]
    tail = image.rsplit("/", 1)[-1]
    return tail.split(":", 1)[1] if ":" in tail else "latest"


def version_label(template: Obj, container: str, rev: int) -> str:
    """The version a pod template runs: our annotation, else its image tag."""
    meta = template.get("metadata") or {}
    label = (meta.get("annotations") or {}).get(VERSION)
    if label:
        return str(label)
    for item in containers(template):
        if item.get("name") == container:
            return image_tag(str(item.get("image", "")))
    return f"revision-{rev}"


def label_value(text: str) -> str:
    """`text` as a valid label value (63 chars of [A-Za-z0-9-_.], alphanumeric ends)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:63].strip("-_.")
    return cleaned if _LABEL_VALUE.fullmatch(cleaned) else "unnamed"


def describe_deployment(deployment: Obj, container: str) -> dict[str, Any]:
    """The facts about one version's Deployment that go into `TargetState` details."""
    if not deployment:
        return {}
    template = deployment["spec"]["template"]
    image = next((c.get("image") for c in containers(template) if c.get("name") == container), None)
    status = deployment.get("status") or {}
    return {
        "deployment": deployment["metadata"]["name"],
        "revision": revision(deployment),
        "image": image,
        "replicas": deployment["spec"].get("replicas", 1),
        "available": status.get("availableReplicas", 0),
        "change_cause": annotations_of(deployment).get(CHANGE_CAUSE),
    }
