"""Live eval runs record cassettes (here against a respx-mocked API); replay is strict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from evals.cassettes import sse_from_message
from evals.runner import RunOptions, run_scenario
from evals.scenario import load_scenarios

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

API = "https://api.anthropic.com"
KEY = "sk-ant-api03-test-key-never-recorded-0123456789"
TURNS: list[list[dict[str, Any]]] = [
    [
        {"type": "text", "text": "Checking production."},
        {"type": "tool_use", "id": "toolu_live_1", "name": "hotfix_status", "input": {}},
    ],
    [
        {
            "type": "tool_use",
            "id": "toolu_live_2",
            "name": "hotfix_deploy",
            "input": {"version_ref": "hotfix/1.4.3", "strategy": "blue-green"},
        }
    ],
    [{"type": "text", "text": "v1.4.3 is deployed and verified."}],
]


def _turn(blocks: list[dict[str, Any]]) -> httpx.Response:
    body = sse_from_message(
        {"content": blocks, "usage": {"input_tokens": 900, "output_tokens": 40}},
        "claude-sonnet-5-5",
    )
    return httpx.Response(
        200,
        content=body.encode(),
        headers={"content-type": "text/event-stream", "request-id": "req_1"},
    )


def _overloaded() -> httpx.Response:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return httpx.Response(529, json=error, headers={"retry-after-ms": "1"})


async def _record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    scenario = load_scenarios(names=["local-blue-green-good-fix"])[0]
    cassettes = tmp_path / "cassettes"
    with respx.mock(base_url=API, assert_all_called=True) as api:
        api.post("/v1/messages").mock(
            side_effect=[_overloaded(), *(_turn(blocks) for blocks in TURNS)]
        )
        live = await run_scenario(
            scenario,
            tmp_path / "live",
            options=RunOptions(live_model="claude-sonnet-5-5", record_dir=cassettes),
        )
    assert live.passed, [g.failures for g in live.grades if not g.passed]
    assert live.trajectory.model == "claude-sonnet-5-5"
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    return cassettes


async def test_a_recorded_live_run_replays_offline_and_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassettes = await _record(tmp_path, monkeypatch)
    text = (cassettes / "local-blue-green-good-fix.json").read_text()
    assert KEY not in text  # no request header is recorded
    assert len(json.loads(text)["interactions"]) == 4  # the 529 included
    scenario = load_scenarios(names=["local-blue-green-good-fix"])[0]
    with respx.mock(assert_all_called=False) as network:  # anything sent would be seen here
        replay = await run_scenario(
            scenario, tmp_path / "replay", options=RunOptions(replay_dir=cassettes)
        )
    assert network.calls.call_count == 0
    assert replay.passed, [g.failures for g in replay.grades if not g.passed]
    assert replay.trajectory.final_text == "v1.4.3 is deployed and verified."
    assert replay.trajectory.final_state["weights"] == {"v1.4.3": 100}


async def test_replay_fails_on_an_unplayed_interaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassettes = await _record(tmp_path, monkeypatch)
    path = cassettes / "local-blue-green-good-fix.json"
    data = json.loads(path.read_text())
    data["interactions"].pop()  # the final answer was never recorded
    path.write_text(json.dumps(data))
    scenario = load_scenarios(names=["local-blue-green-good-fix"])[0]
    replay = await run_scenario(
        scenario, tmp_path / "replay", options=RunOptions(replay_dir=cassettes)
    )
    assert not replay.passed
    assert replay.trajectory.status == "failed"
    assert any(
        "unplayed interaction: request 4 was not recorded" in error
        for error in replay.trajectory.errors
    )


async def test_replay_fails_when_the_conversation_differs_from_the_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassettes = await _record(tmp_path, monkeypatch)
    scenario = load_scenarios(names=["local-blue-green-good-fix"])[0]
    path = cassettes / "local-blue-green-good-fix.json"
    data = json.loads(path.read_text())
    data["interactions"][1]["request"]["key"]["messages"] = ["user[text]", "assistant[text]"]
    path.write_text(json.dumps(data))
    replay = await run_scenario(
        scenario, tmp_path / "replay", options=RunOptions(replay_dir=cassettes)
    )
    assert any("differs from the recording" in error for error in replay.trajectory.errors)
    assert not replay.passed
