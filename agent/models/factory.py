"""Turn a model spec (flag, env var or config) into a `ModelClient`.

Specs:
- `scripted:PATH` — replay the turns in a script file (`ScriptedModel`).
- a name registered with `register_model_provider` (the runbook planner registers
  `runbook`), optionally with an argument: `runbook` or `runbook:ARG`.
- anything else — a Claude display name or API id, resolved by `resolve_model`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from agent.config import ModelConfig
from agent.models.base import ModelClient, ModelError
from agent.models.catalog import resolve_model
from agent.models.providers import detect_provider

if TYPE_CHECKING:
    import httpx2

    from agent.models.claude import TextCallback

RUNBOOK = "runbook"
MODEL_ENV = "HOTFIX_MODEL"

ModelProviderFactory = Callable[[str, ModelConfig], ModelClient]
"""Builds a client from the spec's argument (text after `name:`, or "") and the config."""

_providers: dict[str, ModelProviderFactory] = {}


def register_model_provider(name: str, factory: ModelProviderFactory) -> None:
    """Make `name` (and `name:ARG`) a model spec; replaces an earlier registration."""
    if not name or ":" in name:
        raise ValueError(f"invalid model provider name {name!r}")
    _providers[name] = factory


def unregister_model_provider(name: str) -> None:
    """Forget a registration (a no-op for unknown names)."""
    _providers.pop(name, None)


def has_model_credentials(
    environ: Mapping[str, str] | None = None, config: ModelConfig | None = None
) -> bool:
    """True when Claude credentials for some provider are visible (see `providers`)."""
    return detect_provider(config or ModelConfig(), environ) is not None


def default_model_spec(
    config: ModelConfig, environ: Mapping[str, str] | None = None
) -> tuple[str, list[str]]:
    """The spec used when none is given, and the notices explaining the choice.

    `HOTFIX_MODEL` wins; else `config.id` when Claude credentials exist; else `runbook`, the
    offline planner that needs no API key.
    """
    env = os.environ if environ is None else environ
    from_env = env.get(MODEL_ENV, "").strip()
    if from_env:
        return from_env, []
    if has_model_credentials(env, config):
        return config.id, []
    return RUNBOOK, [
        "no Claude credentials found (ANTHROPIC_API_KEY, Foundry, Bedrock or "
        "Vertex); using the runbook planner"
    ]


def create_model(
    spec: str | None,
    config: ModelConfig,
    *,
    on_text: TextCallback | None = None,
    http_client: httpx2.AsyncClient | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[ModelClient, list[str]]:
    """Build the model client for `spec` and return it with notices for the user.

    Args:
        spec: `scripted:PATH`, a registered provider name (`runbook`), a Claude display name
            or API id. None means: `HOTFIX_MODEL` if set, else `config.id` when Claude
            credentials exist, else `runbook` (the offline default).
        config: The `[model]` configuration section.
        on_text: Streamed text deltas (Claude only).
        http_client: Transport for the Anthropic SDK (tests inject a mocked one).
        environ: Environment to consult (default `os.environ`).

    Raises:
        ModelError: the spec cannot be served (unknown script, real requests blocked,
            incomplete provider settings).
    """
    notices: list[str] = []
    if spec is None or not spec.strip():
        spec, notices = default_model_spec(config, environ)
    spec = spec.strip()
    name, _, argument = spec.partition(":")
    if name == "scripted":
        from agent.models.scripted import ScriptedModel

        if not argument:
            raise ModelError("scripted model needs a file: scripted:PATH")
        return ScriptedModel.from_file(argument), notices
    factory = _providers.get(name)
    if factory is not None:
        return factory(argument, config), notices
    if name == RUNBOOK:
        from agent.runbook import RunbookPlanner

        return RunbookPlanner(strategy=argument or None), notices
    from agent.models.claude import ClaudeModel

    resolved = resolve_model(spec)
    if resolved.notice:
        notices.append(resolved.notice)
    model = ClaudeModel(
        resolved.api_id, config, on_text=on_text, http_client=http_client, environ=environ
    )
    return model, notices
