"""ScriptedModel: replay, loud failures, validation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent.models.base import ModelError, ModelRequest, ToolSpec
from agent.models.scripted import ScriptedModel, ScriptError, ScriptExhausted

TOOL = ToolSpec(
    "readFile", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}}
)


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _request(text: str = "fix checkout") -> ModelRequest:
    return ModelRequest("system prompt", [TOOL], [{"role": "user", "content": text}])


SCRIPT = {
    "model": "scripted-demo",
    "turns": [
        [
            {"type": "text", "text": "Reading the handler."},
            {"type": "tool_use", "name": "readFile", "input": {"path": "app/checkout.py"}},
            {
                "type": "tool_use",
                "id": "toolu_given",
                "name": "readFile",
                "input": {"path": "tests/test_checkout.py"},
            },
        ],
        {"content": [{"type": "tool_use", "name": "readFile"}], "stop_reason": "pause_turn"},
        [{"type": "text", "text": "Done."}],
    ],
}


def test_turns_are_replayed_in_order_with_stop_reasons_and_generated_ids(tmp_path: Path) -> None:
    model = ScriptedModel.from_file(_write(tmp_path, SCRIPT))

    async def run() -> list[Any]:
        return [await model.complete(_request(f"call {n}")) for n in range(3)]

    first, second, third = asyncio.run(run())
    assert model.model_id == "scripted-demo" and first.model == "scripted-demo"
    assert first.stop_reason == "tool_use"
    assert [block["id"] for block in first.tool_uses] == ["toolu_scripted_1", "toolu_given"]
    assert first.tool_uses[0]["input"] == {"path": "app/checkout.py"}
    assert second.stop_reason == "pause_turn"
    assert second.tool_uses == [
        {"type": "tool_use", "name": "readFile", "input": {}, "id": "toolu_scripted_3"}
    ]
    assert (third.stop_reason, third.text) == ("end_turn", "Done.")
    assert [call.messages[0]["content"] for call in model.calls] == ["call 0", "call 1", "call 2"]
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    model.assert_complete()


def test_an_extra_call_fails_loudly(tmp_path: Path) -> None:
    model = ScriptedModel.from_data({"turns": [[{"type": "text", "text": "only turn"}]]})

    async def run() -> None:
        await model.complete(_request())
        await model.complete(_request())

    with pytest.raises(ScriptExhausted, match="has 1 turns; call 2 was not scripted"):
        asyncio.run(run())
    assert isinstance(ScriptExhausted("x"), ModelError)
    assert len(model.calls) == 2


def test_assert_complete_fails_while_turns_remain() -> None:
    model = ScriptedModel.from_data(SCRIPT)
    asyncio.run(model.complete(_request()))
    assert model.remaining == 2
    with pytest.raises(AssertionError, match="3 turns but only 1 were requested"):
        model.assert_complete()


def test_recorded_calls_are_snapshots_of_the_request() -> None:
    model = ScriptedModel.from_data(SCRIPT)
    request = _request()
    asyncio.run(model.complete(request))
    request.messages.append({"role": "assistant", "content": "later"})
    assert len(model.calls[0].messages) == 1


def test_returned_content_is_a_copy_of_the_script() -> None:
    model = ScriptedModel.from_data({"turns": [[{"type": "text", "text": "a"}]] * 2})
    first = asyncio.run(model.complete(_request()))
    first.content[0]["text"] = "mutated"
    assert asyncio.run(model.complete(_request())).text == "a"


@pytest.mark.parametrize(
    ("turns", "message"),
    [
        (
            [[{"type": "text", "text": "ok"}], [{"type": "tool_use", "input": {}}]],
            r"turn 2, block 1: tool_use block needs 'name'",
        ),
        (
            [[{"type": "text", "text": "ok"}, {"type": "image"}]],
            r"turn 1, block 2: unsupported block type 'image'",
        ),
        (
            [[{"type": "tool_use", "name": "readFile", "input": "app.py"}]],
            r"turn 1, block 1: tool_use block needs 'input' as a JSON object",
        ),
        ([[]], r"turn 1: expected a non-empty list"),
        (
            [{"content": [{"type": "text", "text": "x"}], "stop": "end_turn"}],
            r"turn 1: unknown keys \['stop'\]",
        ),
        ([["just a string"]], r"turn 1, block 1: a content block must be an object"),
    ],
)
def test_a_malformed_script_names_the_turn_and_block(
    tmp_path: Path, turns: list[Any], message: str
) -> None:
    with pytest.raises(ScriptError, match=message):
        ScriptedModel.from_file(_write(tmp_path, {"turns": turns}))


def test_a_script_that_is_not_json_or_has_no_turns_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{turns: }", encoding="utf-8")
    with pytest.raises(ScriptError, match="not valid JSON"):
        ScriptedModel.from_file(bad)
    with pytest.raises(ScriptError, match='"turns" list'):
        ScriptedModel.from_file(_write(tmp_path, [[{"type": "text", "text": "x"}]]))
    with pytest.raises(ScriptError, match="cannot read"):
        ScriptedModel.from_file(tmp_path / "missing.json")
