"""The Kubernetes target's native rolling update and its undo, against the loopback fake."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from k8s_fake.rig import make_target, shop_cluster

from tools.deploy.target import TargetError, VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")
CRASH = VersionSpec("v1.4.4", "hotfix/1.4.4", artifact="shop:v1.4.4-crash")


def test_rolling_update_rolls_every_replica_and_records_the_hotfix(tmp_path: Path) -> None:
    with shop_cluster() as cluster:
        target = make_target(cluster, tmp_path)

        state = asyncio.run(target.rolling_update(FIX, batch_size=1))

        deployment = cluster.deployment("shop")
        assert state.weights == {"v1.4.3": 100}
        assert state.details["rollout"]["revision"] == 2
        assert state.details["rollout"]["previous_revision"] == 1
        template = deployment["spec"]["template"]
        assert template["spec"]["containers"][0]["image"] == "shop:v1.4.3"
        assert template["metadata"]["annotations"]["hotfix-agent/version"] == "v1.4.3"
        notes = deployment["metadata"]["annotations"]
        assert notes["kubernetes.io/change-cause"].startswith("hotfix-agent: v1.4.3")
        assert json.loads(notes["hotfix-agent/rollback"]) == {
            "version": "v1.4.3",
            "from_revision": 2,
            "to_revision": 1,
        }
        assert cluster.rolled_out("shop")


def test_crash_loop_hits_the_progress_deadline_then_undo_restores_the_old_template(
    tmp_path: Path,
) -> None:
    with shop_cluster(deadline_scale=0.1, progress_deadline_s=5) as cluster:  # 0.5 s deadline
        cluster.behave("shop:v1.4.4-crash", "crash")
        target = make_target(cluster, tmp_path, crashloop_restarts=0)  # let the deadline decide
        old = cluster.replica_sets("shop")[0]

        with pytest.raises(TargetError) as failed:
            asyncio.run(target.rolling_update(CRASH, batch_size=1))

        message = str(failed.value)
        assert message.startswith(
            'revision 2 of deployment shop did not roll out: deployment "shop" exceeded its '
            "progress deadline; 0/1 new pods ready; pod shop-"
        )
        assert "CrashLoopBackOff" in message and "KeyError: 'DATABASE_URL'" in message
        assert message.endswith("production ran revision 1 (shop:v1.0.0) before this update")

        state = asyncio.run(target.undo_rolling_update())

        undo = [r for r in cluster.mutations() if r.method == "PATCH"][-1].body
        expected = old["spec"]["template"]
        del expected["metadata"]["labels"]["pod-template-hash"]
        assert undo[0] == {"op": "replace", "path": "/spec/template", "value": expected}
        assert state.weights == {"v1.0.0": 100}
        assert state.details["undo"]["note"] == (
            "kubectl rollout undo --to-revision=1: rolled back"
        )
        assert state.details["undo"]["messages"][-1] == 'deployment "shop" successfully rolled out'
        assert cluster.deployment("shop")["spec"]["template"] == expected
        revisions = [
            rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            for rs in cluster.replica_sets("shop")
        ]
        assert revisions == ["2", "3"]  # the old ReplicaSet is revision 3 now


def test_an_unpullable_image_fails_fast_with_the_pull_error(tmp_path: Path) -> None:
    with shop_cluster() as cluster:
        cluster.behave("shop:v9-missing", "pull")
        target = make_target(cluster, tmp_path)

        with pytest.raises(TargetError) as failed:
            asyncio.run(
                target.rolling_update(
                    VersionSpec("v9", "v9", artifact="shop:v9-missing"), batch_size=1
                )
            )

        assert "ImagePullBackOff" in str(failed.value)
        assert 'Failed to pull image "shop:v9-missing"' in str(failed.value)
        assert cluster.deployment("shop")["status"]["availableReplicas"] == 3  # still serving


def test_undo_changes_nothing_when_the_current_revision_is_not_ours(tmp_path: Path) -> None:
    with shop_cluster() as cluster:
        target = make_target(cluster, tmp_path)

        state = asyncio.run(target.undo_rolling_update())

        assert cluster.mutations() == []
        assert state.weights == {"v1.0.0": 100}
        assert "nothing to undo" in state.details["undo"]["note"]


def test_undo_is_safe_to_repeat(tmp_path: Path) -> None:
    with shop_cluster() as cluster:
        target = make_target(cluster, tmp_path)
        asyncio.run(target.rolling_update(FIX, batch_size=1))
        asyncio.run(target.undo_rolling_update())
        writes = len(cluster.mutations())

        again = asyncio.run(target.undo_rolling_update())

        assert len(cluster.mutations()) == writes
        assert again.weights == {"v1.0.0": 100}
