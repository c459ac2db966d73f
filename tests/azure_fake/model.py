"""The state of one fake App Service app: slots, settings, content, routing, swaps.

Behaviour follows App Service where the target depends on it:
- a swap exchanges content and non-sticky app settings between a slot and production;
  sticky (slot) settings stay with their slot;
- swap with preview (`applySlotConfig`) gives the slot production's sticky settings until
  the swap completes or `resetSlotConfig` restores the slot's own;
- routing rules (`rampUpRules`) send a share of production requests to a slot's host,
  unless the request pins itself with `x-ms-routing-name=self`.
A version's behaviour ships in its zip as `site.json` (see `make_site_zip`), so it moves
with the code on a swap: `fail_when` makes every request fail with 503 while the slot has
the given settings; `error_every` makes every n-th non-health request fail with 500.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

PRODUCTION = "production"


@dataclass
class Slot:
    name: str
    settings: dict[str, str] = field(default_factory=dict[str, str])
    content: dict[str, Any] | None = None  # `site.json` of the deployed zip; None: blank site
    state: str = "Running"
    config: dict[str, Any] = field(default_factory=dict[str, Any])
    saved_sticky: dict[str, str] | None = None  # the slot's own values during a preview
    page_requests: int = 0  # requests other than the health check


@dataclass
class Faults:
    """Failures a scenario asks for."""

    swap_conflicts: int = 0  # the next N swaps answer 409 Conflict
    deploy_fails: bool = False  # Kudu finishes the next deployments with status 3
    deploy_polls: int = 1  # polls answering "in progress" before a deployment completes


class FakeApp:
    """One web app and its slots; every method is thread-safe."""

    def __init__(
        self,
        name: str,
        *,
        production: dict[str, Any] | None = None,
        settings: dict[str, str] | None = None,
        sticky: dict[str, tuple[str, str]] | None = None,
        slot: str | None = None,
        seed: int = 7,
    ) -> None:
        """Args:
        name: The app's name.
        production: `site.json` of what production serves at the start.
        settings: Production's non-sticky app settings at the start.
        sticky: Sticky settings: name -> (production value, deployment slot value).
        slot: A deployment slot that exists from the start (empty, running).
        """
        self.name = name
        self.location = "westeurope"
        self.server_farm_id = (
            f"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Web/serverfarms/{name}-plan"
        )
        self.lock = threading.RLock()
        self.sticky = set((sticky or {}).keys())
        prod = Slot(PRODUCTION, dict(settings or {}), production)
        self.slots: dict[str, Slot] = {PRODUCTION: prod}
        self._slot_sticky = {k: v[1] for k, v in (sticky or {}).items()}
        prod.settings.update({k: v[0] for k, v in (sticky or {}).items()})
        self.routing: list[dict[str, Any]] = []
        self.faults = Faults()
        self.preview: str | None = None
        self._rng = random.Random(seed)
        if slot is not None:
            self.create_slot(slot)

    def host(self, slot: str) -> str:
        return (
            f"{self.name}.azurewebsites.net"
            if slot == PRODUCTION
            else f"{self.name}-{slot}.azurewebsites.net"
        )

    def create_slot(self, slot: str) -> Slot:
        with self.lock:
            if slot not in self.slots:
                self.slots[slot] = Slot(slot, dict(self._slot_sticky))
            return self.slots[slot]

    # -- swaps --------------------------------------------------------------------------

    def swap(self, slot: str) -> None:
        """Exchange content and non-sticky settings (completes a preview, if any)."""
        with self.lock:
            src, prod = self.slots[slot], self.slots[PRODUCTION]
            if self.preview == slot and src.saved_sticky is not None:
                src.settings.update(src.saved_sticky)  # the slot gets its own sticky values back
                src.saved_sticky = None
            self.preview = None
            src.content, prod.content = prod.content, src.content
            src_free = {k: v for k, v in src.settings.items() if k not in self.sticky}
            prod_free = {k: v for k, v in prod.settings.items() if k not in self.sticky}
            src.settings = {k: v for k, v in src.settings.items() if k in self.sticky} | prod_free
            prod.settings = {k: v for k, v in prod.settings.items() if k in self.sticky} | src_free
            src.config, prod.config = (
                {**src.config, "linuxFxVersion": prod.config.get("linuxFxVersion")},
                {**prod.config, "linuxFxVersion": src.config.get("linuxFxVersion")},
            )

    def apply_slot_config(self, slot: str) -> None:
        with self.lock:
            src, prod = self.slots[slot], self.slots[PRODUCTION]
            if src.saved_sticky is None:
                src.saved_sticky = {k: src.settings.get(k, "") for k in self.sticky}
            src.settings.update({k: prod.settings[k] for k in self.sticky if k in prod.settings})
            self.preview = slot

    def reset_slot_config(self) -> None:
        with self.lock:
            for slot in self.slots.values():
                if slot.saved_sticky is not None:
                    slot.settings.update(slot.saved_sticky)
                    slot.saved_sticky = None
            self.preview = None

    def differences(self, slot: str) -> list[dict[str, Any]]:
        """Slot-vs-production app setting differences, as ARM's `SlotDifference`s."""
        with self.lock:
            mine, theirs = self.slots[slot].settings, self.slots[PRODUCTION].settings
            out: list[dict[str, Any]] = []
            for name in sorted(set(mine) | set(theirs)):
                if mine.get(name) == theirs.get(name):
                    continue
                props = {
                    "level": "Information",
                    "settingType": "AppSetting",
                    "diffRule": "SettingsNotSwapped"
                    if name in self.sticky
                    else "SettingsWillBeSwapped",
                    "settingName": name,
                    "valueInCurrentSlot": mine.get(name),
                    "valueInTargetSlot": theirs.get(name),
                    "description": f"{name} differs",
                }
                out.append({"name": name, "properties": props})
            return out

    # -- the site ----------------------------------------------------------------------

    def route(self, slot: str, pin: str | None) -> str:
        """Which slot serves a request that arrived at `slot`'s host."""
        if slot != PRODUCTION:
            return slot
        if pin is not None:
            return PRODUCTION if pin == "self" else pin
        with self.lock:
            roll = self._rng.uniform(0, 100)
            for rule in self.routing:
                target = next(
                    (s for s in self.slots if self.host(s) == rule.get("actionHostName")), None
                )
                share = float(rule.get("reroutePercentage") or 0)
                if target is not None and roll < share:
                    return target
                roll -= share
        return PRODUCTION

    def serve(
        self, slot: str, path: str, health_path: str = "/healthz"
    ) -> tuple[int, dict[str, Any]]:
        """Status and JSON body of one request served by `slot`."""
        with self.lock:
            site = self.slots.get(slot)
            if site is None or site.state != "Running":
                return 403, {"error": f"site {slot} is stopped"}
            content = site.content
            if content is None:
                return 200, {"page": "default", "slot": slot}
            body = {"version": content.get("version"), "slot": slot}
            fail_when: dict[str, str] = content.get("fail_when") or {}
            if fail_when and all(site.settings.get(k) == v for k, v in fail_when.items()):
                return 503, {**body, "error": "dependency unavailable"}
            every = int(content.get("error_every") or 0)
            if path != health_path:
                site.page_requests += 1
            if every and path != health_path and site.page_requests % every == 0:
                return 500, {**body, "error": "boom"}
            return 200, body
