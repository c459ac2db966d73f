"""Which cloud carries Claude, and the SDK client that talks to it.

Selection for `provider = "auto"` looks only at signals that are specific to Claude, so an
unrelated AWS or Google login on a laptop never turns a run into a cloud call:

1. Anthropic API: `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN` or `ANTHROPIC_PROFILE`.
2. Microsoft Foundry: `ANTHROPIC_FOUNDRY_API_KEY`, `ANTHROPIC_FOUNDRY_RESOURCE`,
   `ANTHROPIC_FOUNDRY_BASE_URL`, `CLAUDE_CODE_USE_FOUNDRY=1`, or `model.foundry_resource` /
   `model.foundry_base_url` in the config. Without an API key, Microsoft Entra ID
   (azure-identity `DefaultAzureCredential`) supplies the bearer token.
3. Amazon Bedrock: `AWS_BEARER_TOKEN_BEDROCK`, `ANTHROPIC_BEDROCK_BASE_URL` or
   `CLAUDE_CODE_USE_BEDROCK=1`.
4. Google Vertex AI: `ANTHROPIC_VERTEX_PROJECT_ID` or `CLAUDE_CODE_USE_VERTEX=1`.

The SDK is imported inside `build_sdk_client` only: `import anthropic` costs about a second.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agent.config import ModelConfig
from agent.models.base import ModelError

if TYPE_CHECKING:
    import httpx2
    from anthropic import AsyncAnthropic
    from anthropic.lib.bedrock import AsyncAnthropicBedrock
    from anthropic.lib.vertex import AsyncAnthropicVertex

    SdkClient = AsyncAnthropic | AsyncAnthropicBedrock | AsyncAnthropicVertex

Provider = Literal["anthropic", "foundry", "bedrock", "vertex"]

BLOCK_ENV = "HOTFIX_BLOCK_MODEL_REQUESTS"
BLOCKED_MESSAGE = "real model requests are blocked in this environment"
# Entra scope for Foundry, as in the SDK's own Foundry guide (anthropic/lib/foundry.md).
FOUNDRY_TOKEN_SCOPE = "https://ai.azure.com/.default"  # noqa: S105 (a scope)

_ANTHROPIC_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE")
_FOUNDRY_ENV = (
    "ANTHROPIC_FOUNDRY_API_KEY",
    "ANTHROPIC_FOUNDRY_RESOURCE",
    "ANTHROPIC_FOUNDRY_BASE_URL",
)
_BEDROCK_ENV = ("AWS_BEARER_TOKEN_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL")
_VERTEX_ENV = ("ANTHROPIC_VERTEX_PROJECT_ID",)


def detect_provider(
    config: ModelConfig, environ: Mapping[str, str] | None = None
) -> Provider | None:
    """The provider to use: the configured one, or for "auto" the first with credentials.

    Returns None when `provider` is "auto" and no Claude credentials are visible.
    """
    if config.provider != "auto":
        return config.provider
    env = os.environ if environ is None else environ

    def has(names: tuple[str, ...], flag: str | None = None) -> bool:
        return any(env.get(name) for name in names) or (flag is not None and env.get(flag) == "1")

    if has(_ANTHROPIC_ENV):
        return "anthropic"
    if (
        has(_FOUNDRY_ENV, "CLAUDE_CODE_USE_FOUNDRY")
        or config.foundry_resource
        or config.foundry_base_url
    ):
        return "foundry"
    if has(_BEDROCK_ENV, "CLAUDE_CODE_USE_BEDROCK"):
        return "bedrock"
    if has(_VERTEX_ENV, "CLAUDE_CODE_USE_VERTEX"):
        return "vertex"
    return None


def requests_blocked(environ: Mapping[str, str] | None = None) -> bool:
    """True when the environment forbids real model traffic (tests set this)."""
    env = os.environ if environ is None else environ
    return env.get(BLOCK_ENV, "").strip().lower() in ("1", "true", "yes")


@dataclass
class BuiltClient:
    """An SDK client plus whatever must be closed with it (an Entra credential)."""

    client: SdkClient
    close_extra: Callable[[], Awaitable[None]] | None = None

    async def aclose(self) -> None:
        await self.client.close()
        if self.close_extra is not None:
            await self.close_extra()


def build_sdk_client(
    provider: Provider,
    config: ModelConfig,
    *,
    http_client: httpx2.AsyncClient | None,
    environ: Mapping[str, str] | None = None,
) -> BuiltClient:
    """Construct the async SDK client for `provider`; no request is sent.

    Raises:
        ModelError: requests are blocked and no transport was injected, or the provider's
            settings are incomplete (the message names what is missing).
    """
    if http_client is None and requests_blocked(environ):
        raise ModelError(BLOCKED_MESSAGE)
    import anthropic

    common: dict[str, Any] = {
        "max_retries": config.max_retries,
        "timeout": config.timeout_s,
        "http_client": http_client,
    }
    try:
        if provider == "anthropic":
            # Credentials come from the environment the caller passed, not only os.environ.
            env = os.environ if environ is None else environ
            keys = {k: env[v] for k, v in (("api_key", "ANTHROPIC_API_KEY"),
                                           ("auth_token", "ANTHROPIC_AUTH_TOKEN")) if v in env}
            return BuiltClient(anthropic.AsyncAnthropic(**keys, **common))
        if provider == "foundry":
            return _foundry(config, common, environ)
        if provider == "bedrock":
            from anthropic.lib.bedrock import AsyncAnthropicBedrock

            return BuiltClient(AsyncAnthropicBedrock(aws_region=config.region, **common))
        vertex_args = {
            key: value
            for key, value in (("region", config.region), ("project_id", config.project_id))
            if value
        }
        from anthropic.lib.vertex import AsyncAnthropicVertex

        return BuiltClient(AsyncAnthropicVertex(**vertex_args, **common))
    except (anthropic.AnthropicError, ValueError) as exc:
        raise ModelError(f"cannot set up the {provider} model client: {exc}") from exc


def _foundry(
    config: ModelConfig, common: dict[str, Any], environ: Mapping[str, str] | None
) -> BuiltClient:
    import anthropic

    env = os.environ if environ is None else environ
    location: dict[str, str] = {}
    if config.foundry_base_url:
        location["base_url"] = config.foundry_base_url
    elif config.foundry_resource:
        location["resource"] = config.foundry_resource
    elif not (env.get("ANTHROPIC_FOUNDRY_RESOURCE") or env.get("ANTHROPIC_FOUNDRY_BASE_URL")):
        raise ModelError(
            "Microsoft Foundry needs a resource: set model.foundry_resource (or "
            "model.foundry_base_url) or ANTHROPIC_FOUNDRY_RESOURCE"
        )
    if env.get("ANTHROPIC_FOUNDRY_API_KEY"):
        return BuiltClient(
            anthropic.AsyncAnthropicFoundry(
                api_key=env["ANTHROPIC_FOUNDRY_API_KEY"], **location, **common
            )
        )
    from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

    credential = DefaultAzureCredential()
    token_provider = get_bearer_token_provider(credential, FOUNDRY_TOKEN_SCOPE)
    client = anthropic.AsyncAnthropicFoundry(
        azure_ad_token_provider=token_provider, **location, **common
    )
    return BuiltClient(client, credential.close)
