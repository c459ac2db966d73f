"""The model side of an eval run: runbook planner, scripted transcripts, cassettes, live.

Every client is wrapped in a `RecordingModel`, which keeps a JSON copy of each request
(the secret grader reads what would have left the machine) and forwards structured tool
results to drivers that want them (the runbook planner).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent.config import ModelConfig
from agent.models.base import (
    ModelClient,
    ModelRequest,
    ModelResponse,
    ToolDataObserver,
    ToolObservation,
)
from agent.models.scripted import ScriptedModel
from agent.runbook import RunbookPlanner
from evals.cassettes import RecordingTransport, ReplayTransport, load_cassette
from evals.scenario import Scenario

REPLAY_API_KEY = "cassette-replay-key"  # the SDK wants one; it never leaves the process


class RecordingModel:
    """Forwards to `inner`, keeping every request as JSON text."""

    def __init__(self, inner: ModelClient) -> None:
        self.inner = inner
        self.requests: list[str] = []

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(
            json.dumps(
                {
                    "system": request.system,
                    "tools": [t.to_api() for t in request.tools],
                    "messages": request.messages,
                },
                default=str,
                ensure_ascii=False,
            )
        )
        return await self.inner.complete(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RecordingObserverModel(RecordingModel):
    """A `RecordingModel` for drivers that read structured tool results."""

    def observe_tool_results(self, observations: list[ToolObservation]) -> None:
        inner = self.inner
        if isinstance(inner, ToolDataObserver):
            inner.observe_tool_results(observations)


@dataclass
class Driver:
    """The model client of one run, and what to check or save after it."""

    model: RecordingModel
    replay: ReplayTransport | None = None
    recorder: RecordingTransport | None = None
    notes: list[str] = field(default_factory=list[str])


def substitute(value: Any, replacements: dict[str, str]) -> Any:
    """Replace `{name}` placeholders in every string inside `value`."""
    if isinstance(value, str):
        for name, text in replacements.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, list):
        return [substitute(v, replacements) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {k: substitute(v, replacements) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


def build_driver(
    scenario: Scenario,
    config: ModelConfig,
    replacements: dict[str, str],
    *,
    live_model: str | None = None,
    replay: dict[str, Any] | None = None,
) -> Driver:
    """The model client for `scenario`.

    Args:
        scenario: The scenario; its `driver` chooses the client.
        config: The run's `[model]` settings (retries, timeout).
        replacements: Placeholder values for scripted turns (`{web}`).
        live_model: Drive model-driven scenarios with this Claude model, recording a cassette.
        replay: A cassette to replay for a model-driven scenario instead of the runbook.
    """
    if scenario.driver in ("scripted", "adversarial"):
        turns = substitute(scenario.turns, replacements)
        scripted = ScriptedModel.from_data(
            {"turns": turns, "model": scenario.driver}, source=str(scenario.source or scenario.name)
        )
        return Driver(RecordingModel(scripted))
    cassette = replay
    if scenario.driver == "cassette":
        path = scenario.cassette_path()
        assert path is not None  # validated by the scenario model
        cassette = load_cassette(path)
    if cassette is not None:
        transport = ReplayTransport(cassette, source=str(scenario.cassette or scenario.name))
        model = _claude(transport.model, config, transport, replaying=True)
        return Driver(RecordingModel(model), replay=transport)
    if live_model is not None:
        import httpx2

        recorder = RecordingTransport(httpx2.AsyncHTTPTransport())
        return Driver(
            RecordingModel(_claude(live_model, config, recorder, replaying=False)),
            recorder=recorder,
        )
    return Driver(RecordingObserverModel(RunbookPlanner(strategy=scenario.strategy)))


def _claude(model_id: str, config: ModelConfig, transport: Any, *, replaying: bool) -> ModelClient:
    import anthropic

    from agent.models.claude import ClaudeModel

    http_client = anthropic.DefaultAsyncHttpxClient(transport=transport)
    if not replaying:
        return ClaudeModel(model_id, config, http_client=http_client)

    async def no_wait(_seconds: float) -> None:
        return None

    # Replayed time is free: the client's own back-off between replayed turns is skipped.
    return ClaudeModel(
        model_id,
        config,
        http_client=http_client,
        environ={"ANTHROPIC_API_KEY": REPLAY_API_KEY},
        retry_backoff_s=0.001,
        sleep=no_wait,
    )
