"""The post-fix-monitoring agent's tools (`monitor/*`): health, metrics, events, rollback.

Three reads and one production change. `monitor_rollback` adds no safety logic of its own:
the gate asks for approval (effect `production`, never "allow always"), and the procedure
is the packet's rollback plan, carried out as journaled steps.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from handoffs.monitoring.probes import take_sample
from handoffs.monitoring.restore import restore_previous
from handoffs.monitoring.session import MonitorSession
from tools.base import Effect, Tool, ToolArgs, ToolContext, ToolError, ToolResult
from tools.deploy.target import TargetError


class _MonitorTool(Tool):
    source: ClassVar[str] = "monitor"

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        try:
            return await self.execute(args, MonitorSession.of(ctx), ctx)
        except TargetError as exc:
            raise ToolError(f"{self.name}: the target failed: {exc}") from exc

    @abstractmethod
    async def execute(self, args: Any, session: MonitorSession, ctx: ToolContext) -> ToolResult:
        """The tool's work, in the run's monitoring session."""


class HealthArgs(ToolArgs):
    smoke: bool = Field(default=False, description="Also run the configured smoke tests.")


class MonitorHealth(_MonitorTool):
    name = "monitor_health"
    description = (
        "Check production health now (one health probe through the production URL; with "
        "smoke=true also the configured smoke tests). No side effects."
    )
    args_model = HealthArgs
    effect = Effect.READ

    async def execute(
        self, args: HealthArgs, session: MonitorSession, ctx: ToolContext
    ) -> ToolResult:
        state = await session.target.state()
        checks = [await session.verifier.health(state.production_url)]
        if args.smoke and checks[0].get("passed"):
            checks += await session.verifier.smoke(state.production_url, None)
        passed = all(c.get("passed") for c in checks)
        failing = [
            f"{c.get('name')}: {(c.get('details') or {}).get('message')}"
            for c in checks
            if not c.get("passed")
        ]
        text = f"production {state.production_url} " + (
            "healthy" if passed else "UNHEALTHY: " + "; ".join(failing)
        )
        data = {
            "passed": passed,
            "url": state.production_url,
            "weights": state.weights,
            "checks": checks,
        }
        return ToolResult(text=text, data=data)


class MetricsArgs(ToolArgs):
    window_s: float = Field(default=5.0, ge=0.2, le=600, description="Length of each sample.")
    samples: int = Field(default=1, ge=1, le=120, description="Samples to take in a row.")


class MonitorMetrics(_MonitorTool):
    name = "monitor_metrics"
    description = (
        "Watch production for `samples` windows of `window_s` seconds each: error rate and "
        "p95 latency of the watched version plus a health probe per window, compared with the "
        "packet's baseline and thresholds. Stops early once a regression is confirmed "
        "(thresholds breached in enough consecutive samples). No side effects."
    )
    args_model = MetricsArgs
    effect = Effect.READ
    concurrent_safe = False  # samples must not interleave: the breach streak is sequential

    async def execute(
        self, args: MetricsArgs, session: MonitorSession, ctx: ToolContext
    ) -> ToolResult:
        taken: list[dict[str, Any]] = []
        for _ in range(args.samples):
            taken.append(await take_sample(session, args.window_s))
            if session.regression is not None:
                break
        regression = session.regression
        if regression is not None:
            verdict = "regression"
            text = f"REGRESSION confirmed at sample {regression['sample']}: " + "; ".join(
                regression["reasons"]
            )
        elif all(s["verdict"] == "no_data" for s in taken):
            verdict, text = "no_data", "no traffic and no health signal in these windows"
        else:
            verdict = "healthy"
            worst = max(taken, key=lambda s: s["error_rate"])
            text = (
                f"{len(taken)} sample(s) within thresholds; worst error rate "
                f"{100 * worst['error_rate']:.1f}% ({worst['errors']}/{worst['requests']})"
            )
            if session.streak:
                text += f"; {session.streak} breaching sample(s) in a row so far"
        data = {
            "verdict": verdict,
            "samples": taken,
            "regression": regression,
            "streak": session.streak,
            "total_samples": len(session.samples),
            "baseline": session.baseline.model_dump() if session.baseline else None,
            "thresholds": session.packet.monitoring.thresholds.model_dump(),
        }
        return ToolResult(text=text, data=data)


class EventsArgs(ToolArgs):
    lines: int = Field(default=20, ge=1, le=200, description="Log lines of the watched version.")


class MonitorEvents(_MonitorTool):
    name = "monitor_events"
    description = (
        "Read what the target reports: versions and their process status, traffic weights, "
        "the router's per-version statistics (local target) and the last log lines of the "
        "watched version. No side effects."
    )
    args_model = EventsArgs
    effect = Effect.READ

    async def execute(
        self, args: EventsArgs, session: MonitorSession, ctx: ToolContext
    ) -> ToolResult:
        state = await session.target.state()
        versions = {
            label: {k: v.details.get(k) for k in ("status", "exit_code", "ref", "pid")}
            for label, v in state.versions.items()
        }
        watched = state.versions.get(session.watched or "")
        log = _log_tail(watched.details.get("log") if watched else None, args.lines)
        stats = await _stats(state.details.get("stats_url"))
        exited = [k for k, v in versions.items() if v.get("status") not in (None, "running")]
        text = f"weights {state.weights}; versions {sorted(versions)}"
        if exited:
            text += f"; EXITED: {', '.join(exited)}"
        data = {
            "weights": state.weights,
            "versions": versions,
            "exited": exited,
            "stats": stats,
            "log_tail": log,
        }
        return ToolResult(text=text + (f"\nlast log lines:\n{log}" if log else ""), data=data)


class RollbackArgs(ToolArgs):
    reason: str = Field(min_length=1, description="The regression that calls for the rollback.")


class MonitorRollback(_MonitorTool):
    name = "monitor_rollback"
    description = (
        "Roll production back with the packet's rollback procedure (restore the previous "
        "version's traffic, starting it again if it was retired), verify production health, "
        "retire the fix. A production change: it always needs approval. Safe to repeat."
    )
    args_model = RollbackArgs
    effect = Effect.PRODUCTION
    concurrent_safe = False

    async def execute(
        self, args: RollbackArgs, session: MonitorSession, ctx: ToolContext
    ) -> ToolResult:
        result = await restore_previous(session, ctx, args.reason)
        healthy = "healthy" if result["verified"] else "NOT healthy"
        return ToolResult(
            text=f"rolled back ({result['weights']}); production {healthy}", data=result
        )


def _log_tail(path: Any, lines: int) -> str:
    if not isinstance(path, str) or not path:
        return ""
    from tools.deploy.targets.local.supervisor import tail

    return tail(Path(path), lines)


async def _stats(url: Any) -> dict[str, Any] | None:
    """The local router's stats page (loopback only: it is our own router)."""
    from tools.deploy.verifier import is_loopback_url

    if not isinstance(url, str) or not is_loopback_url(url):
        return None
    import httpx2

    try:
        async with httpx2.AsyncClient(timeout=3.0, trust_env=False) as client:
            response = await client.get(url)
        data = response.json()
    except (httpx2.HTTPError, ValueError):
        return None
    return data if isinstance(data, dict) else None  # pyright: ignore[reportUnknownVariableType]


MONITOR_TOOLS: tuple[type[Tool], ...] = (
    MonitorHealth,
    MonitorMetrics,
    MonitorEvents,
    MonitorRollback,
)


def monitor_tools() -> list[Tool]:
    """One instance of each monitoring tool."""
    return [tool() for tool in MONITOR_TOOLS]
