"""ClaudeModel against a respx-mocked Messages API: streaming, caching, retries, providers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import respx

from agent.config import ModelConfig
from agent.models.base import ModelError, ModelRequest, ToolSpec
from agent.models.claude import ClaudeModel, ModelRequestError

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
API = "https://api.anthropic.com"
SYSTEM = (
    "You are the hotfix deployment agent. Investigate, plan the safest rollout, and "
    "verify before promoting."
)
READ_FILE = ToolSpec(
    "readFile",
    "Read a file from the workspace.",
    {
        "type": "object",
        "properties": {"path": {"type": "string"}, "start_line": {"type": "integer", "minimum": 1}},
        "required": ["path"],
        "additionalProperties": False,
    },
)
TERMINAL = ToolSpec(
    "runInTerminal",
    "Run a shell command in the workspace.",
    {
        "type": "object",
        "properties": {"command": {"type": "string"}, "timeout_s": {"type": "number"}},
        "required": ["command"],
        "additionalProperties": False,
    },
)
TOOLS = [READ_FILE, TERMINAL]
_PROVIDER_ENV = (
    "AWS_BEARER_TOKEN_BEDROCK",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "ANTHROPIC_VERTEX_BASE_URL",
    "ANTHROPIC_PROFILE",
    "CLAUDE_CODE_USE_FOUNDRY",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
)


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)


def _sse(name: str, request_id: str) -> httpx.Response:
    return httpx.Response(
        200,
        content=(FIXTURES / name).read_bytes(),
        headers={"content-type": "text/event-stream", "request-id": request_id},
    )


def _overloaded(request_id: str) -> httpx.Response:
    body = {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": request_id,
    }
    return httpx.Response(529, json=body, headers={"request-id": request_id, "retry-after-ms": "1"})


def _body(call: Any) -> dict[str, Any]:
    return json.loads(call.request.content)


def _prefix(body: dict[str, Any]) -> str:
    return json.dumps(body["system"]) + json.dumps(body["tools"])


def _cache_marks(messages: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [
        (m_index, b_index)
        for m_index, message in enumerate(messages)
        if isinstance(message["content"], list)
        for b_index, block in enumerate(message["content"])
        if "cache_control" in block
    ]


def _model(config: ModelConfig | None = None, **kwargs: Any) -> tuple[ClaudeModel, list[float]]:
    sleeps: list[float] = []

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    model = ClaudeModel(
        "claude-sonnet-5-5",
        config or ModelConfig(),
        http_client=httpx2.AsyncClient(),
        sleep=record_sleep,
        retry_backoff_s=0.001,
        **kwargs,
    )
    return model, sleeps


async def test_multi_turn_exchange_streams_caches_and_survives_overload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    deltas: list[str] = []
    model, sleeps = _model(on_text=deltas.append)
    with respx.mock(base_url=API, assert_all_called=True) as api:
        route = api.post("/v1/messages").mock(
            side_effect=[
                _sse("turn1_text_and_two_tools.sse", "req_011CTurn1"),
                _overloaded("req_011CTurn2a"),
                _sse("turn2_text_and_tool.sse", "req_011CTurn2b"),
                _sse("turn3_overloaded_mid_stream.sse", "req_011CTurn3a"),
                _sse("turn3_final_answer.sse", "req_011CTurn3b"),
            ]
        )
        messages: list[dict[str, Any]] = [
            {
                "role": "user",
                "content": "checkout returns 500 on empty cart, fix is on branch hotfix/1.4.3",
            }
        ]

        first = await model.complete(ModelRequest(SYSTEM, TOOLS, messages, max_tokens=4096))
        assert first.stop_reason == "tool_use"
        assert first.model == "claude-sonnet-5-5"
        assert first.content == [
            {
                "type": "text",
                "text": "I'll read the checkout handler and list what the hotfix branch changes.",
            },
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "readFile",
                "input": {"path": "app/checkout.py"},
            },
            {
                "type": "tool_use",
                "id": "toolu_01GV9Ca1ZXg7wC8ssmoXtm8P",
                "name": "runInTerminal",
                "input": {"command": "git log --oneline main..hotfix/1.4.3", "timeout_s": 30},
            },
        ]
        assert (first.usage.input_tokens, first.usage.output_tokens) == (412, 151)
        assert (first.usage.cache_read_tokens, first.usage.cache_write_tokens) == (0, 1936)

        messages += [
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                        "content": "def checkout(cart):\n"
                        "    return cart.total() / len(cart.items)\n",
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01GV9Ca1ZXg7wC8ssmoXtm8P",
                        "content": "a1b2c3d Guard empty cart in checkout total",
                    },
                ],
            },
        ]
        before_turn_2 = copy.deepcopy(messages)
        second = await model.complete(ModelRequest(SYSTEM, TOOLS, messages, max_tokens=4096))
        assert messages == before_turn_2  # the caller's list and blocks are left alone
        assert [block["id"] for block in second.tool_uses] == ["toolu_01Qd9XmLyeEBtCUdfGk6pr1s"]
        assert second.usage.cache_read_tokens == 1936
        assert second.usage.cache_write_tokens == 305  # message_delta totals override the start

        messages += [
            {"role": "assistant", "content": second.content},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01Qd9XmLyeEBtCUdfGk6pr1s",
                        "content": "....\n4 passed in 0.31s",
                    }
                ],
            },
        ]
        third = await model.complete(ModelRequest(SYSTEM, TOOLS, messages, max_tokens=4096))
        assert third.stop_reason == "end_turn"
        assert third.text == (
            "All four checkout tests pass on hotfix/1.4.3; ready to plan the rollout."
        )
        assert (third.usage.cache_read_tokens, third.usage.cache_write_tokens) == (2241, 140)
        await model.aclose()

    bodies = [_body(call) for call in route.calls]
    assert len(bodies) == 5
    retry_counts = [call.request.headers["x-stainless-retry-count"] for call in route.calls]
    assert retry_counts == ["0", "0", "1", "0", "0"]  # the SDK retried the 529, we the stream
    assert len(sleeps) == 1 and sleeps[0] < 0.01
    for body in bodies:
        assert body["stream"] is True
        assert body["model"] == "claude-sonnet-5-5"
        assert body["max_tokens"] == 4096
        assert not {"temperature", "top_p", "top_k"} & body.keys()
        assert body["system"] == [
            {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}
        ]
        assert [tool["input_schema"] for tool in body["tools"]] == [
            READ_FILE.input_schema,
            TERMINAL.input_schema,
        ]
        assert "cache_control" not in body["tools"][0]
        assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        last = len(body["messages"]) - 1
        assert body["messages"][last]["role"] == "user"
        assert _cache_marks(body["messages"]) == [
            (last, len(body["messages"][last]["content"]) - 1)
        ]
        assert _prefix(body) == _prefix(bodies[0])
    assert bodies[0]["messages"][0]["content"][0]["text"].startswith("checkout returns 500")
    assert bodies[1]["messages"][1]["content"] == first.content  # tool_use blocks sent back
    assert bodies[3] == bodies[4]  # the replayed turn is the same request
    assert "".join(deltas) == (
        "I'll read the checkout handler and list what the hotfix branch changes."
        "The fix guards the empty cart. Running the checkout tests on the branch."
        "All four"  # streamed before the overload, then the replayed turn again
        "All four checkout tests pass on hotfix/1.4.3; ready to plan the rollout."
    )


async def test_overload_beyond_the_retry_budget_raises_model_error_with_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    model, _ = _model(ModelConfig(max_retries=2))
    with respx.mock(base_url=API) as api:
        route = api.post("/v1/messages").mock(return_value=_overloaded("req_011CBusy"))
        with pytest.raises(ModelRequestError) as caught:
            await model.complete(ModelRequest(SYSTEM, TOOLS, [{"role": "user", "content": "hi"}]))
    assert route.call_count == 3
    assert caught.value.status_code == 529
    assert caught.value.error_type == "overloaded_error"
    assert "HTTP 529" in str(caught.value) and "req_011CBusy" in str(caught.value)


async def test_mid_stream_overload_is_retried_only_within_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    model, sleeps = _model(ModelConfig(max_retries=2))
    with respx.mock(base_url=API) as api:
        route = api.post("/v1/messages").mock(
            side_effect=lambda _: _sse("turn3_overloaded_mid_stream.sse", "req_011CMid")
        )
        with pytest.raises(ModelRequestError, match="mid-stream") as caught:
            await model.complete(ModelRequest(SYSTEM, [], [{"role": "user", "content": "hi"}]))
    assert route.call_count == 3
    assert len(sleeps) == 2
    assert caught.value.error_type == "overloaded_error"
    assert caught.value.request_id == "req_011CMid"


async def test_invalid_request_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    model, sleeps = _model()
    error = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "messages: text content blocks must be non-empty",
        },
    }
    with respx.mock(base_url=API) as api:
        route = api.post("/v1/messages").mock(
            return_value=httpx.Response(400, json=error, headers={"request-id": "req_011CBad"})
        )
        with pytest.raises(ModelRequestError, match="must be non-empty") as caught:
            await model.complete(ModelRequest(SYSTEM, TOOLS, [{"role": "user", "content": "x"}]))
    assert (route.call_count, sleeps, caught.value.status_code) == (1, [], 400)


async def test_a_plain_string_user_message_gets_the_breakpoint_and_no_system_when_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    model, _ = _model()
    stale = {"type": "text", "text": "earlier", "cache_control": {"type": "ephemeral"}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [stale]},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": "go on"},
    ]
    with respx.mock(base_url=API) as api:
        route = api.post("/v1/messages").mock(
            return_value=_sse("turn3_final_answer.sse", "req_011CStr")
        )
        await model.complete(ModelRequest("", [], messages))
    body = _body(route.calls[0])
    assert "system" not in body and "tools" not in body
    assert body["messages"][2]["content"] == [
        {"type": "text", "text": "go on", "cache_control": {"type": "ephemeral"}}
    ]
    assert _cache_marks(body["messages"]) == [(2, 0)]  # the stale mark was dropped
    assert "cache_control" in stale  # ... from the copy only


def test_real_client_is_refused_without_an_injected_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    with pytest.raises(ModelError, match="real model requests are blocked in this environment"):
        ClaudeModel("claude-sonnet-5-5")


@pytest.mark.parametrize(
    ("env", "config", "class_name", "base_url"),
    [
        (
            {"ANTHROPIC_API_KEY": "sk-ant-k"},
            ModelConfig(),
            "AsyncAnthropic",
            "https://api.anthropic.com",
        ),
        (
            {"ANTHROPIC_FOUNDRY_API_KEY": "f-key", "ANTHROPIC_FOUNDRY_RESOURCE": "contoso-ai"},
            ModelConfig(),
            "AsyncAnthropicFoundry",
            "https://contoso-ai.services.ai.azure.com/anthropic/",
        ),
        (
            {"ANTHROPIC_FOUNDRY_API_KEY": "f-key"},
            ModelConfig(foundry_resource="fabrikam"),
            "AsyncAnthropicFoundry",
            "https://fabrikam.services.ai.azure.com/anthropic/",
        ),
        (
            {"AWS_BEARER_TOKEN_BEDROCK": "bedrock-key", "AWS_REGION": "eu-west-1"},
            ModelConfig(),
            "AsyncAnthropicBedrock",
            "https://bedrock-runtime.eu-west-1.amazonaws.com",
        ),
        (
            {"ANTHROPIC_VERTEX_PROJECT_ID": "hotfix-prod", "CLOUD_ML_REGION": "us-east5"},
            ModelConfig(),
            "AsyncAnthropicVertex",
            "https://us-east5-aiplatform.googleapis.com/v1",
        ),
        (
            {"ANTHROPIC_API_KEY": "sk-ant-k"},
            ModelConfig(provider="vertex", region="europe-west1", project_id="p"),
            "AsyncAnthropicVertex",
            "https://europe-west1-aiplatform.googleapis.com/v1",
        ),
    ],
)
def test_provider_is_chosen_from_config_or_environment(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    config: ModelConfig,
    class_name: str,
    base_url: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    model = ClaudeModel("claude-sonnet-5-5", config, http_client=httpx2.AsyncClient())
    client = model.sdk_client
    assert type(client).__name__ == class_name
    assert str(client.base_url).rstrip("/") == base_url.rstrip("/")
    assert client.max_retries == config.max_retries


def test_foundry_without_a_resource_is_a_clear_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_USE_FOUNDRY", "1")
    model = ClaudeModel("claude-sonnet-5-5", http_client=httpx2.AsyncClient())
    assert model.provider == "foundry"
    with pytest.raises(ModelError, match="ANTHROPIC_FOUNDRY_RESOURCE"):
        _ = model.sdk_client


async def test_foundry_without_an_api_key_authenticates_with_entra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azure.core.credentials import AccessToken
    from azure.identity import aio as identity_aio

    scopes: list[tuple[str, ...]] = []

    class FakeCredential:
        async def get_token(self, *requested: str, **_: Any) -> AccessToken:
            scopes.append(requested)
            return AccessToken("entra-token-123", 4_102_444_800)

        async def close(self) -> None:
            scopes.append(("closed",))

    monkeypatch.setattr(identity_aio, "DefaultAzureCredential", FakeCredential)
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(
            200,
            content=(FIXTURES / "turn3_final_answer.sse").read_bytes(),
            headers={"content-type": "text/event-stream"},
        )

    config = ModelConfig(provider="foundry", foundry_resource="contoso-ai")
    model = ClaudeModel(
        "claude-sonnet-5-5",
        config,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    response = await model.complete(ModelRequest(SYSTEM, TOOLS, [{"role": "user", "content": "x"}]))
    await model.aclose()
    assert response.stop_reason == "end_turn"
    assert str(seen[0].url) == "https://contoso-ai.services.ai.azure.com/anthropic/v1/messages"
    assert seen[0].headers["authorization"] == "Bearer entra-token-123"
    assert "x-api-key" not in seen[0].headers
    assert scopes[0] == ("https://ai.azure.com/.default",)
    assert scopes[-1] == ("closed",)


def _events(*events: dict[str, Any]) -> bytes:
    return "".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events
    ).encode()


async def test_thinking_blocks_come_back_unchanged_for_the_next_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    model, _ = _model()
    usage = {"input_tokens": 20, "output_tokens": 1}
    body = _events(
        {
            "type": "message_start",
            "message": {
                "id": "msg_01Think",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-5-5",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "The cart may be empty."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "EqQBCkgIARABGAIiQL"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "Guard it."},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 30},
        },
        {"type": "message_stop"},
    )
    with respx.mock(base_url=API) as api:
        api.post("/v1/messages").mock(
            return_value=httpx.Response(
                200, content=body, headers={"content-type": "text/event-stream"}
            )
        )
        response = await model.complete(
            ModelRequest(SYSTEM, [], [{"role": "user", "content": "?"}])
        )
    assert response.content == [
        {
            "type": "thinking",
            "thinking": "The cart may be empty.",
            "signature": "EqQBCkgIARABGAIiQL",
        },
        {"type": "text", "text": "Guard it."},
    ]


async def test_a_stream_cut_before_message_stop_is_replayed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    model, sleeps = _model()
    full = (FIXTURES / "turn2_text_and_tool.sse").read_bytes()
    cut = full[: full.index(b"event: message_delta")]
    with respx.mock(base_url=API) as api:
        route = api.post("/v1/messages").mock(
            side_effect=[
                httpx.Response(200, content=cut, headers={"content-type": "text/event-stream"}),
                httpx.Response(200, content=full, headers={"content-type": "text/event-stream"}),
            ]
        )
        response = await model.complete(
            ModelRequest(SYSTEM, TOOLS, [{"role": "user", "content": "?"}])
        )
    assert route.call_count == 2 and len(sleeps) == 1
    assert response.stop_reason == "tool_use"
    assert response.tool_uses[0]["input"] == {"command": "pytest tests/test_checkout.py -q"}
