"""Canary on App Service: traffic routing rules (`rampUpRules`) step by step, then a swap."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure_fake.rig import Rig, appservice_rig

STAGE = [
    "arm PUT slots/staging",
    "arm PUT slots/staging/config/appsettings",
    "kudu POST staging/api/zipdeploy",
]


def _routing_bodies(rig: Rig) -> list[list[object]]:
    return [
        r.body["properties"]["experiments"]["rampUpRules"]
        for r in rig.fake.log
        if r.method == "PATCH" and r.path == "config/web"
    ]


@pytest.mark.slow
def test_canary_routes_a_growing_share_then_swaps_at_100_percent(tmp_path: Path) -> None:
    with appservice_rig(tmp_path, canary_steps=[10, 50, 100]) as rig:
        outcome = rig.deploy("v2", "canary")

        assert outcome.status == "deployed", outcome.reason
        assert rig.fake.mutations() == [
            *STAGE,
            "arm PATCH config/web",
            "arm PATCH config/web",
            "arm PATCH config/web",  # the rule goes before the swap
            "arm POST slots/staging/slotsswap",
            "arm POST slots/staging/stop",
        ]
        host = "shop-staging.azurewebsites.net"
        assert _routing_bodies(rig) == [
            [{"name": "staging", "actionHostName": host, "reroutePercentage": 10.0}],
            [{"name": "staging", "actionHostName": host, "reroutePercentage": 50.0}],
            [],
        ]
        assert [a["outcome"] for a in outcome.analysis] == ["pass", "pass"]
        assert rig.serving() == "v2"
        assert rig.fake.app.routing == []


@pytest.mark.slow
def test_canary_with_failing_analysis_routes_back_to_zero_percent(tmp_path: Path) -> None:
    with appservice_rig(tmp_path, canary_steps=[10, 100], probe_paths=["/", "/healthz"]) as rig:
        # Healthy health checks, but every second page request fails with 500.
        outcome = rig.deploy("v2", "canary", error_every=2)

        assert outcome.status == "rolled_back"
        assert outcome.analysis[0]["outcome"] == "fail"
        assert rig.fake.mutations() == [
            *STAGE,
            "arm PATCH config/web",
            "arm PATCH config/web",
            "arm POST slots/staging/stop",
        ]
        assert _routing_bodies(rig)[-1] == []
        assert rig.serving() == "v1"
