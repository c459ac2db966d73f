"""Agent definitions: VS Code `*.agent.md` files loaded at run time.

The front matter (`name`, `description`, `argument-hint`, `tools`, `model`, `handoffs`)
configures the agent; the body, rendered with jinja2, becomes its instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.config import describe_validation_error

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.S)


class DefinitionError(Exception):
    """An agent definition cannot be loaded; the message names the file and the problem."""


class Handoff(BaseModel):
    """A button offered when the agent finishes (`send: false` means never auto-start)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    label: str
    agent: str
    prompt: str = ""
    send: bool = False


class _FrontMatter(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str
    description: str = ""
    argument_hint: str = Field(default="", alias="argument-hint")
    tools: list[str] = Field(default_factory=list[str])
    model: str | None = None
    handoffs: list[Handoff] = Field(default_factory=list[Handoff])


@dataclass
class AgentDefinition:
    """A loaded agent definition; `render` produces its instructions."""

    slug: str
    name: str
    description: str
    argument_hint: str
    tools: list[str]
    model: str | None
    handoffs: list[Handoff]
    body_template: str
    path: Path
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def render(self, **context: Any) -> str:
        """The instructions, with `context` available to the jinja2 template."""
        # Markdown instructions for a model, not HTML: escaping would corrupt them.
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,  # noqa: S701
                                 keep_trailing_newline=True)
        try:
            return env.from_string(self.body_template).render(**context).strip() + "\n"
        except jinja2.TemplateError as exc:
            raise DefinitionError(f"{self.path}: template error: {exc}") from exc


def load_definition(path: Path) -> AgentDefinition:
    """Parse one `*.agent.md` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot read: {exc.strerror}") from exc
    match = _FRONT_MATTER.match(text)
    if not match:
        raise DefinitionError(f"{path}: missing YAML front matter between '---' lines")
    try:
        raw = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise DefinitionError(f"{path}: front matter must be a mapping")
    try:
        front = _FrontMatter.model_validate(raw)
    except ValidationError as exc:
        raise DefinitionError(f"{path}: {describe_validation_error(exc)}") from exc
    slug = path.name.removesuffix(".agent.md")
    return AgentDefinition(
        slug=slug, name=front.name, description=front.description,
        argument_hint=front.argument_hint, tools=front.tools, model=front.model,
        handoffs=front.handoffs, body_template=match.group(2), path=path,
        extra=front.model_extra or {},
    )


def find_definition(name: str, search_dirs: list[Path] | None = None) -> AgentDefinition:
    """Find a definition by slug (`hotfix-deployment`), display name, or file path.

    Searches the workspace's `.github/agents/` first (a user's edits win), then ours.
    """
    candidate = Path(name)
    if candidate.suffix == ".md" and candidate.is_file():
        return load_definition(candidate)
    dirs = [*(search_dirs or []), PROMPTS_DIR]
    for directory in dirs:
        path = directory / f"{name}.agent.md"
        if path.is_file():
            return load_definition(path)
    for directory in dirs:
        for path in sorted(directory.glob("*.agent.md")):
            definition = load_definition(path)
            if definition.name.lower() == name.lower():
                return definition
    raise DefinitionError(f"no agent definition named {name!r} in " + ", ".join(map(str, dirs)))
