"""In-memory deployment targets with the shape of the real ones, a fake clock and faults.

`SimTarget` implements `tools.deploy.target.Target` (plus feature flags) for three
profiles: `local` (one instance per version, a router in front), `appservice` (a
production and a staging slot, traffic routing between them, swaps through "ARM") and
`kubernetes` (`SimKubernetesTarget`: replicas and a native rolling update, so the engine
treats it as a `RollingTarget`). Every mutation is logged with the tool call that caused
it, which is what the eval graders check approvals and invariants against.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evals.simulated.behaviour import Fault, VersionBehaviour
from evals.simulated.clock import FakeClock
from tools.deploy.target import (
    StagedVersion,
    TargetError,
    TargetState,
    VersionMetrics,
    VersionSpec,
)

PROFILES = ("local", "appservice", "kubernetes")


@dataclass(frozen=True)
class Profile:
    """What distinguishes one simulated platform from another."""

    name: str
    production_url: str
    version_url: str  # `{label}` is replaced
    instances: int
    max_versions: int  # versions that can run at once (App Service: two slots)


_PROFILES = {
    # `.invalid` never resolves: nothing can reach these URLs by accident.
    "local": Profile("local", "http://shop.local.sim.invalid:8080",
                     "http://{label}.local.sim.invalid:8080", 1, 8),
    "appservice": Profile("appservice", "https://shop.azurewebsites.sim.invalid",
                          "https://shop-{label}.azurewebsites.sim.invalid", 2, 2),
    "kubernetes": Profile("kubernetes", "http://shop.prod.svc.sim.invalid",
                          "http://shop-{label}.prod.svc.sim.invalid", 4, 8),
}  # fmt: skip


@dataclass(frozen=True)
class SimOp:
    """One mutation the target carried out, and the tool call it happened in."""

    index: int
    op: str
    args: dict[str, Any]
    call_id: str | None
    journal_seq: int


Attribution = Callable[[], tuple[str | None, int]]


@dataclass
class _Request:
    ts: float
    label: str
    error: bool
    latency_ms: float


class SimTarget:
    """A simulated target; see the module docstring for the profiles."""

    def __init__(
        self,
        profile: str,
        production: str,
        behaviours: dict[str, VersionBehaviour],
        *,
        clock: FakeClock,
        faults: list[Fault] | None = None,
        flags: dict[str, bool] | None = None,
        broken_flags: dict[str, bool] | None = None,
    ) -> None:
        self.profile = _PROFILES[profile]
        self.name = f"{profile} (simulated)"
        self.clock = clock
        self.behaviours = dict(behaviours)
        self.behaviours.setdefault(production, VersionBehaviour())
        self.running: dict[str, float] = {production: clock()}  # label -> staged at
        self.weights: dict[str, int] = {production: 100}
        self.flags = dict(flags or {})
        self.broken_flags = dict(broken_flags or {})  # flag value that breaks production
        self.ops: list[SimOp] = []
        self.attribution: Attribution = lambda: (None, 0)
        self._faults = [(f, f.times) for f in faults or []]
        self._requests: list[_Request] = []
        self._error_debt: dict[str, float] = {}
        self._probes: dict[str, int] = {}

    # -- Target protocol ----------------------------------------------------------------

    async def state(self) -> TargetState:
        versions = {label: StagedVersion(label, self.url_of(label)) for label in self.running}
        details = {"instances": self.profile.instances, "profile": self.profile.name}
        return TargetState(self.profile.production_url, dict(self.weights), versions, details)

    async def stage(self, version: VersionSpec) -> StagedVersion:
        self._check_fault("stage", version.label)
        if version.label not in self.running:
            idle = [label for label in self.running if not self.weights.get(label)]
            if len(self.running) >= self.profile.max_versions and not idle:
                raise TargetError(
                    f"no free slot for {version.label}: every slot serves production traffic"
                )
            if len(self.running) >= self.profile.max_versions:
                del self.running[idle[0]]  # a deployment to the staging slot replaces it
            self.running[version.label] = self.clock()
        self.behaviours.setdefault(version.label, VersionBehaviour())
        self._record("stage", {"label": version.label, "ref": version.ref})
        return StagedVersion(version.label, self.url_of(version.label))

    async def set_weights(self, weights: dict[str, int]) -> TargetState:
        wanted = {label: share for label, share in weights.items() if share}
        for label, share in wanted.items():
            self._check_fault("set_weights", f"{label}:{share}")
        if sum(wanted.values()) != 100 or not set(wanted) <= set(self.running):
            raise TargetError(f"invalid weights {weights} for versions {sorted(self.running)}")
        self.weights = wanted
        self._record("set_weights", {"weights": dict(wanted)})
        return await self.state()

    async def retire(self, label: str) -> None:
        self._check_fault("retire", label)
        if self.weights.get(label):
            raise TargetError(f"{label} still receives traffic")
        self.running.pop(label, None)
        self._record("retire", {"label": label})

    async def metrics(self, label: str, since: float) -> VersionMetrics:
        seen = [r for r in self._requests if r.label == label and r.ts >= since]
        errors = sum(1 for r in seen if r.error)
        return VersionMetrics(label, len(seen), errors, [r.latency_ms for r in seen])

    async def get_flag(self, name: str) -> bool | None:
        return self.flags.get(name)

    async def set_flag(self, name: str, value: bool) -> bool | None:
        self._check_fault("set_flag", name)
        previous = self.flags.get(name)
        self.flags[name] = value
        self._record("set_flag", {"name": name, "value": value})
        return previous

    # -- what the verifier observes -------------------------------------------------------

    def url_of(self, label: str) -> str:
        return self.profile.version_url.format(label=label.replace(".", "-"))

    def label_at(self, url: str) -> str | None:
        """The version answering at `url`; None for production or an unknown URL."""
        return next((label for label in self.running if self.url_of(label) == url), None)

    def probe(self, label: str) -> bool:
        """One health probe of `label` at the current simulated time."""
        behaviour = self.behaviours.get(label)
        if behaviour is None or label not in self.running:
            return False
        if self.clock() - self.running[label] < behaviour.warmup_s:
            return False
        if behaviour.health == "flapping":
            self._probes[label] = self._probes.get(label, 0) + 1
            return self._probes[label] % 2 == 1
        return behaviour.health == "healthy"

    def production_broken_by_flags(self) -> str | None:
        """The flag whose current value breaks production, if any."""
        for name, bad in self.broken_flags.items():
            if self.flags.get(name) == bad:
                return name
        return None

    def serve(self, count: int) -> None:
        """Record `count` synthetic requests through production, split by weight."""
        stamp = time.time()
        for index in range(count):
            label = self._route(index)
            behaviour = self.behaviours.get(label, VersionBehaviour())
            rate = behaviour.error_rate
            if self.weights.get(label, 0) < behaviour.errors_from_weight:
                rate = 0.0
            debt = self._error_debt.get(label, 0.0) + rate
            error = debt >= 1.0
            self._error_debt[label] = debt - 1.0 if error else debt
            latency = behaviour.latency_ms + ((index * 7) % 11 - 5) * 0.4
            self._requests.append(_Request(stamp, label, error, latency))
        # The engine stamps windows with the real clock: make the next window start later.
        while time.time() <= stamp:
            pass

    def _route(self, index: int) -> str:
        slot = index % 100
        for label, share in sorted(self.weights.items()):
            if slot < share:
                return label
            slot -= share
        raise TargetError("weights do not sum to 100")

    # -- faults and the operation log ---------------------------------------------------

    def _check_fault(self, op: str, arg: str) -> None:
        for index, (fault, left) in enumerate(self._faults):
            if fault.op == op and left > 0 and (fault.match is None or fault.match == arg):
                self._faults[index] = (fault, left - 1)
                raise TargetError(fault.message)

    def _record(self, op: str, args: dict[str, Any]) -> None:
        call_id, seq = self.attribution()
        self.ops.append(SimOp(len(self.ops), op, args, call_id, seq))

    def snapshot(self) -> dict[str, Any]:
        """The final state graders compare with the expected one."""
        return {
            "weights": dict(self.weights),
            "running": sorted(self.running),
            "flags": dict(self.flags),
            "mutations": len(self.ops),
        }


class SimKubernetesTarget(SimTarget):
    """Kubernetes: a Deployment with replicas, rolled natively and undone natively."""

    # Pod readiness probes: every 10 s; the rollout's progress deadline is 600 s (§6).
    probe_period_s = 10.0
    progress_deadline_s = 600.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.revisions: list[str] = [next(iter(self.weights))]

    async def rolling_update(self, version: VersionSpec, *, batch_size: int) -> TargetState:
        self._check_fault("rolling_update", version.label)
        self.running[version.label] = self.clock()
        self.behaviours.setdefault(version.label, VersionBehaviour())
        ready = self._wait_ready(version.label)
        self.weights = {version.label: 100}
        self.revisions.append(version.label)
        self._record("rolling_update", {"label": version.label, "batch_size": batch_size})
        if not ready:
            raise TargetError(
                f"rollout of {version.label} exceeded its progress deadline "
                "(ProgressDeadlineExceeded: pods never became ready)"
            )
        return await self.state()

    def _wait_ready(self, label: str) -> bool:
        # Readiness gates each batch: a version that never becomes ready stalls the rollout.
        deadline = self.clock() + self.progress_deadline_s
        streak = 0
        while self.clock() < deadline:
            streak = streak + 1 if self.probe(label) else 0
            if streak >= 3:
                return True
            self.clock.advance(self.probe_period_s)
        return False

    async def undo_rolling_update(self) -> TargetState:
        self._check_fault("undo_rolling_update", self.revisions[-1])
        if len(self.revisions) < 2:
            raise TargetError("no previous revision to roll back to")
        current = self.revisions.pop()
        previous = self.revisions[-1]
        self.running.setdefault(previous, self.clock())
        self.weights = {previous: 100}
        self.running.pop(current, None)
        self._record("undo_rolling_update", {"to": previous})
        return await self.state()


def build_target(
    profile: str, production: str, behaviours: dict[str, VersionBehaviour], **options: Any
) -> SimTarget:
    """The simulated target for `profile` (`local`, `appservice` or `kubernetes`)."""
    if profile not in _PROFILES:
        raise ValueError(f"unknown simulated target {profile!r}; choose one of {PROFILES}")
    cls = SimKubernetesTarget if profile == "kubernetes" else SimTarget
    return cls(profile, production, behaviours, **options)
