"""Swap with preview: production's slot settings applied to the slot, checked, then swapped."""

from __future__ import annotations

from pathlib import Path

from azure_fake.rig import appservice_rig

STAGE = [
    "arm PUT slots/staging",
    "arm PUT slots/staging/config/appsettings",
    "kudu POST staging/api/zipdeploy",
]


def test_swap_with_preview_applies_config_checks_the_slot_then_completes(tmp_path: Path) -> None:
    with appservice_rig(tmp_path, swap_with_preview=True) as rig:
        outcome = rig.deploy("v2", "blue-green")

        assert outcome.status == "deployed", outcome.reason
        assert rig.fake.mutations() == [
            *STAGE,
            "arm POST applySlotConfig",
            "arm POST slotsswap",  # completes the swap started by applySlotConfig
            "arm POST slots/staging/stop",
        ]
        apply = next(r for r in rig.fake.log if r.path == "applySlotConfig")
        assert apply.body == {"targetSlot": "staging", "preserveVnet": True}
        assert rig.serving() == "v2"
        # The slot got its own sticky value back when the swap completed.
        assert rig.fake.app.slots["staging"].settings["DB_MODE"] == "staging"
        checks = [r for r in rig.records() if r.get("operation") == "preview_health_check"]
        assert [c["status"] for c in checks] == ["ok"]


def test_failed_check_in_preview_resets_the_slot_config_and_leaves_production(
    tmp_path: Path,
) -> None:
    with appservice_rig(tmp_path, swap_with_preview=True) as rig:
        outcome = rig.deploy("v2", "blue-green", fail_when={"DB_MODE": "prod"})

        assert outcome.status == "rolled_back"
        assert "swap with preview cancelled" in (outcome.reason or "")
        assert rig.fake.mutations() == [
            *STAGE,
            "arm POST applySlotConfig",
            "arm POST resetSlotConfig",
            "arm POST slots/staging/stop",  # the failed version is retired, never swapped
        ]
        assert rig.serving() == "v1"
        assert rig.fake.app.preview is None
        assert rig.fake.app.slots["staging"].settings["DB_MODE"] == "staging"
        checks = [r for r in rig.records() if r.get("operation") == "preview_health_check"]
        assert [c["status"] for c in checks] == ["error"]
