"""`kubectl rollout undo` reproduced: which revision, which patch, which refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from k8s_fake import FakeCluster
from k8s_fake.rig import make_target, shop_cluster

from tools.deploy.target import TargetError
from tools.deploy.targets.kubernetes.undo import deployment_revision, rollout_undo, undo_patch

HASH = "pod-template-hash"


def replica_set(name: str, revision: str | None, image: str, **notes: str) -> dict[str, Any]:
    annotations = dict(notes)
    if revision is not None:
        annotations["deployment.kubernetes.io/revision"] = revision
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "shop", HASH: name.rsplit("-", 1)[1]}},
                "spec": {"containers": [{"name": "shop", "image": image}]},
            }
        },
    }


SHOP = {"metadata": {"name": "shop"}}


def test_default_target_is_the_second_highest_revision_whatever_the_order() -> None:
    sets = [
        replica_set("shop-c", "3", "c"),
        replica_set("shop-a", "1", "a"),
        replica_set("shop-b", "2", "b"),
        replica_set("shop-x", None, "x"),
    ]
    assert deployment_revision(SHOP, sets, 0)["metadata"]["name"] == "shop-b"
    assert deployment_revision(SHOP, sets, 1)["metadata"]["name"] == "shop-a"


def test_unknown_revision_and_missing_history_are_kubectls_errors() -> None:
    sets = [replica_set("shop-a", "1", "a")]
    with pytest.raises(TargetError) as unknown:
        deployment_revision(SHOP, sets, 7)
    assert str(unknown.value) == "unable to find specified revision 7 in history"
    with pytest.raises(TargetError) as none:
        deployment_revision(SHOP, sets, 0)
    assert str(none.value) == 'no rollout history found for deployment "shop"'


def test_patch_replaces_the_template_without_its_hash_and_copies_annotations_like_kubectl() -> None:
    deployment = {
        "metadata": {
            "name": "shop",
            "annotations": {
                "deployment.kubernetes.io/revision": "3",
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
                "kubernetes.io/change-cause": "bad release",
                "team": "payments",
            },
        },
    }
    old = replica_set(
        "shop-a",
        "1",
        "shop:v1",
        **{
            "kubernetes.io/change-cause": "v1 release",
            "deployment.kubernetes.io/desired-replicas": "3",
        },
    )

    patch = undo_patch(deployment, old)

    assert [op["path"] for op in patch] == ["/spec/template", "/metadata/annotations"]
    assert all(op["op"] == "replace" for op in patch)
    assert patch[0]["value"]["metadata"]["labels"] == {"app": "shop"}
    assert patch[0]["value"]["spec"] == old["spec"]["template"]["spec"]
    assert patch[1]["value"] == {
        # kept from the Deployment (kubectl's annotationsToSkip)...
        "deployment.kubernetes.io/revision": "3",
        "kubectl.kubernetes.io/last-applied-configuration": "{...}",
        # ...and the ReplicaSet's own, the rest dropped
        "kubernetes.io/change-cause": "v1 release",
    }


def _set_image(cluster: FakeCluster, image: str) -> None:
    def change(deployment: dict[str, Any]) -> None:
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = image

    cluster.edit("deployments", "shop", change)
    cluster.wait_for(lambda: cluster.rolled_out("shop"), what=f"{image} rolled out")


def test_undo_against_the_cluster_restores_the_previous_template_and_a_second_is_skipped(
    tmp_path: Path,
) -> None:
    with shop_cluster() as cluster:
        _set_image(cluster, "shop:v2")
        api = asyncio.run(make_target(cluster, tmp_path).api())
        old = cluster.replica_sets("shop")[0]

        result = asyncio.run(rollout_undo(api, "shop"))

        assert (result.message, result.from_revision, result.to_revision) == ("rolled back", 2, 1)
        sent = [r for r in cluster.mutations() if r.method == "PATCH"][-1].body
        expected = old["spec"]["template"]
        expected["metadata"]["labels"].pop(HASH)
        assert sent[0] == {"op": "replace", "path": "/spec/template", "value": expected}
        cluster.wait_for(lambda: cluster.rolled_out("shop"), what="undo rolled out")
        # the old ReplicaSet came back as the newest revision, as the real controller does
        assert cluster.replica_sets("shop")[-1]["metadata"]["name"] == old["metadata"]["name"]

        again = asyncio.run(rollout_undo(api, "shop", to_revision=3))
        assert again.skipped
        assert again.message == "skipped rollback (current template already matches revision 3)"


def test_undo_of_a_paused_deployment_is_refused_with_kubectls_words(tmp_path: Path) -> None:
    with shop_cluster() as cluster:
        _set_image(cluster, "shop:v2")
        cluster.edit("deployments", "shop", lambda d: d["spec"].update(paused=True))
        api = asyncio.run(make_target(cluster, tmp_path).api())
        before = len(cluster.mutations())

        with pytest.raises(TargetError) as refused:
            asyncio.run(rollout_undo(api, "shop"))

        assert str(refused.value) == (
            "you cannot rollback a paused deployment; resume it first with "
            "'kubectl rollout resume deployment/shop' and try again"
        )
        assert len(cluster.mutations()) == before
