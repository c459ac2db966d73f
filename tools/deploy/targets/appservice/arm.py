"""ARM operations on one App Service app, through the real `azure-mgmt-web` client.

Every call runs the synchronous SDK in a worker thread, is recorded in the `OperationLog`
(changes and failures journaled, app settings masked) and turns SDK errors into
`TargetError`s that say which operation failed and why. Bodies and results are plain
dicts in ARM's wire shape (the SDK's models accept and return those).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from tools.deploy.target import TargetError
from tools.deploy.targets.appservice._errors import describe_arm_error
from tools.deploy.targets.appservice.credentials import arm_scope, loopback_auth_policy
from tools.deploy.targets.appservice.operations import (
    OperationLog,
    settings_change,
    slot_differences,
)
from tools.deploy.targets.appservice.settings import AppServiceTargetConfig
from tools.deploy.verifier import is_loopback_url

PRODUCTION = "production"


class ArmApp:
    """The `web_apps` operations the App Service target needs, on the configured app."""

    def __init__(self, config: AppServiceTargetConfig, credential: Any, log: OperationLog) -> None:
        self.config = config
        self.credential = credential
        self.log = log
        self._web: Any = None

    @property
    def web(self) -> Any:
        """`WebSiteManagementClient(...).web_apps`, built on first use."""
        if self._web is None:
            from azure.mgmt.web import WebSiteManagementClient  # lazily: ~0.5 s of imports

            endpoint = self.config.arm_endpoint.rstrip("/")
            scope = arm_scope(endpoint)
            options: dict[str, Any] = {"credential_scopes": [scope], "retry_total": 3}
            if endpoint.startswith("http://") and is_loopback_url(endpoint):
                options["authentication_policy"] = loopback_auth_policy(self.credential, scope)
            client = WebSiteManagementClient(
                self.credential, self.config.subscription_id, base_url=endpoint, **options
            )
            self._web = client.web_apps
        return self._web

    def resource(self, slot: str | None = None) -> str:
        """`app` or `app/slots/<slot>`, as recorded."""
        app = self.config.app_name
        return app if slot in (None, PRODUCTION) else f"{app}/slots/{slot}"

    async def _call(
        self,
        operation: str,
        slot: str | None,
        fn: Callable[[], Any],
        *,
        mutating: bool,
        details: Mapping[str, Any] | None = None,
        journal: bool | None = None,
        result_details: Callable[[Any], Mapping[str, Any]] | None = None,
    ) -> Any:
        started = time.monotonic()
        resource = self.resource(slot)
        try:
            result = await asyncio.to_thread(fn)
        except TargetError as exc:
            self.log.record(
                "arm",
                operation,
                resource,
                mutating=mutating,
                started=started,
                details=details,
                error=str(exc),
            )
            raise
        except Exception as exc:  # the SDK, azure-identity and requests raise many types
            message = describe_arm_error(exc, operation, resource)
            self.log.record(
                "arm",
                operation,
                resource,
                mutating=mutating,
                started=started,
                details=details,
                error=message,
            )
            raise TargetError(message) from exc
        if result_details is not None:
            details = {**(details or {}), **result_details(result)}
        self.log.record(
            "arm",
            operation,
            resource,
            mutating=mutating,
            started=started,
            details=details,
            journal=journal,
        )
        return result

    # -- reads ---------------------------------------------------------------------------

    async def site(self) -> dict[str, Any]:
        """The production site resource."""
        rg, app = self.config.resource_group, self.config.app_name
        site = await self._call("web_apps.get", None, lambda: self.web.get(rg, app), mutating=False)
        return dict(site.as_dict())

    async def slot(self, slot: str) -> dict[str, Any] | None:
        """The slot resource, or None when the app has no such slot."""
        from azure.core.exceptions import ResourceNotFoundError

        rg, app = self.config.resource_group, self.config.app_name

        def get() -> Any:
            try:
                return self.web.get_slot(rg, app, slot)
            except ResourceNotFoundError:
                return None

        found = await self._call("web_apps.get_slot", slot, get, mutating=False)
        return None if found is None else dict(found.as_dict())

    async def app_settings(self, slot: str) -> dict[str, str]:
        """The slot's app settings (`production` for the production slot)."""
        rg, app = self.config.resource_group, self.config.app_name
        if slot == PRODUCTION:
            op = "web_apps.list_application_settings"
            result = await self._call(
                op, slot, lambda: self.web.list_application_settings(rg, app), mutating=False
            )
        else:
            op = "web_apps.list_application_settings_slot"
            result = await self._call(
                op,
                slot,
                lambda: self.web.list_application_settings_slot(rg, app, slot),
                mutating=False,
            )
        return {str(k): str(v) for k, v in (result.as_dict().get("properties") or {}).items()}

    async def sticky_setting_names(self) -> set[str]:
        """App-setting and connection-string names that stay with their slot on a swap."""
        rg, app = self.config.resource_group, self.config.app_name
        result = await self._call(
            "web_apps.list_slot_configuration_names",
            None,
            lambda: self.web.list_slot_configuration_names(rg, app),
            mutating=False,
        )
        props = result.as_dict().get("properties") or {}
        names = [*(props.get("appSettingNames") or []), *(props.get("connectionStringNames") or [])]
        return {str(name) for name in names}

    async def slot_differences(self, slot: str) -> list[dict[str, Any]]:
        """Settings that differ between the slot and production, sticky ones marked; masked."""
        rg, app = self.config.resource_group, self.config.app_name
        entity = {"targetSlot": PRODUCTION, "preserveVnet": True}
        sticky = await self.sticky_setting_names()

        def diffs() -> list[dict[str, Any]]:
            found = self.web.list_slot_differences_slot(rg, app, slot, entity)
            return slot_differences([d.as_dict() for d in found], sticky, self.log.redactor)

        # Journaled: what production's sticky settings will do to the new code on a swap.
        return await self._call(
            "web_apps.list_slot_differences_slot",
            slot,
            diffs,
            mutating=False,
            journal=True,
            result_details=lambda out: {"differences": out},
        )

    async def routing_rules(self) -> list[dict[str, Any]]:
        """Production's traffic routing rules (`experiments.rampUpRules`)."""
        rg, app = self.config.resource_group, self.config.app_name
        config = await self._call(
            "web_apps.get_configuration",
            None,
            lambda: self.web.get_configuration(rg, app),
            mutating=False,
        )
        props = config.as_dict().get("properties") or {}
        return list((props.get("experiments") or {}).get("rampUpRules") or [])

    # -- changes -------------------------------------------------------------------------

    async def create_slot(self, slot: str, site: Mapping[str, Any]) -> dict[str, Any]:
        """Create the slot in production's plan and region; waits for ARM to finish."""
        rg, app = self.config.resource_group, self.config.app_name
        props = site.get("properties") or {}
        envelope = {
            "location": site["location"],
            "properties": {"serverFarmId": props.get("serverFarmId")},
        }
        result = await self._call(
            "web_apps.begin_create_or_update_slot",
            slot,
            lambda: self.web.begin_create_or_update_slot(rg, app, slot, envelope).result(),
            mutating=True,
            details={"location": site["location"]},
        )
        return dict(result.as_dict())

    async def update_app_settings(self, slot: str, updates: Mapping[str, str]) -> dict[str, Any]:
        """Merge `updates` into the slot's app settings; returns the recorded change."""
        rg, app = self.config.resource_group, self.config.app_name
        before = await self.app_settings(slot)
        after = {**before, **updates}
        change = settings_change(before, after, self.log.redactor)
        if after != before:
            body = {"properties": after}
            await self._call(
                "web_apps.update_application_settings_slot",
                slot,
                lambda: self.web.update_application_settings_slot(rg, app, slot, body),
                mutating=True,
                details={"app_settings": change},
            )
        return change

    async def set_container_image(self, slot: str, image: str) -> None:
        """Point the slot at a container image (`linuxFxVersion`), then restart it."""
        rg, app = self.config.resource_group, self.config.app_name
        body = {"properties": {"linuxFxVersion": f"DOCKER|{image}"}}
        await self._call(
            "web_apps.update_configuration_slot",
            slot,
            lambda: self.web.update_configuration_slot(rg, app, slot, body),
            mutating=True,
            details={"linuxFxVersion": f"DOCKER|{image}"},
        )
        await self.slot_power(slot, "restart")

    async def slot_power(self, slot: str, action: str) -> None:
        """`start`, `stop` or `restart` the slot."""
        rg, app = self.config.resource_group, self.config.app_name
        method = getattr(self.web, f"{action}_slot")
        await self._call(
            f"web_apps.{action}_slot", slot, lambda: method(rg, app, slot), mutating=True
        )

    async def set_routing(self, slot: str, host: str, percent: int) -> None:
        """Send `percent` % of production traffic to the slot's host (0 removes the rule)."""
        rg, app = self.config.resource_group, self.config.app_name
        rules = (
            []
            if percent == 0
            else [{"name": slot, "actionHostName": host, "reroutePercentage": float(percent)}]
        )
        body = {"properties": {"experiments": {"rampUpRules": rules}}}
        await self._call(
            "web_apps.update_configuration",
            None,
            lambda: self.web.update_configuration(rg, app, body),
            mutating=True,
            details={"rampUpRules": rules},
        )

    async def swap(self, slot: str) -> None:
        """Swap the slot with production (also the way back: the same swap again)."""
        rg, app = self.config.resource_group, self.config.app_name
        entity = {"targetSlot": PRODUCTION, "preserveVnet": True}
        await self._call(
            "web_apps.begin_swap_slot",
            slot,
            lambda: self.web.begin_swap_slot(rg, app, slot, entity).result(),
            mutating=True,
            details={"target_slot": PRODUCTION},
        )

    async def apply_slot_config(self, slot: str) -> None:
        """Swap with preview, phase 1: production's slot settings applied to the slot."""
        rg, app = self.config.resource_group, self.config.app_name
        entity = {"targetSlot": slot, "preserveVnet": True}
        await self._call(
            "web_apps.apply_slot_config_to_production",
            None,
            lambda: self.web.apply_slot_config_to_production(rg, app, entity),
            mutating=True,
            details={"slot": slot},
        )

    async def complete_swap(self, slot: str) -> None:
        """Swap with preview, phase 2: complete the swap into production."""
        rg, app = self.config.resource_group, self.config.app_name
        entity = {"targetSlot": slot, "preserveVnet": True}
        await self._call(
            "web_apps.begin_swap_slot_with_production",
            None,
            lambda: self.web.begin_swap_slot_with_production(rg, app, entity).result(),
            mutating=True,
            details={"slot": slot},
        )

    async def reset_slot_config(self) -> None:
        """Cancel a swap with preview: the slot gets its own settings back."""
        rg, app = self.config.resource_group, self.config.app_name
        await self._call(
            "web_apps.reset_production_slot_config",
            None,
            lambda: self.web.reset_production_slot_config(rg, app),
            mutating=True,
        )
