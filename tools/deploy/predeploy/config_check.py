"""Configuration step: required settings are present, secrets are referenced, not inlined."""

from __future__ import annotations

import configparser
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from agent.redaction import Redactor, is_secret_name
from tools.deploy.predeploy._references import holds_secret, is_reference
from tools.deploy.predeploy.context import PredeployContext, StepOutcome, failed, passed, skipped

_SEPARATORS = re.compile(r"__|[.:]")


class SettingsFileError(Exception):
    """The settings file cannot be read or parsed."""


def load_settings(path: Path) -> dict[str, Any]:
    """A settings file flattened to `Section.Key` names (.json/.toml/.yaml/.ini/.cfg/.env)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SettingsFileError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data: Any = json.loads(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif suffix in (".ini", ".cfg"):
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(text)
            data = {name: dict(parser[name]) for name in parser.sections()}
        else:
            data = _dotenv(text)
    except Exception as exc:  # each parser has its own error type; all mean "malformed"
        raise SettingsFileError(f"{path.name} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsFileError(f"{path.name} does not hold a table of settings")
    flat: dict[str, Any] = {}
    _flatten("", data, flat)  # pyright: ignore[reportUnknownArgumentType]
    return flat


def check_settings(
    values: dict[str, Any], required: list[str], redactor: Redactor | None = None
) -> tuple[list[str], list[str]]:
    """(required names missing or empty, names holding an inlined secret).

    A value is an inlined secret when its name looks secret (`DB_PASSWORD`, `ApiKey`) and it
    is not a reference, or when the redactor's patterns find a secret in it (a password
    inside a connection string, a token shape).
    """
    by_key = {_normal(name): value for name, value in values.items()}
    missing = [name for name in required if _empty(by_key.get(_normal(name)))]
    inlined: list[str] = []
    for name, value in values.items():
        if not isinstance(value, str) or is_reference(value):
            continue
        secret_name = is_secret_name(name.rsplit(".", 1)[-1])
        if secret_name or (redactor is not None and holds_secret(value, name, redactor)):
            inlined.append(name)
    return missing, inlined


async def check_config(p: PredeployContext) -> StepOutcome:
    """Check the fix's settings file (or the environment) against the configured rules."""
    settings = p.settings.config_check
    if not settings.settings_file and not settings.required_settings:
        return skipped("no configuration checks are configured ([deploy.predeploy.config_check])")
    if settings.settings_file:
        path = p.worktree / settings.settings_file
        source = settings.settings_file
        if not path.is_file():
            return failed(f"settings file {source} is not in {p.ref} ({p.commit[:12]})")
        try:
            values = load_settings(path)
        except SettingsFileError as exc:
            return failed(str(exc))
    else:
        source = "the environment"
        values = {name: os.environ.get(name) for name in settings.required_settings}
    missing, inlined = check_settings(values, settings.required_settings, p.redactor)
    if not settings.settings_file:
        inlined = []  # the environment is where secrets belong
    evidence: dict[str, Any] = {
        "source": source,
        "required": list(settings.required_settings),
        "missing": missing,
        "inlined_secrets": inlined,
    }
    problems: list[str] = []
    if missing:
        problems.append(f"required setting(s) missing or empty in {source}: {', '.join(missing)}")
    if inlined:
        problems.append(
            f"secret(s) written into {source} instead of referenced: {', '.join(inlined)} "
            "(use ${VAR}, a Key Vault reference or env:NAME)"
        )
    if problems:
        return failed("; ".join(problems), evidence)
    return passed(
        f"{len(settings.required_settings)} required setting(s) present in {source}; "
        "no inlined secrets",
        evidence,
        undo="nothing to undo (read-only)",
    )


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)  # pyright: ignore[reportUnknownArgumentType]
    else:
        out[prefix] = value


def _dotenv(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        values[name.strip()] = value.strip().strip("\"'")
    return values


def _normal(name: str) -> str:
    return ".".join(part.lower() for part in _SEPARATORS.split(name))


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)
