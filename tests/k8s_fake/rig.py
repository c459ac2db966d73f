"""The usual test setting: a fake cluster running `shop` (3 replicas of shop:v1.0.0 behind
Service `shop`) and a `KubernetesTarget` talking to it through the real client."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools.deploy.engine import DeploymentEngine
from tools.deploy.settings import StrategySettings
from tools.deploy.targets.kubernetes import KubernetesTarget, KubernetesTargetConfig
from tools.deploy.verification.settings import (
    AnalysisSettings,
    HealthCheckSettings,
    SmokeTestSettings,
    VerificationSettings,
)
from tools.deploy.verifier import DefaultVerifier

from .cluster import FakeCluster


def target_config(cluster: FakeCluster, **overrides: Any) -> KubernetesTargetConfig:
    """Settings pointing every URL at `cluster`, with short polls and timeouts for tests."""
    values: dict[str, Any] = {
        "deployment": "shop",
        "namespace": "default",
        "production_url": cluster.service_url("shop"),
        "preview_url": cluster.url + "/_svc/{namespace}/{service}",
        "metrics_url": cluster.metrics_url(),
        "image": "shop:{label}",
        "poll_interval_s": 0.02,
        "progress_timeout_s": 10.0,
        "request_timeout_s": 5.0,
    }
    return KubernetesTargetConfig.model_validate(values | overrides)


def make_target(cluster: FakeCluster, tmp_path: Path, **overrides: Any) -> KubernetesTarget:
    """A target whose client talks to `cluster` over loopback HTTP."""
    return KubernetesTarget(
        target_config(cluster, **overrides),
        workspace=tmp_path,
        client_configuration=cluster.client_configuration(),
    )


@contextmanager
def shop_cluster(
    *, replicas: int = 3, deadline_scale: float = 1.0, progress_deadline_s: int = 600
) -> Generator[FakeCluster]:
    """A running fake with Deployment + Service `shop` at revision 1 (shop:v1.0.0)."""
    with FakeCluster(deadline_scale=deadline_scale) as cluster:
        cluster.add_deployment(
            "shop", image="shop:v1.0.0", replicas=replicas, progress_deadline_s=progress_deadline_s
        )
        cluster.add_service("shop", {"app": "shop"})
        yield cluster


def fast_verification(*, health_wait_s: float = 5.0) -> VerificationSettings:
    """Health checks, smoke tests and analysis windows short enough for tests.

    The analysis traffic mixes /api/products and /api/checkout (the path the fake's
    "errors" behaviour breaks); health and smoke tests never touch checkout.
    """
    return VerificationSettings(
        health=HealthCheckSettings(
            path="/healthz", consecutive_successes=2, interval_s=0.02, max_wait_s=health_wait_s
        ),
        smoke=[SmokeTestSettings(name="products", path="/api/products")],
        analysis=AnalysisSettings(
            window_s=0.5,
            min_requests=5,
            load_rps=100,
            load_concurrency=4,
            load_paths=["/api/products", "/api/checkout"],
        ),
    )


def make_engine(
    target: KubernetesTarget,
    tmp_path: Path,
    settings: StrategySettings,
    *,
    health_wait_s: float = 5.0,
) -> DeploymentEngine:
    """An engine with the real verifier (HTTP through the fake's data plane), no journal."""
    verification = fast_verification(health_wait_s=health_wait_s)
    verifier = DefaultVerifier(verification, workspace=tmp_path)
    return DeploymentEngine(target, None, verifier=verifier, settings=settings)
