"""How `AppServiceTarget.set_weights` moves traffic: swaps and routing rules.

- 100 % to the production slot's version: remove the routing rule (nothing else to do).
- 100 % to the deployment slot's version: remove the routing rule, then swap — with
  preview when configured (production's slot settings applied to the slot, a health check
  there, then the swap completes; a failed check resets the slot config and nothing
  changed for users). A version this process swapped out goes back by a plain swap: a
  rollback must be fast, and that code was serving production minutes ago.
- a share for each: a routing rule sending that share to the slot's host.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tools.deploy.target import TargetError
from tools.deploy.verification.health import check_health
from tools.deploy.verification.settings import HealthCheckSettings

if TYPE_CHECKING:
    from tools.deploy.targets.appservice.target import AppServiceTarget, _Snapshot


async def apply_weights(target: AppServiceTarget, snap: _Snapshot, wanted: dict[str, int]) -> None:
    """Make production traffic match `wanted` (label -> percent, zeros left out)."""
    cfg, arm = target.config, target.arm
    prod, staged = snap.production_label, snap.slot_label
    known = {prod} | ({staged} if staged and snap.slot_running else set())
    if unknown := sorted(set(wanted) - known):
        raise TargetError(
            f"{', '.join(unknown)} is in neither slot of {cfg.app_name} "
            f"(production: {prod}, {cfg.slot}: {staged if snap.slot_running else 'stopped'})"
        )
    if wanted == {prod: 100}:
        if snap.routing:
            await arm.set_routing(cfg.slot, snap.slot_host, 0)
        return
    assert staged is not None  # wanted names the slot's version, so the slot holds one
    if wanted == {staged: 100}:
        if snap.routing:
            await arm.set_routing(cfg.slot, snap.slot_host, 0)
        if cfg.swap_with_preview and staged not in target._swapped_out:
            await _swap_with_preview(target, snap)
        else:
            await arm.swap(cfg.slot)
        target._swapped_out.add(prod)
        return
    await arm.set_routing(cfg.slot, snap.slot_host, wanted[staged])


async def _swap_with_preview(target: AppServiceTarget, snap: _Snapshot) -> None:
    cfg, arm = target.config, target.arm
    await arm.apply_slot_config(cfg.slot)
    url = target.config.slot_url(cfg.slot, snap.slot_host)
    started = time.monotonic()
    settings = HealthCheckSettings(
        path=cfg.health_path,
        max_wait_s=cfg.preview_check_timeout_s,
        interval_s=cfg.preview_check_interval_s,
    )
    check = await check_health(url, settings)
    details = {"url": url, "passed": check.passed, "message": check.details.get("message")}
    resource = arm.resource(cfg.slot)
    if not check.passed:
        target.log.record(
            "probe",
            "preview_health_check",
            resource,
            mutating=False,
            started=started,
            details=details,
            error=str(details["message"]),
        )
        await arm.reset_slot_config()
        raise TargetError(
            f"swap with preview cancelled: {cfg.slot} failed its health check with "
            f"production's settings ({details['message']}); the slot config was reset and "
            "production was not changed"
        )
    target.log.record(
        "probe",
        "preview_health_check",
        resource,
        mutating=False,
        started=started,
        details=details,
        journal=True,
    )
    try:
        await arm.complete_swap(cfg.slot)
    except TargetError:
        await arm.reset_slot_config()  # do not leave the slot half-configured for production
        raise
