"""Answering an MCP server's elicitation (e.g. "reveal this secret?") through our gate.

The question becomes a call of a pseudo-tool `<server>/elicitation` with the question and
the tool it came from as arguments, so the gate decides with its usual rules, approver and
journal. Its effect is the asking tool's, and at least `remote`: an answer is never given
without the gate asking (or a rule allowing it explicitly). Without a gate the answer is
"decline". Only questions we can answer truthfully are accepted: a confirmation (booleans
set to true, or the affirmative option of a single choice, as `@azure/mcp` asks:
`decision: accept | reject`) or fields with defaults; anything else is declined.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict

from tools.base import Effect, Tool, ToolArgs, ToolCall, ToolContext, ToolResult

if TYPE_CHECKING:
    from mcp.types import ElicitRequestParams, ElicitResult

    from agent.gate import Gate

_ids = itertools.count(1)
# Option values (or titles) that say "go ahead" in a single-choice confirmation.
_AFFIRMATIVE = frozenset({"accept", "approve", "yes", "confirm", "allow", "continue", "proceed"})


class _ElicitationArgs(ToolArgs):
    model_config = ConfigDict(extra="allow")


class ElicitationTool(Tool):
    """The gate's view of a server asking the user something during a call."""

    name: ClassVar[str] = "mcp_elicitation"
    description: ClassVar[str] = "An MCP server asks for confirmation during a tool call."
    args_model: ClassVar[type[ToolArgs]] = _ElicitationArgs
    effect: ClassVar[Effect] = Effect.REMOTE
    aliases: ClassVar[tuple[str, ...]] = ("elicitation",)

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        raise NotImplementedError("the elicitation pseudo-tool is only ever authorised")


def elicitation_tool(server: str, effect: Effect) -> ElicitationTool:
    """The pseudo-tool for questions from `server` during a call of a tool with `effect`."""
    attrs = {"source": server, "effect": effect.stricter(Effect.REMOTE)}
    return type(f"{server}_elicitation", (ElicitationTool,), attrs)()


def answer_for(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The content that says "yes" to a confirmation form; None when we cannot answer."""
    content: dict[str, Any] = {}
    properties: dict[str, Any] = schema.get("properties") or {}
    for field, spec in properties.items():
        if spec.get("type") == "boolean":
            content[field] = True
        elif (choice := _affirmative_choice(spec)) is not None:
            content[field] = choice
        elif "default" in spec:
            content[field] = spec["default"]
        elif field in (schema.get("required") or []):
            return None
    return content


def _affirmative_choice(spec: dict[str, Any]) -> str | None:
    """The option of a string choice (`enum`, or `oneOf` consts) that means yes, if any."""
    if spec.get("type") != "string":
        return None
    options: list[tuple[str, str]] = [(v, "") for v in spec.get("enum") or [] if isinstance(v, str)]
    for option in spec.get("oneOf") or spec.get("anyOf") or []:
        if isinstance(option, dict) and isinstance(value := option.get("const"), str):
            options.append((value, str(option.get("title") or "")))
    for value, title in options:
        if {value.strip().lower(), title.strip().lower()} & _AFFIRMATIVE:
            return value
    return None


async def ask_gate(
    gate: Gate | None,
    *,
    server: str,
    tool: str,
    effect: Effect,
    params: ElicitRequestParams,
) -> ElicitResult:
    """Put the server's question to the gate; accept only with an approval."""
    from mcp.types import ElicitResult

    if gate is None:
        return ElicitResult(action="decline")
    schema: dict[str, Any] = dict(getattr(params, "requested_schema", None) or {})
    content = answer_for(schema)
    if content is None:
        return ElicitResult(action="decline")
    pseudo = elicitation_tool(server, effect)
    args = {"tool": tool, "message": params.message, "answer": content}
    call = ToolCall(f"{server}-elicitation-{next(_ids)}", pseudo.name, args)
    authorization = await gate.authorize(pseudo, call, pseudo.effect)
    if not authorization.allowed:
        return ElicitResult(action="decline")
    return ElicitResult(action="accept", content=content)
