"""A deployment engine on the App Service target, against the fake, with a real journal.

Real clock, real HTTP checks (health, probes) and real statistics, with short windows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.journal import Journal, read_journal
from agent.redaction import Redactor
from tools.deploy.engine import DeploymentEngine
from tools.deploy.settings import BlueGreenSettings, CanarySettings, StrategySettings
from tools.deploy.strategies.base import DeploymentOutcome
from tools.deploy.target import VersionSpec
from tools.deploy.targets.appservice import (
    AppServiceTarget,
    AppServiceTargetConfig,
    build_appservice_target,
)
from tools.deploy.verification.settings import (
    AnalysisSettings,
    HealthCheckSettings,
    VerificationSettings,
)
from tools.deploy.verifier import DefaultVerifier

from . import FakeApp, FakeAzure, FakeCredential, make_site_zip


def shop_app(**options: Any) -> FakeApp:
    """`shop`, serving v1, with a sticky `DB_MODE` (prod in production, staging in the slot)."""
    return FakeApp(
        "shop",
        production={"version": "v1"},
        settings={"HOTFIX_VERSION": "v1"},
        sticky={"DB_MODE": ("prod", "staging")},
        **options,
    )


def verification() -> VerificationSettings:
    """Quick health checks; an analysis that judges errors, with loopback-tolerant latency."""
    return VerificationSettings(
        health=HealthCheckSettings(interval_s=0.01, max_wait_s=1.0, consecutive_successes=2),
        analysis=AnalysisSettings(
            window_s=0.6, min_requests=5, max_latency_ratio_p95=100.0, latency_floor_ms=1000.0
        ),
    )


@dataclass
class Rig:
    fake: FakeAzure
    target: AppServiceTarget
    engine: DeploymentEngine
    journal_path: Path
    workspace: Path

    def spec(self, label: str, **behaviour: Any) -> VersionSpec:
        """Build `dist/shop-<label>.zip` behaving as told; the version to deploy from it."""
        make_site_zip(self.workspace / "dist" / f"shop-{label}.zip", label, **behaviour)
        return VersionSpec(label, f"hotfix/{label}")

    def deploy(self, label: str, strategy: str, **behaviour: Any) -> DeploymentOutcome:
        """Deploy `self.spec(label, **behaviour)` end to end with `strategy`."""
        spec = self.spec(label, **behaviour)

        async def run() -> DeploymentOutcome:
            try:
                return await self.engine.deploy(spec, strategy)
            finally:
                await self.target.aclose()

        return asyncio.run(run())

    def records(self) -> list[dict[str, Any]]:
        return read_journal(self.journal_path)

    def journal_text(self) -> str:
        return self.journal_path.read_text(encoding="utf-8")

    def serving(self) -> str | None:
        """The version production answers with now (pinned to the production slot)."""
        return self.fake.app.serve("production", "/")[1].get("version")


@contextmanager
def appservice_rig(
    tmp_path: Path,
    app: FakeApp | None = None,
    *,
    credential: Any = None,
    canary_steps: list[int] | None = None,
    **target_overrides: Any,
) -> Generator[Rig]:
    """The fake serving `app` (default `shop_app()`), an engine and a target pointing at it."""
    with FakeAzure(app or shop_app()) as fake:
        workspace = tmp_path / "ws"
        workspace.mkdir(exist_ok=True)
        overrides = {"package": "dist/shop-{version}.zip", **target_overrides}
        settings = fake.target_settings(**overrides)
        redactor = Redactor()
        journal = Journal(tmp_path / "run" / "journal.jsonl", redactor, "run-1")
        target = build_appservice_target(
            AppServiceTargetConfig(**settings),
            workspace,
            credential=credential or FakeCredential(fake.token),
            journal=journal,
            redactor=redactor,
        )
        strategy = StrategySettings(
            blue_green=BlueGreenSettings(bake_s=0.05, analysis=False),
            canary=CanarySettings(steps=canary_steps or [10, 50, 100]),
        )
        engine = DeploymentEngine(
            target,
            journal,
            verifier=DefaultVerifier(verification(), workspace=workspace, generate_load=False),
            settings=strategy,
            run_id="run-1",
        )
        try:
            yield Rig(fake, target, engine, journal.path, workspace)
        finally:
            journal.close()
