from __future__ import annotations

import asyncio
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent.approvers import DenyAllApprover
from agent.models.scripted import ScriptedModel
from agent.session import SessionOptions, run_session
from agent.telemetry import JournalTracer


def test_a_run_becomes_genai_spans_with_gate_decisions_as_events(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    (tmp_path / "app.py").write_text("print('hi')\n")
    model = ScriptedModel.from_data({"turns": [
        [{"type": "tool_use", "id": "r", "name": "readFile", "input": {"path": "app.py"}},
         {"type": "tool_use", "id": "t", "name": "runInTerminal", "input": {"command": "ls"}}],
        [{"type": "text", "text": "done"}],
    ]})
    tracers: list[JournalTracer] = []

    def listener(record: dict[str, object]) -> None:
        if not tracers:
            tracers.append(JournalTracer(provider.get_tracer("test"), str(record.get("run_id"))))
        tracers[0](dict(record))

    asyncio.run(run_session(SessionOptions(
        description="look", workspace=tmp_path, approver=DenyAllApprover(), model_client=model,
        journal_listeners=[listener])))
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"invoke_agent hotfix-deployment", "chat scripted",
                          "execute_tool readFile", "execute_tool runInTerminal"}
    root = spans["invoke_agent hotfix-deployment"]
    root_context = root.get_span_context()
    assert root_context is not None
    root_id = root_context.span_id
    assert all(s.parent is not None and s.parent.span_id == root_id
               for name, s in spans.items() if name != root.name)
    terminal = spans["execute_tool runInTerminal"]
    assert terminal.attributes is not None and terminal.attributes["hotfix.status"] == "denied"
    assert [e.attributes["decision"] for e in terminal.events if e.attributes] == ["ask"]
    assert root.attributes is not None and root.attributes["hotfix.stop_reason"] == "completed"
