"""Optional OpenTelemetry spans derived from the journal (GenAI semantic conventions).

Off by default. With `[telemetry] otlp_endpoint` set and the `otel` extra installed, every
journal record becomes span data: the run is the root span; model turns are `chat` spans,
tool calls `execute_tool` spans (with the gate's decision as an event), deployment steps
spans of their own. Deriving spans from journal records keeps one source of truth: nothing
is traced that the journal does not say, and it is already redacted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_NS = 1_000_000_000


class JournalTracer:
    """Turns journal records into spans on an OpenTelemetry tracer."""

    def __init__(self, tracer: Any, run_id: str) -> None:
        self._tracer = tracer
        self._run_id = run_id
        self._root: Any = None
        self._context: Any = None
        self._tools: dict[str, Any] = {}
        self._steps: dict[str, Any] = {}

    def __call__(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        ts = int(float(record.get("ts", 0)) * _NS)
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(record, ts)

    def _on_run_started(self, record: dict[str, Any], ts: int) -> None:
        from opentelemetry import trace

        self._root = self._tracer.start_span(
            f"invoke_agent {record.get('agent')}", start_time=ts,
            attributes={"gen_ai.operation.name": "invoke_agent",
                        "gen_ai.agent.name": str(record.get("agent")),
                        "gen_ai.request.model": str(record.get("model")),
                        "hotfix.run_id": self._run_id})
        self._context = trace.set_span_in_context(self._root)

    def _on_model_turn(self, record: dict[str, Any], ts: int) -> None:
        start = ts - int(record.get("duration_ms", 0)) * 1_000_000
        span = self._tracer.start_span(
            f"chat {record.get('model')}", context=self._context, start_time=start,
            attributes={"gen_ai.operation.name": "chat",
                        "gen_ai.request.model": str(record.get("model")),
                        "gen_ai.response.finish_reasons": [str(record.get("stop_reason"))],
                        "gen_ai.usage.input_tokens": int(record.get("input_tokens", 0)),
                        "gen_ai.usage.output_tokens": int(record.get("output_tokens", 0))})
        span.end(end_time=ts)

    def _on_tool_requested(self, record: dict[str, Any], ts: int) -> None:
        self._tools[str(record.get("call_id"))] = self._tracer.start_span(
            f"execute_tool {record.get('tool')}", context=self._context, start_time=ts,
            attributes={"gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": str(record.get("tool")),
                        "gen_ai.tool.call.id": str(record.get("call_id")),
                        "hotfix.effect": str(record.get("effect"))})

    def _on_gate_decision(self, record: dict[str, Any], ts: int) -> None:
        span = self._tools.get(str(record.get("call_id")))
        if span is not None:
            span.add_event("gate_decision", timestamp=ts,
                           attributes={"decision": str(record.get("decision")),
                                       "rule": str(record.get("rule") or "")})

    def _on_tool_finished(self, record: dict[str, Any], ts: int) -> None:
        span = self._tools.pop(str(record.get("call_id")), None)
        if span is not None:
            span.set_attribute("hotfix.status", str(record.get("status")))
            span.end(end_time=ts)

    def _on_step(self, record: dict[str, Any], ts: int) -> None:
        step_id = str(record.get("step_id"))
        if record.get("phase") == "started":
            self._steps[step_id] = self._tracer.start_span(
                f"deploy_step {record.get('kind')}", context=self._context, start_time=ts,
                attributes={"hotfix.step_id": step_id, "hotfix.step_kind": str(record.get("kind"))})
            return
        span = self._steps.pop(step_id, None)
        if span is not None:
            span.set_attribute("hotfix.phase", str(record.get("phase")))
            span.end(end_time=ts)

    def _on_run_finished(self, record: dict[str, Any], ts: int) -> None:
        for span in [*self._tools.values(), *self._steps.values()]:
            span.end(end_time=ts)
        if self._root is not None:
            self._root.set_attribute("hotfix.stop_reason", str(record.get("stop_reason")))
            self._root.end(end_time=ts)


def open_otlp(endpoint: str) -> tuple[Any, Callable[[], None]]:
    """A tracer exporting to `endpoint` over OTLP/HTTP, and its shutdown (flushes spans).

    Raises:
        RuntimeError: the `otel` extra is not installed.
    """
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise RuntimeError("telemetry needs the otel extra: pip install 'hotfix-agent[otel]'") \
            from exc
    provider = TracerProvider(resource=Resource.create({"service.name": "hotfix-agent"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider.get_tracer("hotfix-agent"), provider.shutdown
