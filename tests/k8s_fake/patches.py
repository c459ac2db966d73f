"""The three PATCH flavours the API server accepts, applied to plain JSON.

- `application/json-patch+json`: RFC 6902 (add, remove, replace, test, copy, move);
- `application/merge-patch+json`: RFC 7386;
- `application/strategic-merge-patch+json`: a merge patch in which lists of objects that
  all carry a `name` (containers, env, ports) are merged by name, as Kubernetes does for
  those fields; other lists are replaced.
"""

from __future__ import annotations

import copy
from typing import Any

from .store import ApiError

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def apply_patch(document: Any, patch: Any, content_type: str) -> Any:
    """`document` with `patch` applied; raises ApiError(415/422) as the API server would."""
    kind = content_type.split(";")[0].strip()
    if kind == JSON_PATCH:
        if not isinstance(patch, list):
            raise ApiError(400, "BadRequest", "json patch must be a list of operations")
        return json_patch(document, patch)
    if kind == MERGE_PATCH:
        return merge_patch(document, patch, strategic=False)
    if kind == STRATEGIC_PATCH:
        return merge_patch(document, patch, strategic=True)
    raise ApiError(
        415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {kind}"
    )


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _parent(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request: path {'/'.join(tokens)} not found",
            )
    return node


def _get(doc: Any, path: str) -> Any:
    tokens = _tokens(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    try:
        return parent[int(last)] if isinstance(parent, list) else parent[last]
    except (KeyError, IndexError, ValueError):
        raise ApiError(
            422, "Invalid", f"the server rejected our request: {path} not found"
        ) from None


def _set(doc: Any, path: str, value: Any, *, insert: bool) -> Any:
    tokens = _tokens(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if insert:
            parent.insert(index, value)
        else:
            parent[index] = value
    elif isinstance(parent, dict):
        if not insert and last not in parent:
            raise ApiError(
                422, "Invalid", f"the server rejected our request: replace of missing {path}"
            )
        parent[last] = value
    else:
        raise ApiError(422, "Invalid", f"the server rejected our request: cannot set {path}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _tokens(path)
    parent = _parent(doc, tokens)
    last = tokens[-1]
    try:
        if isinstance(parent, list):
            parent.pop(int(last))
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError):
        raise ApiError(
            422, "Invalid", f"the server rejected our request: remove of missing {path}"
        ) from None
    return doc


def json_patch(document: Any, operations: list[Any]) -> Any:
    doc = copy.deepcopy(document)
    for op in operations:
        name, path = op.get("op"), op.get("path", "")
        if name == "add":
            doc = _set(doc, path, copy.deepcopy(op["value"]), insert=True)
        elif name == "replace":
            doc = _set(doc, path, copy.deepcopy(op["value"]), insert=False)
        elif name == "remove":
            doc = _remove(doc, path)
        elif name == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(
                    422, "Invalid", f"the server rejected our request: test failed at {path}"
                )
        elif name in ("copy", "move"):
            value = copy.deepcopy(_get(doc, op["from"]))
            if name == "move":
                doc = _remove(doc, op["from"])
            doc = _set(doc, path, value, insert=True)
        else:
            raise ApiError(422, "Invalid", f"the server rejected our request: unknown op {name!r}")
    return doc


def _named_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and "name" in item for item in value)
    )


def merge_patch(document: Any, patch: Any, *, strategic: bool) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif strategic and _named_list(value) and _named_list(result.get(key)):
            merged = {item["name"]: item for item in result[key]}
            for item in value:
                merged[item["name"]] = merge_patch(
                    merged.get(item["name"], {}), item, strategic=True
                )
            result[key] = list(merged.values())
        else:
            result[key] = merge_patch(result.get(key), value, strategic=strategic)
    return result
