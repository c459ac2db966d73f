"""The monitoring session: the handoff packet, the target it watches, and what was seen so far.

The monitor tools find their session in `ctx.extras["monitor"]`, building it on first use
from the packet. The packet comes from `MonitorWiring` when `run_monitor` started the run
(it also lets tests put an in-memory target and a fake clock in), else from the run's own
request text, where `packet_message` put it: either way the agent starts from the packet
alone. The target is built from the packet's workspace configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from agent.journal import read_journal
from handoffs.contract import HandoffPacket, MetricBaseline, packet_from_text
from tools.base import ToolContext, ToolError
from tools.deploy.steps import Details, EngineState, StepRunner
from tools.deploy.target import Target
from tools.deploy.verifier import Verifier

SESSION_KEY = "monitor"


@dataclass
class MonitorWiring:
    """What `run_monitor` (or a test) hands the tools directly instead of building it."""

    packet: HandoffPacket | None = None
    target: Target | None = None
    verifier: Verifier | None = None
    clock: Callable[[], float] | None = None


_WIRING: ContextVar[MonitorWiring | None] = ContextVar("hotfix_monitor_wiring", default=None)


@contextmanager
def wired(wiring: MonitorWiring) -> Generator[None]:
    """Make `wiring` visible to the monitor tools of sessions run inside this block."""
    token = _WIRING.set(wiring)
    try:
        yield
    finally:
        _WIRING.reset(token)


@dataclass
class MonitorSession:
    """One monitoring run's packet, target, verifier, and the samples taken so far."""

    packet: HandoffPacket
    target: Target
    verifier: Verifier
    clock: Callable[[], float]
    steps: StepRunner
    state: EngineState
    samples: list[Details] = field(default_factory=list[Details])
    streak: int = 0
    regression: Details | None = None

    @property
    def watched(self) -> str | None:
        """The version production should serve now (the fix, or the rolled-back-to one)."""
        return self.packet.watched_version

    @property
    def baseline(self) -> MetricBaseline | None:
        """The metric baseline of the watched version, from the packet."""
        if self.watched is not None and self.watched == self.packet.version:
            return self.packet.baseline
        return self.packet.previous_baseline

    @classmethod
    def of(cls, ctx: ToolContext) -> MonitorSession:
        """The run's session, built on first use.

        Raises:
            ToolError: no packet, or the target cannot be reached.
        """
        existing = ctx.extras.get(SESSION_KEY)
        if isinstance(existing, MonitorSession):
            return existing
        wiring = _WIRING.get() or MonitorWiring()
        packet = wiring.packet or _packet_from_request(ctx)
        if packet is None:
            raise ToolError(
                "this run has no handoff packet to monitor: start it with `hotfix monitor RUN`"
            )
        clock = wiring.clock or time.time
        target = wiring.target or _build_target(ctx)
        verifier = wiring.verifier or _build_verifier(ctx, packet)
        state = EngineState()
        session = cls(packet, target, verifier, clock, StepRunner(ctx.journal, state, clock), state)
        ctx.extras[SESSION_KEY] = session
        return session


def _packet_from_request(ctx: ToolContext) -> HandoffPacket | None:
    if ctx.journal is None:
        return None
    for record in read_journal(ctx.journal.path):
        if record.get("type") == "run_started":
            return packet_from_text(str(record.get("description") or ""))
    return None


def _build_target(ctx: ToolContext) -> Target:
    from tools.deploy.target import TargetError
    from tools.deploy.targets.factory import build_target
    from tools.deploy.targets.local import LocalTarget, environment_status

    try:
        target = build_target(ctx.config, ctx.workspace)
    except TargetError as exc:
        raise ToolError(str(exc)) from exc
    # A LocalTarget would start a fresh, empty environment on first use: that is not the
    # production this packet describes.
    if isinstance(target, LocalTarget) and environment_status(target.state_dir) is None:
        raise ToolError(
            f"the local environment in {target.state_dir} is not running: there is no "
            "production to monitor (was the demo run with --keep-running?)"
        )
    return target


def _build_verifier(ctx: ToolContext, packet: HandoffPacket) -> Verifier:
    """Real health checks, made quick: one probe per sample, never a 30 s wait."""
    from tools.deploy.verifier import DefaultVerifier

    settings = ctx.config.deploy.verification
    # max_wait_s below the probe interval: exactly one probe, whatever its answer.
    health = settings.health.model_copy(update={"consecutive_successes": 1, "max_wait_s": 0.01})
    plan = packet.monitoring
    analysis = settings.analysis.model_copy(
        update={
            "load_paths": plan.load_paths or settings.analysis.load_paths,
            "load_rps": plan.load_rps or settings.analysis.load_rps,
        }
    )
    quick = settings.model_copy(update={"health": health, "analysis": analysis})
    return DefaultVerifier(quick, workspace=ctx.workspace, generate_load=plan.synthetic_load)


def describe(data: dict[str, Any]) -> str:
    """`key=value` pairs for compact tool texts."""
    return ", ".join(f"{k}={v}" for k, v in data.items() if v is not None)
