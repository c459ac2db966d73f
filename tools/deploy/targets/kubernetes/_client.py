"""The connection to the cluster through the official `kubernetes` client, imported lazily.

Calls go through the typed API classes (`AppsV1Api`, `CoreV1Api`, ...) with
`_preload_content=False`, so the target works on the API server's JSON exactly as sent
(what kubectl compares and patches), and each blocking call runs in a worker thread.
`ApiException`s become `KubeError`s whose message says what was being done and why it failed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.deploy.target import TargetError
from tools.deploy.targets.kubernetes.settings import KubernetesTargetConfig

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, Configuration

_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class KubeError(TargetError):
    """A Kubernetes API call failed; `status` is the HTTP status (0: no response)."""

    def __init__(self, message: str, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass
class KubeApi:
    """The typed API groups over one `ApiClient`, bound to a namespace."""

    client: ApiClient
    namespace: str
    context: str | None
    timeout_s: float

    @property
    def apps(self) -> Any:
        from kubernetes.client import AppsV1Api

        return AppsV1Api(self.client)

    @property
    def core(self) -> Any:
        from kubernetes.client import CoreV1Api

        return CoreV1Api(self.client)

    @property
    def custom(self) -> Any:
        from kubernetes.client import CustomObjectsApi

        return CustomObjectsApi(self.client)

    @property
    def auth(self) -> Any:
        from kubernetes.client import AuthorizationV1Api

        return AuthorizationV1Api(self.client)

    @property
    def host(self) -> str:
        return str(self.client.configuration.host)

    async def call(self, doing: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`method(*args, **kwargs)` in a thread; the decoded JSON (or text) it returned.

        Args:
            doing: What the call does, for error messages ("reading deployment shop").
            method: A bound method of one of the typed API classes.

        Raises:
            KubeError: The API server refused, or could not be reached.
        """
        kwargs.setdefault("_request_timeout", self.timeout_s)
        return await asyncio.to_thread(self._call, doing, method, args, kwargs)

    def _call(self, doing: str, method: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = method(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            raise _api_error(doing, exc, self.namespace) from None
        except HTTPError as exc:
            raise KubeError(
                f"cannot reach the Kubernetes API at {self.host} while {doing}: {exc}"
            ) from None
        data: bytes = response.data
        kind = str(response.headers.get("Content-Type", ""))
        if "json" in kind:
            return json.loads(data)
        return data.decode("utf-8", errors="replace")

    def close(self) -> None:
        self.client.close()


def _api_error(doing: str, exc: Any, namespace: str) -> KubeError:
    status = int(exc.status or 0)
    message, reason = str(exc.reason or ""), str(exc.reason or "")
    try:
        body = json.loads(exc.body or "{}")
        message, reason = str(body.get("message") or message), str(body.get("reason") or reason)
    except (ValueError, AttributeError):
        pass
    if status == 403:
        text = (
            f"permission denied (RBAC, HTTP 403) while {doing}: {message}. Grant the "
            f"deploying identity that verb on that resource in namespace {namespace}."
        )
    elif status == 401:
        text = f"not authenticated (HTTP 401) while {doing}: {message}; check the credentials"
    else:
        text = f"{doing} failed (HTTP {status} {reason}): {message}"
    return KubeError(text, status, reason)


def connect(
    config: KubernetesTargetConfig, client_configuration: Configuration | None = None
) -> KubeApi:
    """Open the API client a config describes (blocking: call it in a thread).

    Args:
        config: The target's settings (kubeconfig + context, or in-cluster).
        client_configuration: Use this client configuration instead (tests point it at a
            loopback fake); the namespace then comes from `config.namespace` or "default".

    Raises:
        TargetError: The kubeconfig is missing or unreadable, or names no such context.
    """
    from kubernetes import client
    from kubernetes import config as kube_config

    timeout = config.request_timeout_s
    if client_configuration is not None:
        api = client.ApiClient(client_configuration)
        return KubeApi(api, config.namespace or "default", config.context, timeout)
    settings = client.Configuration()
    if config.in_cluster:
        try:
            kube_config.load_incluster_config(client_configuration=settings)
        except kube_config.ConfigException as exc:
            raise TargetError(
                f"in_cluster is set but this is not a pod with a service account: {exc}"
            ) from None
        namespace = config.namespace or _read(_SA_NAMESPACE) or "default"
        return KubeApi(client.ApiClient(settings), namespace, None, timeout)
    path = str(Path(config.kubeconfig).expanduser()) if config.kubeconfig else None
    try:
        listed: Any = kube_config.list_kube_config_contexts(config_file=path)
        contexts: list[dict[str, Any]] = list(listed[0] or [])
        active: dict[str, Any] = dict(listed[1] or {})
    except (kube_config.ConfigException, OSError) as exc:
        where = path or "the default kubeconfig ($KUBECONFIG or ~/.kube/config)"
        raise TargetError(f"cannot read {where}: {exc}") from None
    names = [str(c["name"]) for c in contexts]
    chosen = config.context or active.get("name")
    entry = next((c for c in contexts if c["name"] == chosen), None)
    if entry is None:
        known = ", ".join(names) or "none"
        raise TargetError(f"unknown kubeconfig context {chosen!r}; the kubeconfig has: {known}")
    try:
        kube_config.load_kube_config(
            config_file=path, context=chosen, client_configuration=settings, persist_config=False
        )
    except (kube_config.ConfigException, OSError, ValueError) as exc:
        raise TargetError(f"cannot use kubeconfig context {chosen!r}: {exc}") from None
    namespace = config.namespace or (entry.get("context") or {}).get("namespace") or "default"
    return KubeApi(client.ApiClient(settings), namespace, chosen, timeout)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
