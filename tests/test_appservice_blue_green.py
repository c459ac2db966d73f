"""Blue-green on App Service: stage in the slot, verify there, swap; swap back on failure.

The real azure-mgmt-web client talks to the protocol fake in `tests/azure_fake`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from azure_fake import FakeCredential
from azure_fake.rig import appservice_rig

from tools.deploy.targets.appservice import AppServiceTargetConfig, build_appservice_target

STAGE = [
    "arm PUT slots/staging",
    "arm PUT slots/staging/config/appsettings",
    "kudu POST staging/api/zipdeploy",
]


def test_blue_green_deploys_to_the_slot_then_swaps_it_into_production(tmp_path: Path) -> None:
    with appservice_rig(tmp_path) as rig:
        outcome = rig.deploy("v2", "blue-green")

        assert outcome.status == "deployed", outcome.reason
        assert rig.fake.mutations() == [
            *STAGE,
            "arm POST slots/staging/slotsswap",
            "arm POST slots/staging/stop",  # the old version retired after promotion
        ]
        assert rig.serving() == "v2"
        assert rig.fake.app.slots["staging"].content == {"version": "v1"}
        # The sticky setting stayed with its slot; the version label moved with the code.
        assert rig.fake.app.slots["production"].settings == {
            "DB_MODE": "prod",
            "HOTFIX_VERSION": "v2",
        }


def test_each_arm_change_is_journaled_with_the_slot_differences(tmp_path: Path) -> None:
    with appservice_rig(tmp_path) as rig:
        rig.deploy("v2", "blue-green")

        ops = [r for r in rig.records() if r["type"] == "azure_operation"]
        changes = [f"{r['service']}:{r['operation']}" for r in ops if r["mutating"]]
        assert changes == [
            "arm:web_apps.begin_create_or_update_slot",
            "arm:web_apps.update_application_settings_slot",
            "kudu:zipdeploy",
            "arm:web_apps.begin_swap_slot",
            "arm:web_apps.stop_slot",
        ]
        settings = next(r for r in ops if r["operation"].startswith("web_apps.update_app"))
        assert settings["details"]["app_settings"]["added"] == {"HOTFIX_VERSION": "v2"}
        diffs = next(r for r in ops if r["operation"] == "web_apps.list_slot_differences_slot")
        by_name = {d["setting"]: d for d in diffs["details"]["differences"]}
        assert by_name["DB_MODE"]["sticky"] is True
        assert by_name["DB_MODE"]["production_value"] == "prod"
        assert by_name["HOTFIX_VERSION"]["sticky"] is False
        assert rig.fake.token not in rig.journal_text()


def test_failed_production_check_after_the_swap_swaps_back(tmp_path: Path) -> None:
    with appservice_rig(tmp_path) as rig:
        # Healthy with the slot's settings, broken with production's sticky DB_MODE.
        outcome = rig.deploy("v2", "blue-green", fail_when={"DB_MODE": "prod"})

        assert outcome.status == "rolled_back"
        assert outcome.rollback_verified is True
        assert "production verification of v2 failed" in (outcome.reason or "")
        assert rig.fake.mutations() == [
            *STAGE,
            "arm POST slots/staging/slotsswap",
            "arm POST slots/staging/slotsswap",  # the way back is the same swap
            "arm POST slots/staging/stop",
        ]
        assert rig.serving() == "v1"
        assert rig.fake.app.slots["production"].settings["HOTFIX_VERSION"] == "v1"


def test_a_new_target_reads_which_version_serves_where_from_arm(tmp_path: Path) -> None:
    with appservice_rig(tmp_path) as rig:
        asyncio.run(rig.target.stage(rig.spec("v2")))
        asyncio.run(rig.target.set_weights({"v2": 100}))

        fresh = build_appservice_target(
            AppServiceTargetConfig(**rig.fake.target_settings()),
            rig.workspace,
            credential=FakeCredential(rig.fake.token),
        )
        state = asyncio.run(fresh.state())

        assert state.weights == {"v2": 100}
        assert state.versions["v1"].url.endswith("/site/shop/staging")
        assert state.versions["v2"].url == state.production_url
