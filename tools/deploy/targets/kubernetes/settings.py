"""Settings of the Kubernetes target: the `[deploy.kubernetes]` table of hotfix.toml.

Production is one Deployment (`deployment`, with the container `container`) behind one
Service (`service`). A rolling update patches that Deployment in place; canary and
blue-green run the new version as a second Deployment, `<deployment>-<staged_suffix>`,
with its own preview Service, and move traffic with the Service selector (and replica
ratios), or with the backend weights of a Gateway API `HTTPRoute` (`canary_mode = "gateway"`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# RFC 1123 label: what Kubernetes accepts as a namespace, Deployment or Service name.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

CanaryMode = Literal["replicas", "gateway"]


class KubernetesTargetConfig(BaseModel):
    """Where the service runs in Kubernetes and how the target reaches and observes it.

    URL templates: `preview_url` takes `{service}`, `{namespace}` and `{label}` (how to reach
    one version directly, e.g. through an ingress per Service); `metrics_url` takes `{label}`,
    `{namespace}` and `{since}` (epoch seconds) and must answer JSON
    `{"requests": n, "errors": n, "latencies_ms": [...]}` for that version since then.
    `image` takes `{label}` and `{ref}`; a `VersionSpec`'s artifact overrides it.
    """

    model_config = ConfigDict(extra="forbid")

    # Connection: a kubeconfig context (None: its current context), or the pod's own
    # service account when running inside the cluster.
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    # None: the context's namespace, else "default".
    namespace: str | None = None
    deployment: str = ""
    # Required when the pod template has several containers.
    container: str | None = None
    # The Service production traffic goes through; None: named like the Deployment.
    service: str | None = None
    image: str | None = None
    canary_mode: CanaryMode = "replicas"
    httproute: str | None = None
    staged_suffix: str = Field(default="canary", min_length=1, max_length=20)
    production_url: str | None = None
    preview_url: str | None = None
    metrics_url: str | None = None
    # Our own bound on one rollout, on top of the Deployment's progressDeadlineSeconds.
    progress_timeout_s: float = Field(default=600.0, gt=0)
    poll_interval_s: float = Field(default=1.0, gt=0)
    # Stop waiting as soon as a new pod cannot start (ImagePullBackOff, InvalidImageName,
    # CreateContainerConfigError) or has restarted `crashloop_restarts` times; 0: only the
    # progress deadline decides.
    fail_fast: bool = True
    crashloop_restarts: int = Field(default=3, ge=0)
    log_lines: int = Field(default=20, ge=0, le=500)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> KubernetesTargetConfig:
        for field in ("namespace", "service", "httproute"):
            value = getattr(self, field)
            if value is not None and not _DNS_LABEL.fullmatch(value):
                raise ValueError(f"{field} {value!r} is not a valid Kubernetes name")
        if self.deployment and not _DNS_LABEL.fullmatch(self.deployment):
            raise ValueError(f"deployment {self.deployment!r} is not a valid Kubernetes name")
        if not _DNS_LABEL.fullmatch(self.staged_suffix):
            raise ValueError(f"staged_suffix {self.staged_suffix!r} is not a valid name part")
        if self.canary_mode == "gateway" and not self.httproute:
            raise ValueError('canary_mode = "gateway" needs httproute (the HTTPRoute to weight)')
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster excludes kubeconfig and context")
        return self

    @property
    def service_name(self) -> str:
        """The production Service."""
        return self.service or self.deployment

    @property
    def staged_deployment(self) -> str:
        """The Deployment a canary or blue-green version runs in."""
        return f"{self.deployment}-{self.staged_suffix}"

    @property
    def staged_service(self) -> str:
        """The preview Service selecting only the staged version's pods."""
        return f"{self.service_name}-{self.staged_suffix}"
