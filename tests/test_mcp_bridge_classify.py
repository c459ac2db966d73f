"""Classifying MCP tools from their (untrusted) annotations; rules only make it stricter."""

from __future__ import annotations

from mcp.types import ToolAnnotations

from tools.base import Effect
from tools.mcp_bridge import apply_rules, effect_from_hints


def test_read_only_hint_makes_a_tool_read() -> None:
    hints = ToolAnnotations(read_only_hint=True)

    assert effect_from_hints(hints) is Effect.READ


def test_destructive_or_absent_hints_make_a_tool_production() -> None:
    assert effect_from_hints(ToolAnnotations(destructive_hint=True)) is Effect.PRODUCTION
    assert effect_from_hints(None) is Effect.PRODUCTION
    assert effect_from_hints(ToolAnnotations()) is Effect.PRODUCTION
    # MCP's default for a writing tool is destructive.
    assert effect_from_hints(ToolAnnotations(read_only_hint=False)) is Effect.PRODUCTION


def test_a_writing_tool_that_says_it_destroys_nothing_is_remote() -> None:
    hints = ToolAnnotations(read_only_hint=False, destructive_hint=False)

    assert effect_from_hints(hints) is Effect.REMOTE


def test_a_tool_returning_secrets_is_asked_about_even_when_read_only() -> None:
    hints = ToolAnnotations(read_only_hint=True)

    assert effect_from_hints(hints, {"SecretHint": True}) is Effect.REMOTE
    assert effect_from_hints(hints, {"SecretHint": False}) is Effect.READ


def test_rules_raise_a_classification_but_never_lower_it() -> None:
    rules = {"storage_*": Effect.PRODUCTION, "*_delete": Effect.READ}

    assert apply_rules("storage_account_list", Effect.READ, rules) is Effect.PRODUCTION
    assert apply_rules("group_delete", Effect.PRODUCTION, rules) is Effect.PRODUCTION
    assert apply_rules("group_list", Effect.READ, rules) is Effect.READ
