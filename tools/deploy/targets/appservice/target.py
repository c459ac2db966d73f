"""`AppServiceTarget`: the `Target` protocol over an Azure App Service app and one slot.

- The version serving in a slot is the slot's `HOTFIX_VERSION` app setting, which moves
  with the code on a swap, so the target keeps no state of its own: any process (a resumed
  run, `hotfix rollback`) reads the truth from ARM.
- `stage` deploys to the slot (zip deploy through Kudu, or a container image).
- `set_weights`: 100 % to the slot's version is a swap (with preview when configured);
  a partial share is a routing rule (`experiments.rampUpRules`); 100 % back to the
  production version removes the rule. A rollback after a swap is the same swap again.
- `metrics` come from HTTP probes of each slot (see `_sampler.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.deploy.target import StagedVersion, TargetError, TargetState, VersionMetrics, VersionSpec
from tools.deploy.targets.appservice._sampler import SlotSampler
from tools.deploy.targets.appservice.arm import PRODUCTION, ArmApp
from tools.deploy.targets.appservice.credentials import arm_scope, bearer_token, make_credential
from tools.deploy.targets.appservice.dashboards import portal_links
from tools.deploy.targets.appservice.kudu import KuduClient
from tools.deploy.targets.appservice.operations import OperationLog
from tools.deploy.targets.appservice.package import resolve_package
from tools.deploy.targets.appservice.settings import AppServiceTargetConfig

if TYPE_CHECKING:
    from agent.journal import Journal
    from agent.redaction import Redactor

ROUTING_PIN = "x-ms-routing-name=self"


@dataclass(frozen=True)
class _Snapshot:
    """What ARM says now: who serves in which slot, and the routing share of the slot."""

    production_label: str
    slot_label: str | None
    slot_exists: bool
    slot_running: bool
    slot_host: str
    routing: int
    production_host: str | None


class AppServiceTarget:
    """Versions in the production slot and one deployment slot of an App Service app.

    Args:
        config: The `[deploy.appservice]` settings.
        workspace: Where relative package paths are resolved.
        credential: An azure-identity credential (any `TokenCredential`); by default the
            one `config.credential` names, built on first use.
        journal: The run's journal; every ARM/Kudu change is recorded there.
        redactor: Masks secrets in what is recorded (the journal's own one in a run).
    """

    name = "appservice"

    def __init__(
        self,
        config: AppServiceTargetConfig,
        *,
        workspace: Path,
        credential: Any = None,
        journal: Journal | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.config = config
        self.workspace = workspace
        self._credential = credential
        self.log = OperationLog(journal, redactor)
        self._arm: ArmApp | None = None
        self._site: dict[str, Any] | None = None
        self.sampler = SlotSampler(
            config.probe_paths, config.probe_interval_s, config.probe_timeout_s
        )
        # Labels this process swapped out of production: they go back by a plain swap.
        self._swapped_out: set[str] = set()

    def attach_journal(self, journal: Journal, redactor: Redactor | None = None) -> None:
        """Record ARM and Kudu operations in `journal` from now on (masked by `redactor`)."""
        self.log.journal = journal
        if redactor is not None:
            self.log.redactor = redactor

    @property
    def credential(self) -> Any:
        if self._credential is None:
            self._credential = make_credential(self.config.credential)
        return self._credential

    @property
    def arm(self) -> ArmApp:
        if self._arm is None:
            missing = self.config.missing()
            if missing:
                raise TargetError(
                    "the App Service target is not configured: set "
                    + ", ".join(f"[deploy.appservice] {name}" for name in missing)
                )
            self._arm = ArmApp(self.config, self.credential, self.log)
        return self._arm

    # -- reads ---------------------------------------------------------------------------

    async def _production_site(self) -> dict[str, Any]:
        if self._site is None:  # region, plan and host name do not change under us
            self._site = await self.arm.site()
        return self._site

    async def _snapshot(self) -> _Snapshot:
        cfg, arm = self.config, self.arm
        site = await self._production_site()
        prod_label = (await arm.app_settings(PRODUCTION)).get(cfg.version_setting)
        slot = await arm.slot(cfg.slot)
        slot_label: str | None = None
        if slot is not None:
            slot_label = (await arm.app_settings(cfg.slot)).get(cfg.version_setting)
        props: dict[str, Any] = (slot or {}).get("properties") or {}
        host = props.get("defaultHostName") or f"{cfg.app_name}-{cfg.slot}.azurewebsites.net"
        rules = await arm.routing_rules()
        routing = sum(
            int(rule.get("reroutePercentage") or 0)
            for rule in rules
            if str(rule.get("actionHostName", "")).lower() == host.lower()
        )
        production_label = prod_label or cfg.unversioned_label
        if slot_label is None and production_label != cfg.unversioned_label:
            slot_label = cfg.unversioned_label  # content swapped out from before our time
        return _Snapshot(
            production_label=production_label,
            slot_label=slot_label,
            slot_exists=slot is not None,
            slot_running=slot is not None and props.get("state", "Running") != "Stopped",
            slot_host=host,
            routing=routing,
            production_host=(site.get("properties") or {}).get("defaultHostName"),
        )

    def _slot_url(self, snap: _Snapshot) -> str:
        return self.config.slot_url(self.config.slot, snap.slot_host)

    async def state(self) -> TargetState:
        """Versions in the production slot and the deployment slot, and the routing share."""
        snap = await self._snapshot()
        return self._state(snap)

    def _state(self, snap: _Snapshot) -> TargetState:
        cfg = self.config
        prod_url = cfg.prod_url(snap.production_host)
        prod = snap.production_label
        versions = {prod: StagedVersion(prod, prod_url, {"slot": PRODUCTION})}
        weights = {prod: 100}
        staged = snap.slot_label if snap.slot_running and snap.slot_label != prod else None
        if staged is not None:
            versions[staged] = StagedVersion(staged, self._slot_url(snap), {"slot": cfg.slot})
            if snap.routing > 0:
                weights = {prod: 100 - snap.routing, staged: snap.routing}
        self.sampler.watch(PRODUCTION, prod, f"{prod_url}?{ROUTING_PIN}")
        self.sampler.watch(cfg.slot, staged, self._slot_url(snap))
        return TargetState(
            production_url=prod_url,
            weights=weights,
            versions=versions,
            details={
                "app": cfg.app_name,
                "slot": cfg.slot,
                "slot_host": snap.slot_host,
                "routing_percent": snap.routing,
                "swap_with_preview": cfg.swap_with_preview,
                "azure_operations": len(self.log.entries),
            },
        )

    async def metrics(self, label: str, since: float) -> VersionMetrics:
        """Requests, errors and latencies the slot probes saw for `label` since `since`."""
        await self.state()  # refresh which label serves where
        self.sampler.start()
        return self.sampler.metrics(label, since)

    # -- changes -------------------------------------------------------------------------

    async def stage(self, version: VersionSpec) -> StagedVersion:
        """Deploy `version` to the slot (created or started as needed), no traffic.

        Raises:
            TargetError: The slot is missing and may not be created, it still receives
                production traffic, or the deployment failed (the message says where).
        """
        cfg, arm = self.config, self.arm
        snap = await self._snapshot()
        if version.label == snap.production_label:
            raise TargetError(f"{version.label} already serves production on {cfg.app_name}")
        if snap.routing > 0:
            raise TargetError(
                f"slot {cfg.slot} still receives {snap.routing}% of production traffic "
                f"({snap.slot_label}); finish or roll back that deployment first"
            )
        first = len(self.log.entries)
        if not snap.slot_exists:
            if not cfg.create_slot:
                raise TargetError(
                    f"{cfg.app_name} has no deployment slot {cfg.slot!r} and create_slot is "
                    "off; create the slot or set [deploy.appservice] create_slot = true"
                )
            await arm.create_slot(cfg.slot, await self._production_site())
        elif not snap.slot_running:
            await arm.slot_power(cfg.slot, "start")
        # The label goes first: whatever happens next, the slot no longer claims to hold
        # the version it held before (a rollback must never swap half-deployed code in).
        change = await arm.update_app_settings(
            cfg.slot, {**version.env, cfg.version_setting: version.label}
        )
        deployment = await self._deploy(version)
        differences = await arm.slot_differences(cfg.slot)
        snap = await self._snapshot()
        url = self._slot_url(snap)
        self._state(snap)  # probe both slots under their current labels from now on
        self.sampler.start()
        return StagedVersion(
            version.label,
            url,
            {
                "slot": cfg.slot,
                "app_settings": change,
                "slot_differences": differences,
                "deployment": deployment,
                "azure_operations": [
                    f"{e['service']}:{e['operation']}"
                    for e in self.log.entries[first:]
                    if e["mutating"]
                ],
            },
        )

    async def _deploy(self, version: VersionSpec) -> dict[str, Any]:
        cfg = self.config
        if cfg.image:  # a version's artifact is then an image reference of its own
            image = (version.artifact or cfg.image).replace("{version}", version.label)
            await self.arm.set_container_image(cfg.slot, image)
            return {"image": image}
        pattern = version.artifact or cfg.package
        if not pattern:
            raise TargetError(
                "nothing to deploy: set [deploy.appservice] package (the zip predeploy "
                "builds) or image, or give the version an artifact"
            )
        package = resolve_package(pattern, self.workspace, version.label)
        token = await bearer_token(self.credential, arm_scope(cfg.arm_endpoint))
        kudu = KuduClient(
            cfg.kudu_url(cfg.slot),
            token,
            self.log,
            self.arm.resource(cfg.slot),
            timeout_s=cfg.deploy_timeout_s,
            poll_interval_s=cfg.deploy_poll_interval_s,
        )
        record = await kudu.zip_deploy(package)
        return {"package": str(package), "id": record.get("id"), "status": record.get("status")}

    async def set_weights(self, weights: dict[str, int]) -> TargetState:
        """Route production traffic: swap, routing rule, or routing rule removed.

        Raises:
            TargetError: Invalid weights, a label in neither slot, or ARM refused.
        """
        from tools.deploy.targets.appservice._swap import apply_weights

        for label, value in dict[str, object](weights).items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise TargetError(f"weight of {label} must be an integer 0..100, not {value!r}")
        if sum(weights.values()) != 100:
            raise TargetError(f"weights must sum to 100, not {sum(weights.values())}: {weights}")
        snap = await self._snapshot()
        await apply_weights(self, snap, {k: v for k, v in weights.items() if v})
        return await self.state()

    async def retire(self, label: str) -> None:
        """Stop the slot holding `label` (it keeps its content for the next deployment).

        Raises:
            TargetError: `label` serves production traffic.
        """
        snap = await self._snapshot()
        if label == snap.production_label:
            raise TargetError(f"{label} serves production on {self.config.app_name}")
        if label != snap.slot_label or not snap.slot_running:
            return  # not running here: nothing to stop
        if snap.routing > 0:
            raise TargetError(f"{label} still receives {snap.routing}% of production traffic")
        await self.arm.slot_power(self.config.slot, "stop")
        self.sampler.watch(self.config.slot, None, "")

    async def aclose(self) -> None:
        """Stop the background probes."""
        await self.sampler.aclose()

    def dashboards(self) -> list[dict[str, str]]:
        """Azure portal links for the handoff: the app, and Application Insights if set."""
        return portal_links(self.config)
