"""The agent loop, driven end to end by a scripted model through `run_session`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent.approvers import DenyAllApprover
from agent.journal import read_journal
from agent.models.scripted import ScriptedModel
from agent.session import RunResult, SessionOptions, run_session


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "shop"
    ws.mkdir()
    (ws / "checkout.py").write_text(
        "def checkout_total(items):\n    return sum(i['price'] for i in items) / len(items)\n"
    )
    (ws / "hotfix.toml").write_text("[limits]\nmax_turns = 6\n")
    return ws


def _run(ws: Path, turns: list[Any], description: str = "checkout fails on an empty cart",
         ) -> tuple[RunResult, ScriptedModel]:
    model = ScriptedModel.from_data({"turns": turns})
    options = SessionOptions(description=description, workspace=ws,
                             approver=DenyAllApprover(), model_client=model)
    return asyncio.run(run_session(options)), model


def _tool_results(model: ScriptedModel, call_index: int) -> list[dict[str, Any]]:
    last = model.calls[call_index].messages[-1]
    assert last["role"] == "user"
    return [b for b in last["content"] if b["type"] == "tool_result"]


def test_every_tool_use_gets_exactly_one_result_even_when_invalid_or_unknown(
    tmp_path: Path,
) -> None:
    ws = _workspace(tmp_path)
    result, model = _run(ws, [
        [{"type": "text", "text": "Looking at the checkout."},
         {"type": "tool_use", "id": "t1", "name": "readFile", "input": {"path": "checkout.py"}},
         {"type": "tool_use", "id": "t2", "name": "readFile", "input": {"line": 3}},
         {"type": "tool_use", "id": "t3", "name": "deleteEverything", "input": {}}],
        [{"type": "text", "text": "The division by len(items) fails on an empty cart."}],
    ])
    assert result.status == "completed"
    results = {r["tool_use_id"]: r for r in _tool_results(model, 1)}
    assert list(results) == ["t1", "t2", "t3"]
    assert not results["t1"]["is_error"]
    assert "len(items)" in results["t1"]["content"]
    assert "<untrusted-data" in results["t1"]["content"]
    assert results["t2"]["is_error"]
    assert "invalid arguments for readFile" in results["t2"]["content"]
    assert results["t3"]["is_error"]
    assert "unknown tool 'deleteEverything'" in results["t3"]["content"]
    model.assert_complete()


def test_journal_records_each_call_its_gate_decision_and_the_stop_reason(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    result, _ = _run(ws, [
        [{"type": "tool_use", "id": "a", "name": "readFile", "input": {"path": "checkout.py"}},
         {"type": "tool_use", "id": "b", "name": "runInTerminal",
          "input": {"command": "touch created-by-agent"}}],
        [{"type": "text", "text": "done"}],
    ])
    events = read_journal(result.journal_path)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    decisions = {e["call_id"]: e["decision"] for e in events if e["type"] == "gate_decision"}
    assert decisions == {"a": "allow", "b": "ask"}
    approvals = [e for e in events if e["type"] == "approval"]
    assert [(a["call_id"], a["approved"]) for a in approvals] == [("b", False)]
    finished = {e["call_id"]: e["status"] for e in events if e["type"] == "tool_finished"}
    assert finished == {"a": "ok", "b": "denied"}
    assert not (ws / "created-by-agent").exists()
    assert events[-1]["stop_reason"] == "completed"


def test_turn_limit_stops_the_run_with_an_explicit_reason(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    read = {"type": "tool_use", "name": "readFile", "input": {"path": "checkout.py"}}
    result, model = _run(ws, [[read]] * 6)
    assert result.status == "stopped"
    assert result.stop_reason == "max_turns"
    assert len(model.calls) == 6
    assert read_journal(result.journal_path)[-1]["stop_reason"] == "max_turns"


def test_tool_call_limit_answers_the_excess_calls_and_stops(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    (ws / "hotfix.toml").write_text("[limits]\nmax_tool_calls = 2\n")
    reads = [{"type": "tool_use", "id": f"r{i}", "name": "readFile",
              "input": {"path": "checkout.py"}} for i in range(3)]
    result, _ = _run(ws, [reads])
    assert result.stop_reason == "max_tool_calls"
    events = read_journal(result.journal_path)
    statuses = [e["status"] for e in events if e["type"] == "tool_finished"]
    assert sorted(statuses) == ["ok", "ok", "skipped"]


def test_a_model_error_ends_the_run_as_failed_not_with_a_crash(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    read = {"type": "tool_use", "name": "readFile", "input": {"path": "checkout.py"}}
    result, _ = _run(ws, [[read]])  # the second turn is not scripted: ScriptExhausted
    assert result.status == "failed"
    assert result.stop_reason == "model_error"
    assert "not scripted" in result.detail


def test_large_tool_output_is_capped_with_a_visible_notice(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    (ws / "hotfix.toml").write_text(
        '[limits]\ntool_output_chars = 5000\n[gate]\nallow = ["runInTerminal(seq *)"]\n'
    )
    _, model = _run(ws, [
        [{"type": "tool_use", "id": "big", "name": "runInTerminal",
          "input": {"command": "seq 1 20000"}}],
        [{"type": "text", "text": "ok"}],
    ])
    content = _tool_results(model, 1)[0]["content"]
    assert len(content) < 5400
    assert "truncated by hotfix-agent" in content
    assert "20000" in content[-200:]  # the tail is kept: the end of output often matters most


def test_canary_secret_from_environment_and_file_never_reaches_model_or_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    canary = "canary-7f3a9c-do-not-leak"
    monkeypatch.setenv("SHOP_PAYMENT_API_KEY", canary)
    ws = _workspace(tmp_path)
    (ws / "settings.env").write_text(f"PAYMENT_KEY_FROM_ENV={canary}\nREGION=westeurope\n")
    result, model = _run(ws, [
        [{"type": "tool_use", "id": "f", "name": "readFile", "input": {"path": "settings.env"}},
         {"type": "tool_use", "id": "g", "name": "codebase", "input": {"query": "PAYMENT_KEY"}}],
        [{"type": "text", "text": "Found the payment key setting."}],
    ], description="checkout fails; the payment key is " + canary)
    requests = json.dumps([{"system": c.system, "messages": c.messages} for c in model.calls])
    assert canary not in requests
    assert "REGION=westeurope" in requests  # the file was read, only the secret masked
    assert canary not in result.journal_path.read_text()
    assert canary not in result.final_text
