"""Settings of the App Service target: the `[deploy.appservice]` table of hotfix.toml.

Production is the app's production slot; each new version goes to one deployment slot
(`slot`, "staging" by default) and reaches users by a swap, or by a share of traffic through
the app's routing rules (`experiments.rampUpRules`) for a canary.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tools.deploy.verifier import is_loopback_url

CredentialKind = Literal[
    "default", "azure_cli", "managed_identity", "environment", "workload_identity", "loopback_test"
]
# Names the App Service slot API reserves; a deployment slot cannot be called so.
_RESERVED_SLOTS = frozenset({"production", "self"})


class AppServiceTargetConfig(BaseModel):
    """Where the app lives in Azure, how a version is packaged, and how it is observed.

    URL templates take `{app}` and `{slot}`. Without `production_url` / `slot_url_template`
    the host names ARM reports (`defaultHostName`) are used over https. Plain `http://`
    endpoints are accepted only on loopback (a protocol fake in tests).
    """

    model_config = ConfigDict(extra="forbid")

    subscription_id: str = ""
    resource_group: str = ""
    app_name: str = ""
    slot: str = Field(default="staging", min_length=1)
    create_slot: bool = True
    # Swap in two phases: production's slot settings applied to the slot, a health check
    # there, then the swap completes (or the slot config is reset to cancel).
    swap_with_preview: bool = False
    credential: CredentialKind = "default"
    arm_endpoint: str = "https://management.azure.com"
    kudu_endpoint_template: str = "https://{app}-{slot}.scm.azurewebsites.net"
    production_url: str | None = None
    slot_url_template: str | None = None
    # The zip built by predeploy: a path or glob relative to the workspace (`{version}`
    # placeholder allowed); the newest match wins. A VersionSpec's artifact overrides it.
    package: str | None = None
    # A container image (`{version}` placeholder allowed) instead of a zip: set as the
    # slot's `linuxFxVersion`, then the slot restarts.
    image: str | None = None
    health_path: str = "/healthz"
    # Paths the target probes on each slot to measure errors and latency for the analysis.
    probe_paths: list[str] = Field(default_factory=lambda: ["/healthz"], min_length=1)
    probe_interval_s: float = Field(default=0.05, gt=0)
    probe_timeout_s: float = Field(default=5.0, gt=0)
    deploy_timeout_s: float = Field(default=900.0, gt=0)
    deploy_poll_interval_s: float = Field(default=2.0, gt=0)
    # The health check on the slot between the two phases of a swap with preview.
    preview_check_timeout_s: float = Field(default=120.0, gt=0)
    preview_check_interval_s: float = Field(default=1.0, ge=0)
    # The app setting carrying the version label; it moves with the code on a swap.
    version_setting: str = "HOTFIX_VERSION"
    # Label of content this target did not deploy (no version setting).
    unversioned_label: str = "unversioned"
    # Dashboards for the handoff; Application Insights as a resource id or a component name.
    app_insights_resource_id: str | None = None
    app_insights_name: str | None = None

    @field_validator("slot")
    @classmethod
    def _deployment_slot(cls, value: str) -> str:
        if value.lower() in _RESERVED_SLOTS:
            raise ValueError(f"{value!r} is not a deployment slot; name the staging slot")
        return value

    @field_validator("arm_endpoint", "production_url")
    @classmethod
    def _https_or_loopback(cls, value: str | None) -> str | None:
        if value is not None:
            require_secure_url(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AppServiceTargetConfig:
        self.kudu_url(self.slot)  # the templates must give https (or loopback) URLs
        self.slot_url(self.slot, None)
        if self.package and self.image:
            raise ValueError("set either `package` (zip deploy) or `image` (container), not both")
        if self.credential == "loopback_test" and not (
            is_loopback_url(self.arm_endpoint) and is_loopback_url(self.kudu_url("app"))
        ):
            raise ValueError("credential 'loopback_test' only works with loopback endpoints")
        return self

    def missing(self) -> list[str]:
        """Names of the settings a deployment needs but that are empty."""
        required = ("subscription_id", "resource_group", "app_name")
        return [name for name in required if not getattr(self, name)]

    def kudu_url(self, slot: str) -> str:
        """Base URL of the slot's Kudu (SCM) site."""
        url = self.kudu_endpoint_template.format(app=self.app_name, slot=slot).rstrip("/")
        require_secure_url(url)
        return url

    def slot_url(self, slot: str, default_host: str | None) -> str:
        """Base URL of the slot's own site (where staged checks go)."""
        if self.slot_url_template:
            url = self.slot_url_template.format(app=self.app_name, slot=slot).rstrip("/")
        elif default_host:
            url = f"https://{default_host}"
        else:
            url = f"https://{self.app_name}-{slot}.azurewebsites.net"
        require_secure_url(url)
        return url

    def prod_url(self, default_host: str | None) -> str:
        """Base URL of production (the app's own host name)."""
        host = default_host or f"{self.app_name}.azurewebsites.net"
        return (self.production_url or f"https://{host}").rstrip("/")


def require_secure_url(url: str) -> None:
    """Refuse anything but https, except http on loopback (protocol fakes).

    Raises:
        ValueError: The URL would send a bearer token or probes in clear text off-machine.
    """
    scheme = urlsplit(url).scheme
    if scheme == "https" or (scheme == "http" and is_loopback_url(url)):
        return
    raise ValueError(f"{url!r} must use https (plain http only on loopback)")
