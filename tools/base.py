"""The tool contract: every capability the agent has is a `Tool` with a declared effect.

A tool validates its arguments with a pydantic model, describes itself for the model, and
declares what it can change (`Effect`). The gate (`agent.gate`) decides from the effect and
the configured rules whether a call may run; a tool never asks for approval itself.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from agent.config import HotfixConfig
    from agent.journal import Journal
    from agent.redaction import Redactor


class Effect(StrEnum):
    """What a tool call can change, from harmless to user-visible."""

    READ = "read"
    LOCAL = "local"
    REMOTE = "remote"
    PRODUCTION = "production"

    @property
    def rank(self) -> int:
        return _EFFECT_RANK[self]

    def stricter(self, other: Effect) -> Effect:
        """Return whichever of the two effects is the more dangerous."""
        return self if self.rank >= other.rank else other


_EFFECT_RANK = {Effect.READ: 0, Effect.LOCAL: 1, Effect.REMOTE: 2, Effect.PRODUCTION: 3}


class ToolArgs(BaseModel):
    """Base for argument models: unknown arguments are a validation error, not ignored."""

    model_config = ConfigDict(extra="forbid")


def canonical_json(value: Any) -> str:
    """Serialise `value` so that equal arguments always give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ToolCall:
    """One request to run a tool, as the model (or a script) made it."""

    id: str
    tool: str
    args: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        """Identity of the exact call (tool + canonical arguments); approvals bind to it."""
        digest = hashlib.sha256(f"{self.tool}\n{canonical_json(self.args)}".encode())
        return digest.hexdigest()


@dataclass
class ToolResult:
    """What a tool returns: text for the model plus optional structured data."""

    text: str
    data: dict[str, Any] | None = None
    is_error: bool = False


class ToolError(Exception):
    """A failure the model should see as an `is_error` result (not a crash)."""


@dataclass
class ToolContext:
    """Everything a tool may use while running; built once per session."""

    workspace: Path
    config: HotfixConfig
    redactor: Redactor
    journal: Journal | None = None
    run_id: str | None = None
    extras: dict[str, Any] = field(default_factory=dict[str, Any])


class Tool(ABC):
    """A capability offered to the agent.

    Subclasses set the class attributes and implement `run`. `name` is what the model calls
    (Messages API names allow no `/`); `aliases` are other names agent definitions may use,
    such as VS Code's `search/codebase`.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    args_model: ClassVar[type[ToolArgs]]
    effect: ClassVar[Effect]
    aliases: ClassVar[tuple[str, ...]] = ()
    source: ClassVar[str] = "builtin"
    # Reads may run concurrently with each other; anything else runs alone, in order.
    concurrent_safe: ClassVar[bool] = True

    def effect_for(self, args: ToolArgs) -> Effect:
        """Effect of one particular call; defaults to the tool's declared effect."""
        del args
        return self.effect

    def input_schema(self) -> dict[str, Any]:
        """JSON schema of the arguments, as sent to the model."""
        return self.args_model.model_json_schema()

    @abstractmethod
    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        """Carry out the call. Raise `ToolError` for failures the model should see."""
