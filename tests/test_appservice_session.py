"""`hotfix run --model runbook` on the App Service target, against the ARM + Kudu fake."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from azure_fake import FakeAzure, FakeCredential, make_site_zip
from azure_fake.rig import shop_app, verification

from agent.approvers import PolicyFileApprover
from agent.journal import read_journal
from agent.session import RunResult, SessionOptions, run_session
from tools.deploy.targets.appservice import AppServiceTargetConfig, build_appservice_target
from tools.deploy.verifier import DefaultVerifier

DESCRIPTION = "checkout returns 500 on an empty cart; the fix is on branch hotfix/2.0.1"


def _run(tmp_path: Path, fake: FakeAzure, **behaviour: object) -> RunResult:
    ws = tmp_path / "shop"
    ws.mkdir()
    (ws / "checkout.py").write_text("def total(items):\n    return sum(items)\n")
    (ws / "hotfix.toml").write_text(
        '[deploy]\ntarget = "appservice"\n'
        "[deploy.strategy.blue_green]\nbake_s = 0.05\nanalysis = false\n"
        # The package is prebuilt below; the checklist itself is tested elsewhere.
        "[deploy.predeploy]\nrun_tests = false\n"
        "[deploy.predeploy.security]\nscan_diff = false\n"
        "[deploy.predeploy.tag]\nenabled = false\n"
    )
    (ws / "approvals.toml").write_text(
        'approve = ["hotfix_predeploy", "hotfix_plan", "hotfix_deploy"]\n'
    )
    _git_repo_with_fix_branch(ws, "hotfix/2.0.1")
    make_site_zip(ws / "dist" / "shop-v2.0.1.zip", "v2.0.1", **behaviour)
    config = AppServiceTargetConfig(**fake.target_settings(package="dist/shop-{version}.zip"))
    target = build_appservice_target(config, ws, credential=FakeCredential(fake.token))
    options = SessionOptions(
        description=DESCRIPTION,
        workspace=ws,
        approver=PolicyFileApprover(ws / "approvals.toml"),
        model="runbook",
        target="appservice",
        deploy_target=target,
        verifier=DefaultVerifier(verification(), workspace=ws, generate_load=False),
    )

    async def run() -> RunResult:
        try:
            return await run_session(options)
        finally:
            await target.aclose()  # stop the slot probes before the loop closes

    return asyncio.run(run())


def _git_repo_with_fix_branch(ws: Path, branch: str) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=ws, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "shop")
    git("branch", branch)


@pytest.mark.slow
def test_runbook_run_deploys_verifies_and_swaps_the_slot_into_production(
    tmp_path: Path,
) -> None:
    with FakeAzure(shop_app()) as fake:
        result = _run(tmp_path, fake)

        assert "Status: deployed" in result.final_text, result.final_text
        assert fake.app.serve("production", "/")[1]["version"] == "v2.0.1"
        assert fake.mutations() == [
            "arm PUT slots/staging",
            "arm PUT slots/staging/config/appsettings",
            "kudu POST staging/api/zipdeploy",
            "arm POST slots/staging/slotsswap",
            "arm POST slots/staging/stop",
        ]
        stage = next(
            r
            for r in read_journal(result.journal_path)
            if r.get("step_id") == "stage:v2.0.1" and r["phase"] == "finished"
        )
        assert stage["details"]["target_details"]["azure_operations"] == [
            "arm:web_apps.begin_create_or_update_slot",
            "arm:web_apps.update_application_settings_slot",
            "kudu:zipdeploy",
        ]
        assert fake.token not in result.journal_path.read_text()


@pytest.mark.slow
def test_runbook_run_of_a_version_failing_in_production_swaps_back(tmp_path: Path) -> None:
    with FakeAzure(shop_app()) as fake:
        result = _run(tmp_path, fake, fail_when={"DB_MODE": "prod"})

        assert "Status: rolled_back" in result.final_text, result.final_text
        assert fake.app.serve("production", "/")[1]["version"] == "v1"
        swaps = [m for m in fake.mutations() if m.endswith("slotsswap")]
        assert len(swaps) == 2
