"""`kubectl rollout status` reproduced: same checks, same order, same words.

The expected strings are kubectl's format strings from
k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go, filled in for Deployment "shop".
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from k8s_fake.rig import make_target, shop_cluster

from tools.deploy.target import VersionSpec
from tools.deploy.targets.kubernetes.rollout_status import (
    RolloutAborted,
    RolloutError,
    RolloutTimeout,
    deployment_status,
    wait_for_rollout,
)


def deployment(
    *,
    generation: int = 2,
    observed: int = 2,
    replicas: int | None = 3,
    updated: int = 0,
    total: int = 0,
    available: int = 0,
    progressing: str | None = None,
    revision: str | None = None,
) -> dict[str, Any]:
    """A Deployment as the API server returns it (zero counts omitted, like `omitempty`)."""
    status: dict[str, Any] = {"observedGeneration": observed}
    for key, value in (
        ("updatedReplicas", updated),
        ("replicas", total),
        ("availableReplicas", available),
    ):
        if value:
            status[key] = value
    if progressing:
        status["conditions"] = [{"type": "Progressing", "status": "False", "reason": progressing}]
    spec: dict[str, Any] = {} if replicas is None else {"replicas": replicas}
    meta: dict[str, Any] = {"name": "shop", "generation": generation}
    if revision is not None:
        meta["annotations"] = {"deployment.kubernetes.io/revision": revision}
    return {"metadata": meta, "spec": spec, "status": status}


@pytest.mark.parametrize(
    ("state", "message", "done"),
    [
        (
            deployment(generation=3, observed=2),
            "Waiting for deployment spec update to be observed...\n",
            False,
        ),
        (
            deployment(updated=1, total=4, available=3),
            'Waiting for deployment "shop" rollout to finish: 1 out of 3 new replicas have been '
            "updated...\n",
            False,
        ),
        (
            deployment(updated=3, total=4, available=3),
            'Waiting for deployment "shop" rollout to finish: 1 old replicas are pending '
            "termination...\n",
            False,
        ),
        (
            deployment(updated=3, total=3, available=2),
            'Waiting for deployment "shop" rollout to finish: 2 of 3 updated replicas are '
            "available...\n",
            False,
        ),
        (
            deployment(updated=3, total=3, available=3),
            'deployment "shop" successfully rolled out\n',
            True,
        ),
        (
            # spec.replicas unset: kubectl skips the "new replicas" check (a nil pointer)
            deployment(replicas=None, updated=0, total=0, available=0),
            'deployment "shop" successfully rolled out\n',
            True,
        ),
        (
            # a deadline condition before the controller observed the spec does not count yet
            deployment(generation=3, observed=2, progressing="ProgressDeadlineExceeded"),
            "Waiting for deployment spec update to be observed...\n",
            False,
        ),
    ],
)
def test_status_messages_are_kubectls_for_each_state(
    state: dict[str, Any], message: str, done: bool
) -> None:
    status = deployment_status(state)
    assert (status.message, status.done) == (message, done)


def test_progress_deadline_is_kubectls_error_and_is_checked_before_replica_counts() -> None:
    state = deployment(updated=1, total=4, available=3, progressing="ProgressDeadlineExceeded")
    with pytest.raises(RolloutError) as raised:
        deployment_status(state)
    assert str(raised.value) == 'deployment "shop" exceeded its progress deadline'


def test_a_revision_mismatch_is_kubectls_error() -> None:
    with pytest.raises(RolloutError) as raised:
        deployment_status(deployment(revision="4"), want_revision=3)
    assert str(raised.value) == "desired revision (3) is different from the running revision (4)"
    assert deployment_status(deployment(revision="3", updated=3, total=3, available=3), 3).done


def test_waiting_stops_at_our_timeout_or_a_fail_fast_reason() -> None:
    stuck = deployment(updated=1, total=4, available=3)

    async def read() -> dict[str, Any]:
        return stuck

    async def refuse(_: dict[str, Any]) -> str | None:
        return "pod shop-x container shop: ImagePullBackOff"

    with pytest.raises(RolloutTimeout, match="1 out of 3 new replicas"):
        asyncio.run(wait_for_rollout(read, timeout_s=0.05, poll_s=0.01))
    with pytest.raises(RolloutAborted, match="ImagePullBackOff"):
        asyncio.run(wait_for_rollout(read, timeout_s=5, poll_s=0.01, fail_fast=refuse))


def test_a_live_rollout_shows_kubectls_lines_in_kubectls_order(tmp_path: Path) -> None:
    with shop_cluster() as cluster:
        target = make_target(cluster, tmp_path)
        state = asyncio.run(
            target.rolling_update(VersionSpec("v1.4.3", "hotfix/1.4.3"), batch_size=1)
        )

    lines = state.details["rollout"]["messages"]
    assert lines[-1] == 'deployment "shop" successfully rolled out'
    kinds = [
        "spec update"
        if "spec update" in line
        else "updated"
        if "new replicas have been updated" in line
        else "old"
        if "pending termination" in line
        else "available"
        if "updated replicas are available" in line
        else "done"
        for line in lines
    ]
    order = ["spec update", "updated", "old", "available", "done"]
    assert kinds == sorted(kinds, key=order.index)  # kubectl's checks never go backwards here
    assert "updated" in kinds
