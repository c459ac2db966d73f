"""Configuration: `hotfix.toml` (or `[tool.hotfix]` in pyproject.toml), validated by pydantic.

A bad file is reported with the offending key and what was expected, never as a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handoffs.monitoring.settings import MonitoringSettings
from tools.deploy.config import DeployConfig
from tools.mcp_bridge.settings import McpConfig

DEFAULT_MODEL = "claude-sonnet-5-5"
CONFIG_FILE_NAME = "hotfix.toml"
# Far above any real configuration; a bigger "config" (or a symlink to /dev/zero) is refused
# before it is read into memory.
MAX_CONFIG_BYTES = 1_000_000


class ConfigError(Exception):
    """The configuration file cannot be used; the message says where and why."""


class _Section(BaseModel):
    # Strict: TOML has real types, so `max_turns = true` or `"5"` is a mistake to report,
    # not a value to coerce; an infinite or NaN limit is no limit at all.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ModelConfig(_Section):
    """Which model drives the agent and through which provider."""

    id: str = DEFAULT_MODEL
    provider: Literal["auto", "anthropic", "foundry", "bedrock", "vertex"] = "auto"
    max_tokens: int = Field(default=8192, gt=0)
    # Microsoft Foundry: resource name or base URL; Bedrock / Vertex: region and project.
    foundry_resource: str | None = None
    foundry_base_url: str | None = None
    region: str | None = None
    project_id: str | None = None
    max_retries: int = Field(default=4, ge=0)
    timeout_s: float = Field(default=600.0, gt=0)


class LimitsConfig(_Section):
    """Hard limits on one run; hitting one stops the run with that reason."""

    max_turns: int = Field(default=60, gt=0)
    max_tool_calls: int = Field(default=300, gt=0)
    token_budget: int = Field(default=3_000_000, gt=0)
    wall_clock_s: float = Field(default=3600.0, gt=0)
    tool_output_chars: int = Field(default=40_000, gt=200)


class GateConfig(_Section):
    """Rules in `Tool(specifier)` syntax, evaluated deny, then ask, then allow."""

    allow: list[str] = Field(default_factory=list[str])
    ask: list[str] = Field(default_factory=list[str])
    deny: list[str] = Field(default_factory=list[str])


class TerminalConfig(_Section):
    timeout_s: float = Field(default=300.0, gt=0)
    output_chars: int = Field(default=30_000, gt=200)


class FetchConfig(_Section):
    # Hosts (or IP literals / CIDR ranges) that may be fetched although they are private.
    allow_private: list[str] = Field(default_factory=list[str])
    timeout_s: float = Field(default=20.0, gt=0)
    max_bytes: int = Field(default=2_000_000, gt=0)
    max_redirects: int = Field(default=5, ge=0)


class ProblemCommand(_Section):
    """One diagnostics command run by the `problems` tool."""

    name: str
    command: str
    parser: Literal[
        "auto", "pytest", "ruff", "pyright", "mypy", "dotnet", "gcc", "eslint", "plain"
    ] = "auto"
    timeout_s: float = Field(default=600.0, gt=0)


class ProblemsConfig(_Section):
    commands: list[ProblemCommand] = Field(default_factory=list[ProblemCommand])


class SecretsConfig(_Section):
    """Extra names whose values are secrets, beyond the built-in name patterns."""

    env_names: list[str] = Field(default_factory=list[str])


class TelemetryConfig(_Section):
    otlp_endpoint: str | None = None


class HotfixConfig(_Section):
    """The whole configuration; every section has working defaults."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    terminal: TerminalConfig = Field(default_factory=TerminalConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    problems: ProblemsConfig = Field(default_factory=ProblemsConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    source: str | None = Field(default=None, exclude=True)


def load_config(workspace: Path, path: Path | None = None) -> HotfixConfig:
    """Load the configuration for `workspace`.

    Looks for `path`, else `hotfix.toml`, else `[tool.hotfix]` in `pyproject.toml`; with
    none of them the defaults apply.
    """
    if path is not None:
        return _parse(_read_toml(path), str(path))
    candidate = workspace / CONFIG_FILE_NAME
    # Present but unreadable (a directory, a symlink loop) is an error, not "no config".
    if candidate.exists() or candidate.is_symlink():
        return _parse(_read_toml(candidate), str(candidate))
    pyproject = workspace / "pyproject.toml"
    if pyproject.is_file():
        tool = _read_toml(pyproject).get("tool")
        section = tool.get("hotfix") if isinstance(tool, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if section is not None:
            if not isinstance(section, dict):
                raise ConfigError(f"{pyproject}: [tool.hotfix] must be a table")
            return _parse(section, f"{pyproject} [tool.hotfix]")  # pyright: ignore[reportUnknownArgumentType]
    return HotfixConfig()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except OSError as exc:  # a directory, no permission, a symlink loop…
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes; not a config file")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text ({exc.reason})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _parse(data: dict[str, Any], source: str) -> HotfixConfig:
    try:
        config = HotfixConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + describe_validation_error(exc)) from exc
    _check_rules(config.gate, source)
    config.source = source
    return config


def _check_rules(gate: GateConfig, source: str) -> None:
    # Checked at load time, so that a bad rule stops a run before anything (a journal, an
    # MCP server) is started, and the error names the file and the key.
    from agent._rules import PolicyError, parse_rule

    for kind in ("allow", "ask", "deny"):
        for index, rule in enumerate(getattr(gate, kind)):
            try:
                parse_rule(rule)
            except PolicyError as exc:
                raise ConfigError(f"{source}: gate.{kind}[{index}]: {exc}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `key.path: message (got value)`."""
    lines: list[str] = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        got = error.get("input")
        suffix = f" (got {got!r})" if got is not None and not isinstance(got, dict) else ""
        lines.append(f"{location}: {message}{suffix}")
    return "; ".join(lines)
