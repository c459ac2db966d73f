"""Model specs -> clients, credential detection, and the model-name catalog."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from agent.config import ModelConfig
from agent.models.base import ModelClient, ModelError
from agent.models.catalog import (
    CURRENT_MODELS,
    DEFAULT_MODEL_ID,
    ResolvedModel,
    resolve_model,
    sdk_deprecated_models,
)
from agent.models.claude import ClaudeModel
from agent.models.factory import (
    create_model,
    has_model_credentials,
    register_model_provider,
    unregister_model_provider,
)
from agent.models.scripted import ScriptedModel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "turns.json"
    path.write_text(json.dumps({"turns": [[{"type": "text", "text": "hi"}]]}), encoding="utf-8")
    return path


@pytest.fixture
def runbook_calls() -> Iterator[list[tuple[str, ModelConfig]]]:
    calls: list[tuple[str, ModelConfig]] = []

    def factory(argument: str, config: ModelConfig) -> ModelClient:
        calls.append((argument, config))
        return ScriptedModel([], model="runbook")

    register_model_provider("runbook", factory)
    yield calls
    unregister_model_provider("runbook")


def test_scripted_spec_loads_the_script(script: Path) -> None:
    model, notices = create_model(f"scripted:{script}", ModelConfig(), environ={})
    assert isinstance(model, ScriptedModel) and model.remaining == 1
    assert notices == []


def test_without_credentials_the_default_is_the_runbook_planner(
    runbook_calls: list[tuple[str, ModelConfig]],
) -> None:
    config = ModelConfig()
    model, notices = create_model(None, config, environ={})
    assert model.model_id == "runbook"
    assert runbook_calls == [("", config)]
    assert "using the runbook planner" in notices[0]
    create_model("runbook:strict", config, environ={})
    assert runbook_calls[-1][0] == "strict"


def test_runbook_is_built_in_and_takes_a_strategy_argument() -> None:
    from agent.runbook import RunbookPlanner

    model, _ = create_model(None, ModelConfig(), environ={})
    assert isinstance(model, RunbookPlanner)
    strict, _ = create_model("runbook:canary", ModelConfig(), environ={})
    assert isinstance(strict, RunbookPlanner)


def test_hotfix_model_env_wins_over_config(script: Path) -> None:
    model, _ = create_model(
        None,
        ModelConfig(),
        environ={"HOTFIX_MODEL": f"scripted:{script}", "ANTHROPIC_API_KEY": "sk-ant-k"},
    )
    assert isinstance(model, ScriptedModel)


def test_with_credentials_the_default_is_the_configured_claude_model() -> None:
    env = {"ANTHROPIC_API_KEY": "sk-ant-k", "HOTFIX_BLOCK_MODEL_REQUESTS": "1"}
    with pytest.raises(ModelError, match="real model requests are blocked"):
        create_model(None, ModelConfig(id="claude-opus-5-5"), environ=env)
    model, notices = create_model(
        None, ModelConfig(id="claude-opus-5-5"), environ=env, http_client=httpx2.AsyncClient()
    )
    assert isinstance(model, ClaudeModel)
    assert (model.model_id, model.provider, notices) == ("claude-opus-5-5", "anthropic", [])


def test_a_retired_display_name_maps_to_the_current_model_with_a_notice() -> None:
    model, notices = create_model(
        "Claude Sonnet 4 (copilot)",
        ModelConfig(),
        environ={"ANTHROPIC_API_KEY": "k"},
        http_client=httpx2.AsyncClient(),
    )
    assert model.model_id == "claude-sonnet-5-5"
    assert notices == ["Claude Sonnet 4 was retired on 2026-06-15; using claude-sonnet-5-5"]


@pytest.mark.parametrize(
    ("env", "config", "expected"),
    [
        ({}, ModelConfig(), False),
        ({"ANTHROPIC_API_KEY": ""}, ModelConfig(), False),
        (
            {"AWS_ACCESS_KEY_ID": "AKIA...", "GOOGLE_APPLICATION_CREDENTIALS": "/x.json"},
            ModelConfig(),
            False,
        ),  # unrelated cloud logins are not Claude credentials
        ({"ANTHROPIC_API_KEY": "sk-ant-k"}, ModelConfig(), True),
        ({"ANTHROPIC_FOUNDRY_RESOURCE": "contoso"}, ModelConfig(), True),
        ({}, ModelConfig(foundry_resource="contoso"), True),
        ({"AWS_BEARER_TOKEN_BEDROCK": "t"}, ModelConfig(), True),
        ({"CLAUDE_CODE_USE_VERTEX": "1"}, ModelConfig(), True),
        ({}, ModelConfig(provider="bedrock"), True),
    ],
)
def test_has_model_credentials(env: dict[str, str], config: ModelConfig, expected: bool) -> None:
    assert has_model_credentials(env, config) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "Claude Sonnet 4",
            ResolvedModel(
                "claude-sonnet-5-5",
                "Claude Sonnet 4 was retired on 2026-06-15; using claude-sonnet-5-5",
            ),
        ),
        (
            "Claude Sonnet 4 (copilot)",
            ResolvedModel(
                "claude-sonnet-5-5",
                "Claude Sonnet 4 was retired on 2026-06-15; using claude-sonnet-5-5",
            ),
        ),
        (
            "Claude Sonnet 4.5",
            ResolvedModel(
                "claude-sonnet-5-5",
                "Claude Sonnet 4.5 is deprecated (end of life November 30th, 2026); "
                "using claude-sonnet-5-5",
            ),
        ),
        (
            "Claude Opus 4.1",
            ResolvedModel(
                "claude-opus-5-5",
                "Claude Opus 4.1 maps to the current Opus model; using claude-opus-5-5",
            ),
        ),
        (
            "claude opus 4.8 (copilot)",
            ResolvedModel(
                "claude-opus-5-5",
                "Claude Opus 4.8 maps to the current Opus model; using claude-opus-5-5",
            ),
        ),
        (
            "Claude Haiku 4.5",
            ResolvedModel(
                "claude-haiku-5-5",
                "Claude Haiku 4.5 maps to the current Haiku model; using claude-haiku-5-5",
            ),
        ),
        ("Claude Sonnet 5.5", ResolvedModel("claude-sonnet-5-5")),
        ("Claude Sonnet", ResolvedModel("claude-sonnet-5-5")),
        ("claude-sonnet-4-6", ResolvedModel("claude-sonnet-4-6")),
        (
            "claude-sonnet-4-5",
            ResolvedModel(
                "claude-sonnet-4-5",
                "claude-sonnet-4-5 is deprecated and reaches end of life on "
                "November 30th, 2026; consider claude-sonnet-5-5",
            ),
        ),
        (
            "claude-sonnet-4-20250514",
            ResolvedModel(
                "claude-sonnet-5-5",
                "claude-sonnet-4-20250514 was retired on 2026-06-15; using claude-sonnet-5-5",
            ),
        ),
        (
            "us.anthropic.claude-sonnet-5-5-v1:0",
            ResolvedModel("us.anthropic.claude-sonnet-5-5-v1:0"),
        ),
        (
            "GPT-4.1 (copilot)",
            ResolvedModel(
                "claude-sonnet-5-5",
                "GPT-4.1 (copilot) is not a Claude model; using claude-sonnet-5-5",
            ),
        ),
        (None, ResolvedModel("claude-sonnet-5-5")),
    ],
)
def test_resolve_model(name: str | None, expected: ResolvedModel) -> None:
    assert resolve_model(name) == expected


def test_catalog_ids_are_models_the_installed_sdk_knows() -> None:
    from anthropic._data import DEPRECATED_MODELS
    from anthropic.types import Model

    known = set(typing.get_args(typing.get_args(Model)[0]))
    assert DEFAULT_MODEL_ID == "claude-sonnet-5-5"
    assert {DEFAULT_MODEL_ID, *CURRENT_MODELS.values()} <= known
    assert not {DEFAULT_MODEL_ID, *CURRENT_MODELS.values()} & DEPRECATED_MODELS.keys()
    assert sdk_deprecated_models() == DEPRECATED_MODELS  # read without importing the SDK


def test_model_modules_do_not_import_the_sdk_until_claude_is_used(script: Path) -> None:
    code = (
        "import sys\n"
        "from agent.config import ModelConfig\n"
        "from agent.models import catalog, claude, factory, scripted\n"
        "catalog.resolve_model('claude-sonnet-4-5')\n"
        f"factory.create_model('scripted:{script}', ModelConfig(), environ={{}})\n"
        "print('anthropic' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "False"
