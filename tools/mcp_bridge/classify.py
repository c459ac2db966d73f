"""What a bridged MCP tool can change, from its annotations, made stricter by rules.

Hints come from the server and are untrusted: `readOnlyHint` makes a tool `read`; an
explicit `destructiveHint: false` on a tool that is not read-only makes it `remote`;
`destructiveHint`, or no hints at all, make it `production` (MCP's own defaults: a tool is
assumed to write, and a writing tool to destroy). A tool that says it returns secrets
(`_meta` SecretHint) is at least `remote`, so the gate asks before its output reaches the
model. Configured rules can raise the result, never lower it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from tools.base import Effect


def effect_from_hints(annotations: Any, meta: Mapping[str, Any] | None = None) -> Effect:
    """The effect a tool's annotations (`mcp.types.ToolAnnotations` or None) claim."""
    read_only = getattr(annotations, "read_only_hint", None)
    destructive = getattr(annotations, "destructive_hint", None)
    if read_only is True:
        effect = Effect.READ
    elif destructive is False:
        effect = Effect.REMOTE
    else:
        effect = Effect.PRODUCTION
    if _says_secret(meta):
        effect = effect.stricter(Effect.REMOTE)
    return effect


def apply_rules(tool_name: str, effect: Effect, rules: Mapping[str, Effect]) -> Effect:
    """`effect` raised by every rule whose glob matches `tool_name` (never lowered)."""
    for pattern, ruled in rules.items():
        if fnmatch.fnmatchcase(tool_name, pattern):
            effect = effect.stricter(ruled)
    return effect


def _says_secret(meta: Mapping[str, Any] | None) -> bool:
    for key, value in (meta or {}).items():
        if "secret" in key.lower() and value not in (False, None, "false", 0):
            return True
    return False
