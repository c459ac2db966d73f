"""Model names as people write them, mapped to API model ids.

Agent files carry VS Code display names ("Claude Sonnet 4 (copilot)"); configs and flags
carry API ids. A display name maps to the current model of its family, with a notice when
that is not the version named. An exact API id passes through (that is how a version is
pinned), with a notice when the SDK lists it as deprecated; a retired id maps to the current
model of its family. Nothing here imports `anthropic` (about a second of start-up): the SDK's
deprecation table is read from its source file.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from agent.config import DEFAULT_MODEL

DEFAULT_MODEL_ID = DEFAULT_MODEL
CURRENT_MODELS: dict[str, str] = {
    "sonnet": "claude-sonnet-5-5",
    "opus": "claude-opus-5-5",
    "haiku": "claude-haiku-5-5",
    "fable": "claude-fable-5-2",
    "mythos": "claude-mythos-5-2",
}
# Gone from the API (and from the SDK's model list): id -> retirement date.
RETIRED_MODELS: dict[str, str] = {
    "claude-sonnet-4": "2026-06-15",
    "claude-sonnet-4-0": "2026-06-15",
    "claude-sonnet-4-20250514": "2026-06-15",
}

_VERSION = r"\d+(?:\.\d+)*"
_DISPLAY = re.compile(
    rf"^claude\s+(?:(?P<family>[a-z]+)(?:\s+(?P<version>{_VERSION}))?"
    rf"|(?P<version2>{_VERSION})\s+(?P<family2>[a-z]+))\s*(?:\([^)]*\))?$",
    re.IGNORECASE,
)
_ID = re.compile(r"^[\w.:@/-]+$")


@dataclass(frozen=True)
class ResolvedModel:
    """An API model id, and a one-line notice when it differs from what was asked for."""

    api_id: str
    notice: str | None = None


def resolve_model(name: str | None) -> ResolvedModel:
    """Map a display name or API id to the API id to call.

    Examples: "Claude Sonnet 4 (copilot)" -> claude-sonnet-5-5 with a retirement notice;
    "Claude Opus 4.8" -> claude-opus-5-5; "claude-sonnet-4-6" -> itself; "claude-sonnet-4-5"
    -> itself with a deprecation notice; "GPT-4.1" -> the default with a notice.
    """
    text = (name or "").strip()
    if not text:
        return ResolvedModel(DEFAULT_MODEL_ID)
    match = _DISPLAY.match(text)
    if match is not None:
        family = (match["family"] or match["family2"]).lower()
        version = match["version"] or match["version2"]
        return _resolve_display(family, version)
    lowered = text.lower()
    if _ID.match(text) and ("claude" in lowered or "anthropic" in lowered):
        return _resolve_id(text)
    return ResolvedModel(
        DEFAULT_MODEL_ID, f"{text} is not a Claude model; using {DEFAULT_MODEL_ID}"
    )


def _resolve_display(family: str, version: str | None) -> ResolvedModel:
    current = CURRENT_MODELS.get(family)
    label = f"Claude {family.title()}" + (f" {version}" if version else "")
    if current is None:
        return ResolvedModel(
            DEFAULT_MODEL_ID, f"{label} is not a known Claude family; using {DEFAULT_MODEL_ID}"
        )
    if version is None:
        return ResolvedModel(current)
    named = f"claude-{family}-{version.replace('.', '-')}"
    if named == current:
        return ResolvedModel(current)
    if named in RETIRED_MODELS:
        return ResolvedModel(
            current, f"{label} was retired on {RETIRED_MODELS[named]}; using {current}"
        )
    end_of_life = sdk_deprecated_models().get(named)
    if end_of_life is not None:
        return ResolvedModel(
            current, f"{label} is deprecated (end of life {end_of_life}); using {current}"
        )
    return ResolvedModel(
        current, f"{label} maps to the current {family.title()} model; using {current}"
    )


def _resolve_id(model_id: str) -> ResolvedModel:
    if model_id in RETIRED_MODELS:
        family = model_id.split("-")[1]
        current = CURRENT_MODELS.get(family, DEFAULT_MODEL_ID)
        return ResolvedModel(
            current, f"{model_id} was retired on {RETIRED_MODELS[model_id]}; using {current}"
        )
    end_of_life = sdk_deprecated_models().get(model_id)
    if end_of_life is not None:
        return ResolvedModel(
            model_id,
            f"{model_id} is deprecated and reaches end of life on "
            f"{end_of_life}; consider {DEFAULT_MODEL_ID}",
        )
    return ResolvedModel(model_id)


@functools.cache
def sdk_deprecated_models() -> dict[str, str]:
    """The installed SDK's `DEPRECATED_MODELS` (model id -> end-of-life date)."""
    spec = importlib.util.find_spec("anthropic")  # locates the package without running it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        source = Path(folder) / "_data" / "deprecated_models.py"
        try:
            table = _literal_assignment(source.read_text(encoding="utf-8"), "DEPRECATED_MODELS")
        except (OSError, SyntaxError, ValueError):
            continue
        if table is not None:
            return table
    from anthropic._data import DEPRECATED_MODELS  # the slow path, if the layout changed

    return dict(DEPRECATED_MODELS)


def _literal_assignment(source: str, name: str) -> dict[str, str] | None:
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name and value is not None:
            table = ast.literal_eval(value)
            if isinstance(table, dict):
                return {str(key): str(date) for key, date in table.items()}
    return None
