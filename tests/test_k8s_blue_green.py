"""Blue-green on Kubernetes: a second Deployment and a Service selector switch."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

from k8s_fake import FakeCluster
from k8s_fake.rig import make_engine, make_target, shop_cluster

from tools.deploy.settings import BlueGreenSettings, StrategySettings
from tools.deploy.target import VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")


def served(url: str, requests: int = 20) -> set[str]:
    """The versions that answered `requests` requests through `url`."""
    versions: set[str] = set()
    for _ in range(requests):
        with urllib.request.urlopen(url + "/api/products", timeout=5) as response:
            versions.add(json.loads(response.read())["version"])
    return versions


def selector(cluster: FakeCluster) -> dict[str, str]:
    return cluster.store.get("services", "default", "shop")["spec"]["selector"]


def test_switch_sends_everything_to_the_new_version_and_switch_back_is_one_patch(
    tmp_path: Path,
) -> None:
    with shop_cluster() as cluster:
        target = make_target(cluster, tmp_path)
        production = cluster.service_url("shop")

        staged = asyncio.run(target.stage(FIX))
        assert served(staged.url) == {"v1.4.3"} and served(production) == {"v1.0.0"}

        switched = asyncio.run(target.set_weights({"v1.4.3": 100}))
        assert switched.weights == {"v1.4.3": 100}
        assert served(production) == {"v1.4.3"}
        assert cluster.deployment("shop")["status"]["availableReplicas"] == 3  # on standby

        writes = len(cluster.mutations())
        back = asyncio.run(target.set_weights({"v1.0.0": 100}))
        switch_back = cluster.mutations()[writes:]
        assert back.weights == {"v1.0.0": 100}
        assert served(production) == {"v1.0.0"}
        # traffic moved with the first write (the Service); the green pods went after it
        assert switch_back[0].path.endswith("/services/shop")
        assert [r.path.rsplit("/", 1)[-1] for r in switch_back] == ["shop", "shop-canary"]

        asyncio.run(target.retire("v1.4.3"))
        assert selector(cluster) == {"app": "shop"}
        assert cluster.store.find("deployments", "default", "shop-canary") is None
        assert cluster.store.find("services", "default", "shop-canary") is None


def test_promotion_folds_the_new_version_into_the_production_deployment(tmp_path: Path) -> None:
    with shop_cluster() as cluster:
        target = make_target(cluster, tmp_path)
        settings = StrategySettings(blue_green=BlueGreenSettings(bake_s=0.3, analysis=False))

        outcome = asyncio.run(make_engine(target, tmp_path, settings).deploy(FIX, "blue-green"))

        assert outcome.status == "deployed", outcome.summary()
        production = cluster.deployment("shop")
        assert production["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:v1.4.3"
        assert production["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        assert selector(cluster) == {"app": "shop"}
        assert cluster.store.find("deployments", "default", "shop-canary") is None
        assert served(cluster.service_url("shop")) == {"v1.4.3"}
        assert asyncio.run(target.state()).weights == {"v1.4.3": 100}


def test_a_failed_production_check_switches_back_and_removes_the_new_version(
    tmp_path: Path,
) -> None:
    with shop_cluster() as cluster:
        target = make_target(cluster, tmp_path)
        settings = StrategySettings(blue_green=BlueGreenSettings(bake_s=0.0))
        engine = make_engine(target, tmp_path, settings, health_wait_s=1.0)  # it must fail
        asyncio.run(engine.stage(FIX))
        assert asyncio.run(engine.verify("v1.4.3"))["passed"]
        asyncio.run(engine.shift("v1.4.3", 100))
        cluster.behave("shop:v1.4.3", "unhealthy")  # it breaks once it has the traffic

        verdict = asyncio.run(engine.verify("v1.4.3", where="production"))

        assert verdict["passed"] is False
        assert engine.state.rollback_phase == "finished"
        assert served(cluster.service_url("shop")) == {"v1.0.0"}
        assert selector(cluster) == {"app": "shop"}
        assert cluster.store.find("deployments", "default", "shop-canary") is None
