"""`KubernetesTarget`: the deployment `Target` protocol over one Deployment and its Service.

- rolling (native: `rolling_update` / `undo_rolling_update`): the production Deployment is
  patched in place and followed with kubectl's `rollout status` logic; undone with kubectl's
  `rollout undo` algorithm;
- canary and blue-green (`stage` / `set_weights` / `retire`): the new version runs as a
  second Deployment with a preview Service; traffic moves by Service selector and replica
  ratio, or by HTTPRoute weights. Promoting it and retiring the old version rolls the
  production Deployment to the verified template and removes the second Deployment, so
  production ends as it started: one Deployment behind its Service's own selector.

Every operation validates the context, namespace, Deployment, container and RBAC first
(`validation.py`), so bad settings fail before anything changes. The object keeps no state
but its connection: a target built in another process (`hotfix rollback RUN`) sees the same
cluster and can finish what this one started.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.deploy.target import StagedVersion, TargetError, TargetState, VersionMetrics, VersionSpec
from tools.deploy.targets.kubernetes import blue_green, canary, rolling, traffic
from tools.deploy.targets.kubernetes._client import KubeApi, connect
from tools.deploy.targets.kubernetes._objects import describe_deployment, revision
from tools.deploy.targets.kubernetes._objects import version_label as label_of
from tools.deploy.targets.kubernetes._reads import find_deployment, find_service
from tools.deploy.targets.kubernetes.metrics import fetch_metrics
from tools.deploy.targets.kubernetes.settings import KubernetesTargetConfig
from tools.deploy.targets.kubernetes.validation import (
    GATEWAY,
    ROLLING,
    STAGED,
    Validated,
    pick_container,
    validate,
)

if TYPE_CHECKING:
    from kubernetes.client import Configuration


class KubernetesTarget:
    """Versions of one service as Deployments in one namespace of one cluster.

    Args:
        config: The `[deploy.kubernetes]` settings.
        workspace: The service's repository (kubeconfig paths resolve against it).
        client_configuration: A ready `kubernetes.client.Configuration` to use instead of
            the kubeconfig (tests point it at a loopback fake).
    """

    name = "kubernetes"

    def __init__(
        self,
        config: KubernetesTargetConfig,
        *,
        workspace: Path,
        client_configuration: Configuration | None = None,
    ) -> None:
        self.config = config
        self.workspace = workspace
        self._client_configuration = client_configuration
        self._api: KubeApi | None = None

    async def api(self) -> KubeApi:
        """The cluster connection, opened on first use."""
        if self._api is None:
            self._api = await asyncio.to_thread(self._connect)
        return self._api

    def _connect(self) -> KubeApi:
        config = self.config
        if config.kubeconfig and not Path(config.kubeconfig).expanduser().is_absolute():
            path = str(self.workspace / config.kubeconfig)
            config = config.model_copy(update={"kubeconfig": path})
        return connect(config, self._client_configuration)

    def close(self) -> None:
        """Close the connection pool (a later call reopens it)."""
        if self._api is not None:
            self._api.close()
            self._api = None

    @property
    def production_url(self) -> str:
        if not self.config.production_url:
            raise TargetError(
                "set [deploy.kubernetes] production_url: the URL through which production "
                "traffic reaches the Service (health checks and smoke tests go there)"
            )
        return self.config.production_url

    async def validate(self, *, staged: bool = False) -> Validated:
        """Check settings, cluster objects and RBAC for an operation; changes nothing."""
        permissions = STAGED + (GATEWAY if self.config.canary_mode == "gateway" else ())
        return await validate(
            await self.api(), self.config, permissions if staged else ROLLING, need_service=staged
        )

    # -- reads --------------------------------------------------------------------------

    async def _versions(self) -> tuple[KubeApi, traffic.Versions, str]:
        api, cfg = await self.api(), self.config
        primary = await find_deployment(api, cfg.deployment) if cfg.deployment else None
        if primary is None:
            raise TargetError(
                f'deployment "{cfg.deployment}" not found in namespace {api.namespace}'
                if cfg.deployment
                else "set [deploy.kubernetes] deployment"
            )
        container = pick_container(primary, cfg.container)
        staged = await find_deployment(api, cfg.staged_deployment)
        versions = traffic.Versions(
            primary,
            label_of(primary["spec"]["template"], container, revision(primary)),
            staged,
            label_of(staged["spec"]["template"], container, 0) if staged else None,
        )
        return api, versions, container

    async def state(self) -> TargetState:
        """Versions running (production and staged Deployment) and the traffic weights."""
        api, versions, container = await self._versions()
        cfg = self.config
        service = await find_service(api, cfg.service_name) if versions.staged else None
        weights, routing = await traffic.read_weights(api, cfg, versions, service)
        running = {
            versions.primary_label: StagedVersion(
                versions.primary_label,
                self.production_url,
                describe_deployment(versions.primary, container),
            )
        }
        if versions.staged is not None and versions.staged_label is not None:
            running[versions.staged_label] = StagedVersion(
                versions.staged_label,
                self._preview_url(versions.staged_label),
                describe_deployment(versions.staged, container),
            )
        details: dict[str, Any] = {
            "namespace": api.namespace,
            "context": api.context,
            "deployment": cfg.deployment,
            "service": cfg.service_name,
            "canary_mode": cfg.canary_mode,
            "revision": revision(versions.primary),
            "instances": versions.production_replicas,
            **routing,
        }
        return TargetState(self.production_url, weights, running, details)

    async def metrics(self, label: str, since: float) -> VersionMetrics:
        """Requests, errors and latencies of `label` since `since`, from `metrics_url`."""
        return await fetch_metrics(
            self.config.metrics_url, (await self.api()).namespace, label, since
        )

    # -- rolling ------------------------------------------------------------------------

    async def rolling_update(self, version: VersionSpec, *, batch_size: int) -> TargetState:
        """Roll the production Deployment to `version` and wait until kubectl says done.

        `batch_size` is not applied: the Deployment's own maxSurge / maxUnavailable pace the
        rollout (changing them would outlive the undo, which restores only the template).

        Raises:
            TargetError: Validation failed (nothing changed), or the rollout failed (with
                kubectl's status, the revisions and a diagnosis of the new pods).
        """
        checked = await self.validate()
        api, cfg = await self.api(), self.config
        if await find_deployment(api, cfg.staged_deployment) is not None:
            raise TargetError(
                f"{cfg.staged_deployment} (a staged canary / blue-green version) exists; "
                "finish or retire it before a rolling update"
            )
        report = await rolling.rolling_update(
            api,
            cfg,
            checked.deployment,
            checked.container,
            image=self.image_for(version),
            label=version.label,
            ref=version.ref,
        )
        state = await self.state()
        return replace(state, details=state.details | {"rollout": report.to_dict()})

    async def undo_rolling_update(self) -> TargetState:
        """`kubectl rollout undo` of our last rolling update, if it is still the current one."""
        api, _, container = await self._versions()
        report = await rolling.undo_rolling_update(
            api, self.config, self.config.deployment, container
        )
        state = await self.state()
        return replace(state, details=state.details | {"undo": report.to_dict()})

    # -- canary / blue-green ------------------------------------------------------------

    async def stage(self, version: VersionSpec) -> StagedVersion:
        """Run `version` as the staged Deployment (no production traffic) until it is ready.

        Raises:
            TargetError: Validation failed, another version is staged, or its pods did not
                become ready (with a diagnosis).
        """
        cfg = self.config
        if not cfg.preview_url:
            raise TargetError(
                "canary and blue-green need [deploy.kubernetes] preview_url (with {service}): "
                "how the checks reach the staged version's preview Service directly"
            )
        checked = await self.validate(staged=True)
        api, primary = await self.api(), checked.deployment
        current = label_of(primary["spec"]["template"], checked.container, revision(primary))
        if version.label == current:
            raise TargetError(f"{version.label} already runs in deployment {cfg.deployment}")
        existing = await find_deployment(api, cfg.staged_deployment)
        if existing is not None:
            staged_label = label_of(existing["spec"]["template"], checked.container, 0)
            if staged_label != version.label:
                raise TargetError(
                    f"{staged_label} is already staged in {cfg.staged_deployment}; retire it first"
                )
        else:
            assert checked.service is not None  # validated with need_service
            body = blue_green.staged_body(
                primary,
                cfg,
                checked.container,
                self.image_for(version),
                version.label,
                version.ref,
            )
            await blue_green.create_staged(api, cfg, primary, checked.service, body)
        watch = await rolling.follow(api, cfg, cfg.staged_deployment, checked.container)
        staged = await find_deployment(api, cfg.staged_deployment) or {}
        details = describe_deployment(staged, checked.container) | {"rollout": watch.messages}
        return StagedVersion(version.label, self._preview_url(version.label), details)

    async def set_weights(self, weights: dict[str, int]) -> TargetState:
        """Route production traffic by percent between the production and staged versions."""
        for label, value in dict[str, object](weights).items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise TargetError(f"weight of {label} must be an integer 0..100, not {value!r}")
        if sum(weights.values()) != 100:
            raise TargetError(f"weights must sum to 100, not {sum(weights.values())}: {weights}")
        api, versions, container = await self._versions()
        cfg = self.config

        async def staged_ready() -> None:
            await rolling.follow(api, cfg, cfg.staged_deployment, container)

        await traffic.apply_weights(api, cfg, versions, weights, staged_ready)
        return await self.state()

    async def retire(self, label: str) -> None:
        """Stop `label`: delete the staged Deployment, or fold a promoted one into production.

        Retiring the production version (after the staged one was promoted and has all the
        traffic) rolls the production Deployment to the staged template, gives the Service
        its own selector back and deletes the staged Deployment.
        """
        api, versions, container = await self._versions()
        cfg = self.config
        state = await self.state()
        if state.weights.get(label):
            raise TargetError(f"{label} still receives {state.weights[label]}% of traffic")
        service = await find_service(api, cfg.service_name)
        if label == versions.staged_label:
            if cfg.canary_mode == "gateway":  # no route may point at a Service about to go
                await canary.set_route_weights(api, cfg, 100, None)
            await blue_green.remove_staged(api, cfg, service)
        elif label == versions.primary_label and versions.staged is not None:
            await blue_green.fold_into_production(
                api, cfg, versions.primary, versions.staged, container, service
            )
        elif label == versions.primary_label:
            raise TargetError(f"{label} is the only version running; it cannot be retired")

    # -- helpers ------------------------------------------------------------------------

    def image_for(self, version: VersionSpec) -> str:
        """The container image of `version`: its artifact, or the `image` template."""
        if version.artifact:
            return version.artifact
        if self.config.image:
            return self.config.image.replace("{label}", version.label).replace("{ref}", version.ref)
        raise TargetError(
            f"no container image for {version.label}: pass the image as the version's artifact "
            "or set [deploy.kubernetes] image (e.g. registry.example.com/shop:{label})"
        )

    def _preview_url(self, label: str) -> str:
        template = self.config.preview_url or ""
        namespace = self._api.namespace if self._api else (self.config.namespace or "default")
        return (
            template.replace("{service}", self.config.staged_service)
            .replace("{namespace}", namespace)
            .replace("{label}", label)
        )


def build_kubernetes_target(config: KubernetesTargetConfig, workspace: Path) -> KubernetesTarget:
    """The target `[deploy] target = "k8s"` names (nothing connects until the first call)."""
    return KubernetesTarget(config, workspace=workspace)
