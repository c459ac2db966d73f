"""The App Service target's own operations, one at a time, against the fake."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from azure_fake import make_site_zip
from azure_fake.rig import appservice_rig

from tools.deploy.target import TargetError, VersionSpec
from tools.deploy.targets.appservice import AppServiceTargetConfig, build_appservice_target
from tools.deploy.targets.appservice.credentials import make_credential
from tools.deploy.targets.appservice.package import resolve_package


def test_a_container_image_is_set_on_the_slot_and_the_slot_restarted(tmp_path: Path) -> None:
    image = "shopacr.azurecr.io/shop:{version}"
    with appservice_rig(tmp_path, package=None, image=image) as rig:
        staged = asyncio.run(rig.target.stage(VersionSpec("v2", "hotfix/v2")))

        assert staged.details["deployment"] == {"image": "shopacr.azurecr.io/shop:v2"}
        assert rig.fake.mutations() == [
            "arm PUT slots/staging",
            "arm PUT slots/staging/config/appsettings",
            "arm PATCH slots/staging/config/web",
            "arm POST slots/staging/restart",
        ]
        assert rig.fake.app.slots["staging"].config["linuxFxVersion"] == (
            "DOCKER|shopacr.azurecr.io/shop:v2"
        )


def test_metrics_count_errors_the_slot_probes_saw_for_each_version(tmp_path: Path) -> None:
    with appservice_rig(tmp_path, probe_paths=["/"]) as rig:
        make_site_zip(rig.workspace / "dist" / "shop-v2.zip", "v2", error_every=2)

        async def run() -> tuple[int, int, int, int]:
            since = time.time()
            await rig.target.stage(VersionSpec("v2", "hotfix/v2"))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                new = await rig.target.metrics("v2", since)
                if new.requests >= 20:
                    break
                await asyncio.sleep(0.05)
            await rig.target.aclose()
            new = rig.target.sampler.metrics("v2", since)
            old = rig.target.sampler.metrics("v1", since)
            return new.requests, new.errors, old.requests, old.errors

        new_requests, new_errors, old_requests, old_errors = asyncio.run(run())

        assert new_requests >= 20 and abs(new_errors - new_requests / 2) <= 1
        assert old_requests > 0 and old_errors == 0
        # Production was probed pinned to itself, never through a routing rule.
        assert rig.fake.app.slots["production"].page_requests == old_requests


def test_retiring_the_production_version_is_refused(tmp_path: Path) -> None:
    with (
        appservice_rig(tmp_path) as rig,
        pytest.raises(TargetError, match="v1 serves production"),
    ):
        asyncio.run(rig.target.retire("v1"))


def test_weights_for_a_version_in_neither_slot_are_refused(tmp_path: Path) -> None:
    with appservice_rig(tmp_path) as rig:
        with pytest.raises(TargetError, match="v9 is in neither slot"):
            asyncio.run(rig.target.set_weights({"v1": 50, "v9": 50}))
        with pytest.raises(TargetError, match="sum to 100"):
            asyncio.run(rig.target.set_weights({"v1": 50}))
        assert rig.fake.mutations() == []


def test_a_stopped_slot_is_started_before_the_next_deployment(tmp_path: Path) -> None:
    from azure_fake.rig import shop_app

    app = shop_app(slot="staging")
    app.slots["staging"].state = "Stopped"
    with appservice_rig(tmp_path, app) as rig:
        make_site_zip(rig.workspace / "dist" / "shop-v2.zip", "v2")
        asyncio.run(rig.target.stage(VersionSpec("v2", "hotfix/v2")))

        assert rig.fake.mutations()[0] == "arm POST slots/staging/start"
        assert "arm PUT slots/staging" not in rig.fake.mutations()


def test_the_newest_zip_matching_the_package_glob_is_deployed(tmp_path: Path) -> None:
    old = make_site_zip(tmp_path / "dist" / "a.zip", "v1")
    new = make_site_zip(tmp_path / "dist" / "b.zip", "v2")
    past = time.time() - 60
    import os

    os.utime(old, (past, past))

    assert resolve_package("dist/*.zip", tmp_path, "v2") == new
    with pytest.raises(TargetError, match=r"no package matches 'out/v2\.zip'"):
        resolve_package("out/{version}.zip", tmp_path, "v2")
    (tmp_path / "dist" / "c.zip").write_text("not a zip")
    with pytest.raises(TargetError, match="is not a zip file"):
        resolve_package("dist/c.zip", tmp_path, "v2")


def test_an_unconfigured_target_names_the_missing_settings(tmp_path: Path) -> None:
    target = build_appservice_target(AppServiceTargetConfig(), tmp_path, credential=object())

    with pytest.raises(TargetError, match=r"subscription_id.*resource_group.*app_name"):
        asyncio.run(target.state())


def test_the_default_credential_is_azure_identitys_default_chain() -> None:
    from azure.identity import DefaultAzureCredential

    assert isinstance(make_credential("default"), DefaultAzureCredential)


def test_dashboards_link_the_app_and_application_insights() -> None:
    config = AppServiceTargetConfig(
        subscription_id="sub", resource_group="rg", app_name="shop", app_insights_name="shop-ai"
    )
    links = build_appservice_target(config, Path(".")).dashboards()

    assert [link["name"] for link in links] == [
        "App Service shop",
        "Application Insights",
        "Live metrics",
    ]
    assert "/providers/Microsoft.Insights/components/shop-ai/overview" in links[1]["url"]
