"""An in-memory `Target` with scripted behaviour, and a `Verifier` that reads it.

`MemoryTarget` keeps versions, weights and flags in memory and logs every operation, so
tests can count mutations (a resumed run must not repeat one). Each version has a scripted
`Behaviour`: health (healthy / failing / flapping), smoke result, error rate and latency —
optionally only while it has at least some share of traffic, to model load-dependent
regressions. Faults: `fail_on` makes an operation raise `TargetError`; `crash_after` makes
it raise `SimulatedCrash` (a BaseException: nothing gets to write `failed`) right after the
change took effect, like a process killed between the target's ack and the journal write.

`MemoryVerifier` answers health and smoke checks from those scripts, "drives" traffic by
asking the target to serve synthetic requests by weight, and judges with the real
`tools.deploy.verification.analysis.analyze`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tools.deploy.target import (
    StagedVersion,
    TargetError,
    TargetState,
    VersionMetrics,
    VersionSpec,
)
from tools.deploy.verification.analysis import analyze
from tools.deploy.verification.settings import AnalysisSettings
from tools.deploy.verifier import observation_window

PRODUCTION_URL = "memory://production"
FaultMode = Literal["fail", "crash_before", "crash_after"]


class SimulatedCrash(BaseException):
    """The deploying process died here."""


class FakeClock:
    """Epoch seconds that move only when told to; `sleep` advances them."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Behaviour:
    """How one version behaves."""

    health: Literal["healthy", "failing", "flapping"] = "healthy"
    smoke_passes: bool = True
    smoke_via_production: bool = True  # False: passes on its own URL, fails via the router
    error_rate: float = 0.0
    errors_from_weight: int = 0  # error_rate applies only while weight >= this
    latency_ms: float = 20.0


class MemoryTarget:
    """A `Target` (plus feature flags) living in a few dicts."""

    name = "memory"

    def __init__(
        self,
        production: str = "v1.0.0",
        *,
        instances: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.instances = instances
        self.behaviours: dict[str, Behaviour] = {production: Behaviour()}
        self.running: set[str] = {production}
        self.weights: dict[str, int] = {production: 100}
        self.flags: dict[str, bool] = {}
        self.flag_health: dict[tuple[str, bool], bool] = {}
        self.ops: list[tuple[str, Any]] = []
        self.requests: list[tuple[float, str, bool, float]] = []  # ts, label, error, latency
        self._faults: list[tuple[str, Any, FaultMode]] = []
        self._error_debt: dict[str, float] = {}
        self._probes: dict[str, int] = {}

    # -- scripting ----------------------------------------------------------------------

    def script(self, label: str, **behaviour: Any) -> None:
        """Set how `label` behaves (see `Behaviour`), before or after it is staged."""
        self.behaviours[label] = Behaviour(**behaviour)

    def script_flag(self, name: str, value: bool, *, healthy: bool) -> None:
        """Production health while flag `name` has `value`."""
        self.flag_health[(name, value)] = healthy

    def fail_on(self, op: str, arg: Any = None) -> None:
        """Next `op` (with argument `arg`, if given) raises TargetError without effect."""
        self._faults.append((op, arg, "fail"))

    def crash_after(self, op: str, arg: Any = None) -> None:
        """Next `op` (matching `arg`) takes effect, then raises SimulatedCrash."""
        self._faults.append((op, arg, "crash_after"))

    def crash_before(self, op: str, arg: Any = None) -> None:
        """Next `op` (matching `arg`) raises SimulatedCrash before taking effect."""
        self._faults.append((op, arg, "crash_before"))

    def count(self, op: str) -> int:
        """How many times `op` took effect."""
        return sum(1 for name, _ in self.ops if name == op)

    # -- Target protocol ----------------------------------------------------------------

    async def state(self) -> TargetState:
        versions = {label: StagedVersion(label, f"memory://{label}") for label in self.running}
        details = {"instances": self.instances}
        return TargetState(PRODUCTION_URL, dict(self.weights), versions, details)

    async def stage(self, version: VersionSpec) -> StagedVersion:
        crash = self._fault("stage", version.label)
        self.running.add(version.label)
        self.behaviours.setdefault(version.label, Behaviour())
        self.ops.append(("stage", version.label))
        if crash:
            raise SimulatedCrash("stage")
        return StagedVersion(version.label, f"memory://{version.label}")

    async def set_weights(self, weights: dict[str, int]) -> TargetState:
        wanted = {label: share for label, share in weights.items() if share}
        if sum(wanted.values()) != 100 or not set(wanted) <= self.running:
            raise TargetError(f"invalid weights {weights} for running {sorted(self.running)}")
        crash = self._fault("set_weights", wanted)
        self.weights = wanted
        self.ops.append(("set_weights", dict(wanted)))
        if crash:
            raise SimulatedCrash("set_weights")
        return await self.state()

    async def retire(self, label: str) -> None:
        if self.weights.get(label):
            raise TargetError(f"{label} still has traffic")
        crash = self._fault("retire", label)
        self.running.discard(label)
        self.ops.append(("retire", label))
        if crash:
            raise SimulatedCrash("retire")

    async def metrics(self, label: str, since: float) -> VersionMetrics:
        seen = [r for r in self.requests if r[1] == label and r[0] >= since]
        errors = sum(1 for r in seen if r[2])
        return VersionMetrics(label, len(seen), errors, [r[3] for r in seen])

    async def get_flag(self, name: str) -> bool | None:
        return self.flags.get(name)

    async def set_flag(self, name: str, value: bool) -> bool | None:
        crash = self._fault("set_flag", name)
        previous = self.flags.get(name)
        self.flags[name] = value
        self.ops.append(("set_flag", (name, value)))
        if crash:
            raise SimulatedCrash("set_flag")
        return previous

    # -- what the verifier observes -----------------------------------------------------

    def serve(self, count: int, start: float, duration_s: float) -> None:
        """Record `count` synthetic requests split by weight, spread over the window."""
        for index in range(count):
            label = self._route(index)
            behaviour = self.behaviours[label]
            rate = behaviour.error_rate
            if self.weights.get(label, 0) < behaviour.errors_from_weight:
                rate = 0.0
            debt = self._error_debt.get(label, 0.0) + rate
            error = debt >= 1.0
            self._error_debt[label] = debt - 1.0 if error else debt
            latency = behaviour.latency_ms + ((index * 7) % 11 - 5) * 0.4
            self.requests.append((start + duration_s * index / count, label, error, latency))

    def healthy(self, label: str) -> bool:
        """Scripted health of one version; flapping alternates probe by probe."""
        behaviour = self.behaviours.get(label)
        if behaviour is None or label not in self.running:
            return False
        if behaviour.health == "flapping":
            self._probes[label] = self._probes.get(label, 0) + 1
            return self._probes[label] % 2 == 1
        return behaviour.health == "healthy"

    def production_healthy(self) -> bool:
        """Every version with traffic is healthy and no switched flag breaks production."""
        flags_ok = all(self.flag_health.get(item, True) for item in self.flags.items())
        return flags_ok and all(self.healthy(label) for label in self.weights)

    def _route(self, index: int) -> str:
        slot = index % 100
        for label, share in sorted(self.weights.items()):
            if slot < share:
                return label
            slot -= share
        raise AssertionError("weights do not sum to 100")

    def _fault(self, op: str, arg: Any) -> bool:
        for index, (name, wanted, mode) in enumerate(self._faults):
            if name == op and (wanted is None or wanted == arg):
                del self._faults[index]
                if mode == "fail":
                    raise TargetError(f"scripted failure of {op}({arg!r})")
                if mode == "crash_before":
                    raise SimulatedCrash(f"before {op}")
                return True
        return False


class MemoryVerifier:
    """A `Verifier` answering from a `MemoryTarget`'s scripts; real analysis statistics."""

    def __init__(
        self,
        target: MemoryTarget,
        *,
        clock: FakeClock | None = None,
        window_s: float = 3.0,
        rps: float = 100.0,
        health_duration_s: float = 0.0,
    ) -> None:
        self.target = target
        self.clock = clock
        self.window_s = window_s
        self.rps = rps
        self.health_duration_s = health_duration_s
        self.settings = AnalysisSettings(window_s=window_s, load_rps=rps)
        self.health_urls: list[str] = []
        # Set to a dict (`outcome`, `score`, `reasons`) to script every analysis verdict.
        self.forced_analysis: dict[str, Any] | None = None

    @property
    def analysis_window_s(self) -> float:
        return self.window_s

    @property
    def generates_load(self) -> bool:
        return True

    def window_for(self, percent: int) -> float:
        return observation_window(self.settings, percent, True)

    async def health(self, base_url: str) -> dict[str, Any]:
        self.health_urls.append(base_url)
        if self.clock is not None:
            self.clock.advance(self.health_duration_s)
        label = base_url.removeprefix("memory://")
        ok = (
            self.target.production_healthy()
            if base_url == PRODUCTION_URL
            else (self.target.healthy(label))
        )
        message = "healthy" if ok else f"{base_url} answered 503"
        return {"kind": "health", "name": "health", "passed": ok, "details": {"message": message}}

    async def smoke(self, base_url: str, workdir: Path | None) -> list[dict[str, Any]]:
        if base_url == PRODUCTION_URL:
            behaviours = [self.target.behaviours[label] for label in self.target.weights]
            ok = all(b.smoke_passes and b.smoke_via_production for b in behaviours)
        else:
            ok = self.target.behaviours[base_url.removeprefix("memory://")].smoke_passes
        message = "checkout works" if ok else "POST /checkout returned 500"
        details = {"message": message}
        return [{"kind": "smoke", "name": "checkout", "passed": ok, "details": details}]

    async def drive_load(self, base_url: str, duration_s: float) -> dict[str, Any]:
        count = int(self.rps * duration_s)
        if self.clock is not None:
            self.target.serve(count, self.clock(), duration_s)
            self.clock.advance(duration_s)
        else:
            # Real time: no waiting; a short pause keeps the next window's start after these.
            self.target.serve(count, time.time(), 0.0)
            await asyncio.sleep(0.002)
        return {"sent": count, "failed": 0}

    def analyze(self, baseline: VersionMetrics, candidate: VersionMetrics) -> dict[str, Any]:
        if self.forced_analysis is not None:
            return dict(self.forced_analysis)
        return analyze(baseline, candidate, self.settings).to_dict()
