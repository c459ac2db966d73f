"""Bad input on App Service: each ends with a clear message and production as it was."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from azure_fake import FakeCredential
from azure_fake.rig import appservice_rig, shop_app
from pydantic import ValidationError

from tools.deploy.target import TargetError, VersionSpec
from tools.deploy.targets.appservice import AppServiceTargetConfig


def test_swap_rejected_with_409_is_reported_and_production_keeps_the_old_version(
    tmp_path: Path,
) -> None:
    app = shop_app()
    app.faults.swap_conflicts = 1
    with appservice_rig(tmp_path, app) as rig:
        outcome = rig.deploy("v2", "blue-green")

        assert outcome.status == "rolled_back"
        assert "409" in (outcome.reason or "") and "swap operation in progress" in (
            outcome.reason or ""
        )
        assert rig.serving() == "v1"
        failed = [r for r in rig.records() if r.get("status") == "error"]
        assert [r["operation"] for r in failed] == ["web_apps.begin_swap_slot"]
        assert rig.fake.mutations()[-1] == "arm POST slots/staging/stop"


def test_failed_zip_deploy_stops_at_stage_without_touching_production(tmp_path: Path) -> None:
    app = shop_app()
    app.faults.deploy_fails = True
    with appservice_rig(tmp_path, app) as rig:
        outcome = rig.deploy("v2", "blue-green")

        assert outcome.status == "failed"
        assert "zip deploy failed on Kudu" in (outcome.reason or "")
        assert "pip install exited 1" in (outcome.reason or "")
        stage = [r for r in rig.records() if r.get("step_id") == "stage:v2"]
        assert [r["phase"] for r in stage] == ["started", "failed"]
        assert not any("slotsswap" in m or "config/web" in m for m in rig.fake.mutations())
        assert rig.serving() == "v1"


def test_missing_credentials_end_in_a_login_hint_before_any_request(tmp_path: Path) -> None:
    with appservice_rig(tmp_path, credential=FakeCredential(fail=True)) as rig:
        with pytest.raises(TargetError, match=r"credentials are missing or invalid.*az login"):
            asyncio.run(rig.target.state())

        assert rig.fake.log == []


def test_a_token_arm_rejects_is_reported_as_not_accepted(tmp_path: Path) -> None:
    with appservice_rig(tmp_path, credential=FakeCredential("expired-token-value")) as rig:
        with pytest.raises(TargetError, match=r"401 InvalidAuthenticationToken.*not accepted"):
            asyncio.run(rig.target.state())

        assert "expired-token-value" not in rig.journal_text()


def test_a_missing_slot_is_not_created_when_creation_is_off(tmp_path: Path) -> None:
    with appservice_rig(tmp_path, create_slot=False) as rig:
        with pytest.raises(
            TargetError, match="no deployment slot 'staging' and create_slot is off"
        ):
            asyncio.run(rig.target.stage(VersionSpec("v2", "hotfix/v2")))

        assert rig.fake.mutations() == []


def test_an_unknown_app_says_which_settings_to_check(tmp_path: Path) -> None:
    with (
        appservice_rig(tmp_path, app_name="nope") as rig,
        pytest.raises(TargetError, match=r"404 ResourceNotFound.*check subscription_id"),
    ):
        asyncio.run(rig.target.state())


def test_no_deployment_slot_receiving_traffic_is_overwritten(tmp_path: Path) -> None:
    with appservice_rig(tmp_path) as rig:

        async def run() -> None:
            await rig.target.stage(rig.spec("v2"))
            await rig.target.set_weights({"v1": 90, "v2": 10})
            await rig.target.stage(rig.spec("v3"))

        with pytest.raises(TargetError, match="still receives 10% of production traffic"):
            asyncio.run(run())


def test_app_settings_with_secret_names_are_masked_in_the_journal(tmp_path: Path) -> None:
    with appservice_rig(tmp_path) as rig:
        spec = replace(rig.spec("v2"), env={"DB_PASSWORD": "hunter2-very-secret"})
        staged = asyncio.run(rig.target.stage(spec))

        assert rig.fake.app.slots["staging"].settings["DB_PASSWORD"] == "hunter2-very-secret"
        assert staged.details["app_settings"]["added"]["DB_PASSWORD"] == "[REDACTED]"
        assert "hunter2-very-secret" not in rig.journal_text()
        assert "hunter2-very-secret" not in str(rig.target.log.entries)


def test_plain_http_endpoints_are_refused_off_loopback() -> None:
    with pytest.raises(ValidationError, match="must use https"):
        AppServiceTargetConfig(arm_endpoint="http://management.example.com")
    with pytest.raises(ValidationError, match="must use https"):
        AppServiceTargetConfig(kudu_endpoint_template="http://{app}-{slot}.scm.example.com")
    with pytest.raises(ValidationError, match="loopback_test"):
        AppServiceTargetConfig(credential="loopback_test")
