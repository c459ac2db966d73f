"""`kubectl rollout status deployment/<name>`, reproduced exactly.

`deployment_status` is kubectl's `DeploymentStatusViewer.Status`
(k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go), check for check and message for
message, including the trailing newline kubectl prints. `wait_for_rollout` polls it the
way `kubectl rollout status` watches: it keeps every distinct message, returns when the
rollout is done, and raises when kubectl would exit non-zero (the progress deadline, a
revision mismatch) or when our own timeout or a fail-fast check ends the wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tools.deploy.target import TargetError
from tools.deploy.targets.kubernetes._objects import Obj, go_quote, revision

TIMED_OUT_REASON = "ProgressDeadlineExceeded"


class RolloutError(TargetError):
    """kubectl's own error for a rollout that cannot finish (its exact text)."""


@dataclass(frozen=True)
class RolloutStatus:
    """One status line (with kubectl's trailing newline) and whether the rollout is done."""

    message: str
    done: bool


def deployment_status(deployment: Obj, want_revision: int = 0) -> RolloutStatus:
    """kubectl's verdict on a Deployment's rollout, from the Deployment alone.

    Args:
        deployment: The Deployment as the API server returns it (JSON).
        want_revision: `--revision`: fail unless the Deployment is at this revision (0: any).

    Raises:
        RolloutError: The progress deadline was exceeded, or the revision differs.
    """
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = go_quote(str(meta.get("name", "")))
    if want_revision > 0:
        try:
            current = revision(deployment)
        except TargetError as exc:
            raise RolloutError(f"cannot get the revision of deployment {name}: {exc}") from None
        if want_revision != current:
            raise RolloutError(
                f"desired revision ({want_revision}) is different from the running revision "
                f"({current})"
            )
    if int(meta.get("generation", 0)) <= int(status.get("observedGeneration", 0)):
        progressing = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), None
        )
        if progressing is not None and progressing.get("reason") == TIMED_OUT_REASON:
            raise RolloutError(f"deployment {name} exceeded its progress deadline")
        replicas = spec.get("replicas")  # a pointer in Go: absent means "not set"
        updated = int(status.get("updatedReplicas", 0))
        total = int(status.get("replicas", 0))
        available = int(status.get("availableReplicas", 0))
        if replicas is not None and updated < int(replicas):
            return RolloutStatus(
                f"Waiting for deployment {name} rollout to finish: {updated} out of {replicas} "
                "new replicas have been updated...\n",
                False,
            )
        if total > updated:
            return RolloutStatus(
                f"Waiting for deployment {name} rollout to finish: {total - updated} old "
                "replicas are pending termination...\n",
                False,
            )
        if available < updated:
            return RolloutStatus(
                f"Waiting for deployment {name} rollout to finish: {available} of {updated} "
                "updated replicas are available...\n",
                False,
            )
        return RolloutStatus(f"deployment {name} successfully rolled out\n", True)
    return RolloutStatus("Waiting for deployment spec update to be observed...\n", False)


@dataclass
class RolloutWatch:
    """What a wait saw: every distinct status line, in order."""

    messages: list[str] = field(default_factory=list[str])
    polls: int = 0

    def add(self, message: str) -> None:
        line = message.rstrip("\n")
        if not self.messages or self.messages[-1] != line:
            self.messages.append(line)


class RolloutTimeout(TargetError):
    """Our own wait ran out before kubectl's logic reached a verdict."""


class RolloutAborted(TargetError):
    """A fail-fast check stopped the wait (a pod that cannot start)."""


async def wait_for_rollout(
    read: Callable[[], Awaitable[Obj]],
    *,
    timeout_s: float,
    poll_s: float,
    fail_fast: Callable[[Obj], Awaitable[str | None]] | None = None,
    watch: RolloutWatch | None = None,
) -> RolloutWatch:
    """Poll `read()` until `deployment_status` says done.

    Args:
        read: Returns the Deployment's current JSON.
        timeout_s: Give up after this long (`RolloutTimeout`).
        poll_s: Time between polls.
        fail_fast: Called with the Deployment while not done; a returned reason stops the
            wait with `RolloutAborted`.
        watch: Collects the status lines (a new one by default).

    Raises:
        RolloutError: kubectl's verdict: progress deadline exceeded.
        RolloutTimeout: `timeout_s` passed first.
        RolloutAborted: `fail_fast` gave a reason.
    """
    watch = watch or RolloutWatch()
    deadline = time.monotonic() + timeout_s
    while True:
        deployment = await read()
        watch.polls += 1
        status = deployment_status(deployment)
        watch.add(status.message)
        if status.done:
            return watch
        if fail_fast is not None and (reason := await fail_fast(deployment)) is not None:
            raise RolloutAborted(reason)
        if time.monotonic() >= deadline:
            raise RolloutTimeout(
                f"timed out after {timeout_s:g}s waiting for the rollout; last status: "
                f"{watch.messages[-1]}"
            )
        await asyncio.sleep(poll_s)
