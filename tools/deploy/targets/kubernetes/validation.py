"""Everything checked before the target changes anything, each failure with a clear message.

Order: the settings name a Deployment; the namespace exists; the Deployment exists; it is
not paused; the container to update is unambiguous; its last rollout has finished; the
Service (and HTTPRoute) exist when the strategy needs them; and RBAC allows every verb the
operation will use (asked with SelfSubjectAccessReviews, so a missing permission is found
before the first write, not half-way through). Connection, kubeconfig and context errors
come earlier, from `connect`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tools.deploy.target import TargetError
from tools.deploy.targets.kubernetes._client import KubeApi, KubeError
from tools.deploy.targets.kubernetes._objects import Obj, containers, go_quote
from tools.deploy.targets.kubernetes._reads import find_deployment, find_service
from tools.deploy.targets.kubernetes.rollout_status import RolloutError, deployment_status
from tools.deploy.targets.kubernetes.settings import KubernetesTargetConfig

GATEWAY_GROUP = "gateway.networking.k8s.io"


@dataclass(frozen=True)
class Permission:
    """One verb on one resource, as RBAC rules name them."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""

    def __str__(self) -> str:
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{self.verb} {resource}" + (f" ({self.group})" if self.group else "")


ROLLING = (
    Permission("get", "deployments", "apps"),
    Permission("patch", "deployments", "apps"),
    Permission("list", "replicasets", "apps"),
    Permission("list", "pods"),
    Permission("list", "events"),
    Permission("get", "pods", subresource="log"),
)
STAGED = (
    *ROLLING,
    Permission("create", "deployments", "apps"),
    Permission("delete", "deployments", "apps"),
    Permission("get", "services"),
    Permission("patch", "services"),
    Permission("create", "services"),
    Permission("delete", "services"),
)
GATEWAY = (
    Permission("get", "httproutes", GATEWAY_GROUP),
    Permission("patch", "httproutes", GATEWAY_GROUP),
)


@dataclass(frozen=True)
class Validated:
    """The production Deployment as checked, and the container a new image goes into."""

    deployment: Obj
    container: str
    service: Obj | None


def pick_container(deployment: Obj, wanted: str | None) -> str:
    """The container to update: the named one, or the only one.

    Raises:
        TargetError: The name is unknown, or there are several and none is named.
    """
    name = deployment["metadata"]["name"]
    names = [str(c.get("name")) for c in containers(deployment["spec"]["template"])]
    if wanted:
        if wanted not in names:
            raise TargetError(
                f"container {go_quote(wanted)} not found in deployment {go_quote(name)}; its "
                f"containers: {', '.join(names) or 'none'}"
            )
        return wanted
    if len(names) == 1:
        return names[0]
    raise TargetError(
        f"deployment {go_quote(name)} has {len(names)} containers ({', '.join(names)}) and no "
        "container is configured: set [deploy.kubernetes] container to the one that gets the "
        "new image"
    )


async def validate(
    api: KubeApi,
    config: KubernetesTargetConfig,
    permissions: Iterable[Permission] = ROLLING,
    *,
    need_service: bool = False,
    require_settled: bool = True,
) -> Validated:
    """Check the settings against the cluster; nothing is changed.

    Raises:
        TargetError: The first problem found, in words an operator can act on.
    """
    if not config.deployment:
        raise TargetError("no Deployment is configured: set [deploy.kubernetes] deployment")
    await _namespace_exists(api)
    deployment = await find_deployment(api, config.deployment)
    if deployment is None:
        raise TargetError(await _missing_deployment(api, config.deployment))
    name = config.deployment
    if (deployment.get("spec") or {}).get("paused"):
        raise TargetError(
            f"deployment {go_quote(name)} in namespace {api.namespace} is paused, so a rollout "
            "would not start and `rollout undo` would be refused; resume it first with "
            f"'kubectl rollout resume deployment/{name} -n {api.namespace}'"
        )
    container = pick_container(deployment, config.container)
    if require_settled:
        try:
            status = deployment_status(deployment)
        except RolloutError as exc:
            raise TargetError(
                f"the last rollout of {name} failed ({exc}); undo or fix it first"
            ) from None
        if not status.done:
            raise TargetError(
                f"deployment {go_quote(name)} is still rolling out "
                f"({status.message.strip()}); wait for it to finish first"
            )
    service = None
    if need_service:
        service = await find_service(api, config.service_name)
        if service is None:
            raise TargetError(
                f"service {go_quote(config.service_name)} not found in namespace {api.namespace}; "
                "set [deploy.kubernetes] service to the Service in front of the Deployment"
            )
        if config.canary_mode == "gateway":
            await _route_exists(api, config)
    await check_permissions(api, permissions)
    return Validated(deployment, container, service)


async def check_permissions(api: KubeApi, permissions: Iterable[Permission]) -> None:
    """Ask the API server whether the current identity may do each of `permissions`.

    Raises:
        TargetError: Listing every permission RBAC denies.
    """
    denied: list[str] = []
    for permission in permissions:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": api.namespace,
                    "verb": permission.verb,
                    "group": permission.group,
                    "resource": permission.resource,
                    "subresource": permission.subresource,
                }
            },
        }
        answer = await api.call(
            f"asking whether we may {permission}",
            api.auth.create_self_subject_access_review,
            review,
        )
        if not (answer.get("status") or {}).get("allowed"):
            denied.append(str(permission))
    if denied:
        raise TargetError(
            f"RBAC denies this identity in namespace {api.namespace}: {', '.join(denied)}. "
            "Nothing was changed; grant these in a Role bound to it and retry"
        )


async def _namespace_exists(api: KubeApi) -> None:
    try:
        await api.call(f"reading namespace {api.namespace}", api.core.read_namespace, api.namespace)
    except KubeError as exc:
        if exc.status == 404:
            where = f" (kubeconfig context {api.context!r})" if api.context else ""
            raise TargetError(f"namespace {go_quote(api.namespace)} not found{where}") from None
        if exc.status != 403:  # reading namespaces is a cluster-scope right many lack
            raise


async def _missing_deployment(api: KubeApi, name: str) -> str:
    text = f"deployment {go_quote(name)} not found in namespace {api.namespace}"
    try:
        listed = await api.call(
            "listing deployments", api.apps.list_namespaced_deployment, api.namespace
        )
    except KubeError:
        return text
    names = sorted(str(d["metadata"]["name"]) for d in listed.get("items") or [])
    return text + (f"; deployments there: {', '.join(names)}" if names else "; it has none")


async def _route_exists(api: KubeApi, config: KubernetesTargetConfig) -> None:
    try:
        await api.call(
            f"reading HTTPRoute {config.httproute}",
            api.custom.get_namespaced_custom_object,
            GATEWAY_GROUP,
            "v1",
            api.namespace,
            "httproutes",
            config.httproute,
        )
    except KubeError as exc:
        if exc.status == 404:
            raise TargetError(
                f"HTTPRoute {go_quote(str(config.httproute))} not found in namespace "
                f"{api.namespace}"
            ) from None
        raise
