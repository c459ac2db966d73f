"""`MonitorRunbook`: the LLM-free driver of the monitoring tools (like `agent.runbook`).

It reads the window, interval and rollback plan from the handoff packet in its request,
then: one health check; samples in batches until the window is over; at a confirmed
regression, the target's events (evidence) and — unless the packet says recommend-only —
the gated rollback; after a rollback, one more health check. Its only text is the factual
final summary. A denied rollback is reported as recommended, never retried.
"""

from __future__ import annotations

import math
from enum import Enum, auto
from typing import Any

from agent.models.base import (
    ContentBlock,
    ModelRequest,
    ModelResponse,
    ToolObservation,
    final_turn,
    first_user_text,
    tool_use_turn,
)
from handoffs.contract import HandoffPacket, packet_from_text

MONITOR_RUNBOOK_ID = "monitor-runbook"
_MAX_TURNS_FOR_SAMPLES = 40  # the loop's default turn limit is 60: leave room for the rest


class _Phase(Enum):
    START = auto()
    WATCH = auto()
    ROLLBACK = auto()
    CONFIRM = auto()
    RECOMMEND = auto()
    DONE = auto()


class MonitorRunbook:
    """A `ModelClient` that runs the post-fix monitoring runbook from tool results.

    Args:
        rollback_reason: Roll back at once with this reason instead of watching first.
    """

    def __init__(self, rollback_reason: str | None = None) -> None:
        self._force = rollback_reason
        self._phase = _Phase.START
        self._packet: HandoffPacket | None = None
        self._remaining = 0
        self._batch = 1
        self._seen: list[ToolObservation] = []
        self._counter = 0
        self._regression: str | None = None
        self._samples = 0

    @property
    def model_id(self) -> str:
        return MONITOR_RUNBOOK_ID

    def observe_tool_results(self, observations: list[ToolObservation]) -> None:
        self._seen = observations

    async def aclose(self) -> None:
        return None

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self._phase is _Phase.START:
            return self._start(request)
        if self._phase is _Phase.WATCH:
            return self._after_metrics()
        if self._phase is _Phase.ROLLBACK:
            return self._after_rollback()
        if self._phase is _Phase.CONFIRM:
            return self._after_confirm()
        if self._phase is _Phase.RECOMMEND:
            self._phase = _Phase.DONE
            assert self._packet is not None
            why = (
                "rollback on regression is off in [monitoring]"
                if self._packet.monitoring.rollback_on_regression is False
                else f"the packet has no automated rollback ({self._packet.rollback.state})"
            )
            return _final(self._recommend(why))
        return _final("Nothing further to do.")

    def _start(self, request: ModelRequest) -> ModelResponse:
        self._packet = packet_from_text(first_user_text(request))
        if self._packet is None:
            self._phase = _Phase.DONE
            return _final(
                "Not monitored: the request carries no handoff packet "
                "(start monitoring with `hotfix monitor RUN`)."
            )
        if self._force:
            self._regression = self._force
            self._phase = _Phase.ROLLBACK
            return _turn([self._use("monitor_rollback", {"reason": self._force})])
        plan = self._packet.monitoring
        total = max(1, math.ceil(plan.window_s / plan.interval_s - 1e-9))
        self._remaining = total
        self._batch = max(12, math.ceil(total / _MAX_TURNS_FOR_SAMPLES))
        self._phase = _Phase.WATCH
        return _turn([self._use("monitor_health", {}), self._metrics_call()])

    def _metrics_call(self) -> ContentBlock:
        assert self._packet is not None
        count = min(self._remaining, self._batch)
        args = {"window_s": self._packet.monitoring.interval_s, "samples": count}
        return self._use("monitor_metrics", args)

    def _after_metrics(self) -> ModelResponse:
        metrics = self._get("monitor_metrics")
        if metrics is None or metrics.status != "ok" or not metrics.data:
            self._phase = _Phase.DONE
            why = metrics.text if metrics else "the metrics tool returned nothing"
            return _final(f"Monitoring failed: {why}")
        data = metrics.data
        taken = len(data.get("samples") or [])
        self._samples += taken
        self._remaining -= taken
        if data.get("verdict") == "regression":
            regression: dict[str, Any] = data.get("regression") or {}
            self._regression = "; ".join(str(r) for r in regression.get("reasons") or [])
            calls = [self._use("monitor_events", {})]
            if self._can_roll_back():
                reason = f"post-fix monitoring: {self._regression}"
                calls.append(self._use("monitor_rollback", {"reason": reason}))
                self._phase = _Phase.ROLLBACK
                return _turn(calls)
            self._phase = _Phase.RECOMMEND  # evidence first, then the recommendation
            return _turn(calls)
        if self._remaining > 0:
            return _turn([self._metrics_call()])
        self._phase = _Phase.DONE
        return _final(self._healthy_summary(data))

    def _after_rollback(self) -> ModelResponse:
        rollback = self._get("monitor_rollback")
        if rollback is None:
            self._phase = _Phase.DONE
            return _final("Rollback was not attempted.")
        if rollback.status == "denied":
            self._phase = _Phase.DONE
            return _final(self._recommend(f"the rollback was not approved ({rollback.text})"))
        if rollback.status != "ok":
            self._phase = _Phase.DONE
            return _final(
                f"Status: rollback_failed. Regression: {self._regression}. The "
                f"rollback failed: {rollback.text}. Production needs attention now."
            )
        self._phase = _Phase.CONFIRM
        return _turn([self._use("monitor_health", {})])

    def _after_confirm(self) -> ModelResponse:
        self._phase = _Phase.DONE
        health = self._get("monitor_health")
        ok = health is not None and bool((health.data or {}).get("passed"))
        assert self._packet is not None
        previous = self._packet.previous_version
        return _final(
            f"Status: rolled_back. Regression: {self._regression}. Production was rolled back "
            f"to {previous} and is {'healthy' if ok else 'NOT healthy'}. Next: plan the next "
            "bug fix (handoff offered, not started)."
        )

    def _can_roll_back(self) -> bool:
        packet = self._packet
        assert packet is not None
        return (
            packet.monitoring.rollback_on_regression
            and packet.status == "deployed"
            and packet.rollback.state in ("available", "redeploy")
        )

    def _recommend(self, why: str) -> str:
        assert self._packet is not None
        if self._packet.status != "deployed":
            return (
                f"Status: rollback_recommended. Regression: {self._regression}. Investigate "
                f"{self._packet.watched_version} now: the fix was not deployed ("
                f"{self._packet.rollback.summary}); nothing was changed because {why}."
            )
        return (
            f"Status: rollback_recommended. Regression: {self._regression}. Roll back "
            f"{self._packet.version} now ({self._packet.rollback.summary}); not done because "
            f"{why}."
        )

    def _healthy_summary(self, data: dict[str, Any]) -> str:
        assert self._packet is not None
        verdict = data.get("verdict")
        what = "healthy" if verdict == "healthy" else "inconclusive (no traffic)"
        return (
            f"Status: {what}. {self._packet.watched_version} was watched for {self._samples} "
            f"sample(s) of {self._packet.monitoring.interval_s:g} s; no regression beyond the "
            "thresholds. Nothing was changed."
        )

    def _get(self, tool: str) -> ToolObservation | None:
        return next((o for o in self._seen if o.tool == tool), None)

    def _use(self, name: str, args: dict[str, Any]) -> ContentBlock:
        self._counter += 1
        return {
            "type": "tool_use",
            "id": f"toolu_monitor_{self._counter:03d}",
            "name": name,
            "input": args,
        }


def _turn(blocks: list[ContentBlock]) -> ModelResponse:
    return tool_use_turn(blocks, MONITOR_RUNBOOK_ID)


def _final(text: str) -> ModelResponse:
    return final_turn(text, MONITOR_RUNBOOK_ID)
