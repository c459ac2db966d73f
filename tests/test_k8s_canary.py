"""Canary on Kubernetes: a `shop-canary` Deployment weighted by replicas or by an HTTPRoute."""

from __future__ import annotations

import asyncio
from pathlib import Path

from k8s_fake.rig import make_engine, make_target, shop_cluster

from tools.deploy.settings import CanarySettings, StrategySettings
from tools.deploy.target import VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")


def test_failed_analysis_scales_the_canary_to_zero_and_never_touches_stable(
    tmp_path: Path,
) -> None:
    with shop_cluster() as cluster:
        # passes health and smoke checks; /api/checkout (in the analysis traffic only) fails
        cluster.behave("shop:v1.4.3", "errors")
        target = make_target(cluster, tmp_path)
        settings = StrategySettings(default="canary", canary=CanarySettings(steps=[10, 100]))
        stable_before = cluster.deployment("shop")

        outcome = asyncio.run(make_engine(target, tmp_path, settings).deploy(FIX))

        assert outcome.status == "rolled_back", outcome.summary()
        assert "analysis of v1.4.3 at 10% was fail" in str(outcome.reason), outcome.summary()
        writes = [(r.method, r.path.rsplit("/", 1)[-1], r.body) for r in cluster.mutations()]
        canary_writes = [(m, body) for m, name, body in writes if name == "shop-canary"]
        scaled_to_zero = canary_writes.index(("PATCH", {"spec": {"replicas": 0}}))
        assert canary_writes[scaled_to_zero + 1][0] == "DELETE"  # retired only after that
        assert [r for r in cluster.mutations() if r.path.endswith("/deployments/shop")] == []
        stable = cluster.deployment("shop")
        assert stable["spec"] == stable_before["spec"]
        assert stable["metadata"]["generation"] == stable_before["metadata"]["generation"]
        assert cluster.store.get("services", "default", "shop")["spec"]["selector"] == {
            "app": "shop"
        }


def test_replica_weights_report_what_was_asked_and_what_the_pods_deliver(tmp_path: Path) -> None:
    with shop_cluster() as cluster:
        target = make_target(cluster, tmp_path)
        asyncio.run(target.stage(FIX))

        state = asyncio.run(target.set_weights({"v1.4.3": 10, "v1.0.0": 90}))

        assert state.weights == {"v1.4.3": 10, "v1.0.0": 90}
        assert state.details["effective_weights"] == {"v1.4.3": 25, "v1.0.0": 75}  # 1 of 4 pods
        assert cluster.deployment("shop-canary")["spec"]["replicas"] == 1
        assert cluster.deployment("shop")["spec"]["replicas"] == 3


def test_gateway_mode_sets_exact_route_weights_and_abort_zeroes_the_canary(
    tmp_path: Path,
) -> None:
    with shop_cluster() as cluster:
        cluster.add_httproute("shop", [("shop", 1)])
        target = make_target(
            cluster,
            tmp_path,
            canary_mode="gateway",
            httproute="shop",
            production_url=cluster.route_url("shop"),
        )
        asyncio.run(target.stage(FIX))

        split = asyncio.run(target.set_weights({"v1.4.3": 10, "v1.0.0": 90}))
        route = cluster.store.get("httproutes", "default", "shop")
        weights = {r["name"]: r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]}
        assert weights == {"shop": 90, "shop-canary": 10}
        assert split.weights == {"v1.4.3": 10, "v1.0.0": 90}

        aborted = asyncio.run(target.set_weights({"v1.0.0": 100}))
        assert aborted.weights == {"v1.0.0": 100}
        assert cluster.deployment("shop-canary")["spec"]["replicas"] == 0

        asyncio.run(target.retire("v1.4.3"))
        route = cluster.store.get("httproutes", "default", "shop")
        assert [(r["name"], r["weight"]) for r in route["spec"]["rules"][0]["backendRefs"]] == [
            ("shop", 100)
        ]
        assert cluster.store.find("deployments", "default", "shop-canary") is None
        assert cluster.store.get("services", "default", "shop")["spec"]["selector"] == {
            "app": "shop"
        }
