"""Bad settings and cluster states are refused with a clear error before anything changes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_fake import FakeCluster
from k8s_fake.rig import make_target, shop_cluster, target_config

from tools.deploy.target import TargetError, VersionSpec
from tools.deploy.targets.kubernetes import KubernetesTarget

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    with shop_cluster() as running:
        yield running


def refused(target: KubernetesTarget, *, staged: bool = False) -> str:
    with pytest.raises(TargetError) as error:
        if staged:
            asyncio.run(target.stage(FIX))
        else:
            asyncio.run(target.rolling_update(FIX, batch_size=1))
    return str(error.value)


def test_a_kubeconfig_context_is_used_and_an_unknown_one_is_named(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    cluster.write_kubeconfig(tmp_path / "kubeconfig", {"dev": "default", "ops": "ops"})
    # a relative kubeconfig path resolves against the workspace
    settings = target_config(cluster, kubeconfig="kubeconfig", namespace=None)

    good = KubernetesTarget(settings.model_copy(update={"context": "dev"}), workspace=tmp_path)
    assert asyncio.run(good.state()).weights == {"v1.0.0": 100}
    bad = KubernetesTarget(settings.model_copy(update={"context": "prod"}), workspace=tmp_path)
    message = refused(bad)

    assert message == "unknown kubeconfig context 'prod'; the kubeconfig has: dev, ops"
    assert cluster.mutations() == []


def test_the_contexts_namespace_applies_and_a_missing_namespace_is_named(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig", {"ops": "ops"})
    settings = target_config(cluster, kubeconfig=str(kubeconfig), context="ops", namespace=None)

    message = refused(KubernetesTarget(settings, workspace=tmp_path))

    assert message == "namespace \"ops\" not found (kubeconfig context 'ops')"
    assert cluster.mutations() == []


def test_an_unknown_deployment_is_named_with_the_ones_that_exist(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    message = refused(make_target(cluster, tmp_path, deployment="shopp"))

    assert message == ('deployment "shopp" not found in namespace default; deployments there: shop')
    assert cluster.mutations() == []


def test_several_containers_and_none_named_is_refused(tmp_path: Path) -> None:
    with FakeCluster() as cluster:
        containers = [
            {"name": "app", "image": "shop:v1.0.0"},
            {"name": "envoy", "image": "envoy:v1.31"},
        ]
        cluster.add_deployment("shop", containers=containers)

        message = refused(make_target(cluster, tmp_path))
        wrong = refused(make_target(cluster, tmp_path, container="web"))

        assert message.startswith(
            'deployment "shop" has 2 containers (app, envoy) and no container'
        )
        assert "set [deploy.kubernetes] container" in message
        assert wrong == 'container "web" not found in deployment "shop"; its containers: app, envoy'
        assert cluster.mutations() == []


def test_rbac_denials_are_found_before_the_first_write(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    cluster.forbid("patch", "deployments")
    cluster.forbid("get", "pods/log")

    message = refused(make_target(cluster, tmp_path))

    assert message.startswith("RBAC denies this identity in namespace default: ")
    assert "patch deployments (apps)" in message and "get pods/log" in message
    assert "Nothing was changed" in message
    assert cluster.mutations() == []
    assert cluster.deployment("shop")["metadata"]["generation"] == 1


def test_a_403_from_the_api_server_says_rbac_and_what_was_being_done(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    cluster.forbid("get", "deployments")

    message = refused(make_target(cluster, tmp_path))

    assert message.startswith(
        "permission denied (RBAC, HTTP 403) while reading deployment shop in namespace default: "
        'deployments.apps "shop" is forbidden: User "system:serviceaccount:ci:deployer" cannot '
        'get resource "deployments" in API group "apps" in the namespace "default"'
    )
    assert cluster.mutations() == []


def test_a_paused_deployment_is_refused_for_rolling_and_staging(tmp_path: Path) -> None:
    with FakeCluster() as cluster:
        cluster.add_deployment("shop", paused=True)
        cluster.add_service("shop", {"app": "shop"})

        rolling = refused(make_target(cluster, tmp_path))
        staging = refused(make_target(cluster, tmp_path), staged=True)

        assert rolling.startswith('deployment "shop" in namespace default is paused')
        assert "kubectl rollout resume deployment/shop -n default" in rolling
        assert staging == rolling
        assert cluster.mutations() == []


def test_staging_without_a_service_or_preview_url_changes_nothing(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    no_preview = refused(make_target(cluster, tmp_path, preview_url=None), staged=True)
    no_service = refused(make_target(cluster, tmp_path, service="web"), staged=True)

    assert "preview_url" in no_preview
    assert no_service.startswith('service "web" not found in namespace default')
    assert cluster.mutations() == []
