"""The gate's rule engine: allow, ask or deny for one tool call, and which rule said so.

Order: built-in hard denies (terminal commands) -> config `deny` -> config `ask` ->
config `allow` -> the default for the call's effect (read: allow; local, remote,
production: ask). Production calls are never allowed without a human, whatever the rules.
Terminal commands are parsed first (`agent.shell_parse`); one that cannot be analysed is
asked about at best.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from agent._hard_denies import inspect
from agent._rules import (
    PolicyError,
    Rule,
    ToolIdentity,
    covering_rules,
    first_match,
    parse_rule,
    parse_terminal,
)
from agent.config import GateConfig, describe_validation_error
from tools.base import Effect, Tool, ToolCall

__all__ = [
    "Decision",
    "Policy",
    "PolicyError",
    "Rule",
    "ToolIdentity",
    "Verdict",
    "parse_rule",
]


class Decision(StrEnum):
    """What the gate does with a call."""

    ALLOW = "allow"
    ASK = "ask"
    DENY = "deny"


@dataclass(frozen=True)
class Verdict:
    """The policy's decision, the rule that made it (None for a default) and why."""

    decision: Decision
    rule: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision.value, "rule": self.rule, "reason": self.reason}


_DEFAULTS = {
    Effect.READ: (Decision.ALLOW, "a read-only call is allowed by default"),
    Effect.LOCAL: (
        Decision.ASK,
        "a call that changes the workspace or local processes needs approval by default",
    ),
    Effect.REMOTE: (
        Decision.ASK,
        "a call that changes a shared non-production resource needs approval by default",
    ),
    Effect.PRODUCTION: (Decision.ASK, "a call that changes production always needs approval"),
}


class Policy:
    """Evaluates calls against the `[gate]` rules of the configuration.

    Raises:
        PolicyError: at construction, naming the first malformed rule.
    """

    def __init__(self, config: GateConfig | None = None) -> None:
        config = config or GateConfig()
        self.deny = _parse_all("deny", config.deny)
        self.ask = _parse_all("ask", config.ask)
        self.allow = _parse_all("allow", config.allow)

    def evaluate(self, tool: Tool, call: ToolCall, effect: Effect) -> Verdict:
        """Decide one call. `effect` is the call's effect (`tool.effect_for(args)`)."""
        identity = ToolIdentity.of(tool)
        parsed = parse_terminal(identity, call.args)
        findings = inspect(parsed) if parsed is not None else []
        hard = next((f for f in findings if f.deny), None)
        if hard is not None:
            return Verdict(
                Decision.DENY,
                hard.rule,
                f"hard deny ({hard.rule}): {hard.reason}; no rule can allow this",
            )
        rule = first_match(self.deny, identity, call.args, parsed)
        if rule is not None:
            return Verdict(Decision.DENY, rule.text, f"matches deny rule {rule.text!r}")
        rule = first_match(self.ask, identity, call.args, parsed)
        if rule is not None:
            return Verdict(Decision.ASK, rule.text, f"matches ask rule {rule.text!r}")
        if parsed is not None and not parsed.parseable:
            return Verdict(
                Decision.ASK,
                None,
                f"the command cannot be analysed safely "
                f"({parsed.reason}): a human has to look at it",
            )
        if findings:
            return Verdict(Decision.ASK, findings[0].rule, f"{findings[0].reason}: needs approval")
        covering = covering_rules(self.allow, identity, call.args, parsed)
        if covering is not None:
            names = ", ".join(repr(r.text) for r in covering)
            if effect is Effect.PRODUCTION:
                return Verdict(
                    Decision.ASK,
                    covering[0].text,
                    f"allow rule {names} matches, but production calls always need approval",
                )
            return Verdict(
                Decision.ALLOW, ", ".join(r.text for r in covering), f"matches allow rule {names}"
            )
        decision, reason = _DEFAULTS[effect]
        return Verdict(decision, None, f"no rule matched; {reason}")

    def explain(self, tool: Tool, args: Mapping[str, Any]) -> Verdict:
        """What `evaluate` would decide for `tool` called with `args`.

        Raises:
            PolicyError: the arguments do not validate against the tool's model.
        """
        try:
            effect = tool.effect_for(tool.args_model.model_validate(dict(args)))
        except ValidationError as exc:
            raise PolicyError(
                f"{tool.name}: invalid arguments: {describe_validation_error(exc)}"
            ) from None
        return self.evaluate(tool, ToolCall(id="explain", tool=tool.name, args=dict(args)), effect)


def _parse_all(kind: str, rules: Sequence[str]) -> tuple[Rule, ...]:
    parsed: list[Rule] = []
    for index, text in enumerate(rules):
        try:
            parsed.append(parse_rule(text))
        except PolicyError as exc:
            raise PolicyError(f"gate.{kind}[{index}]: {exc}") from None
    return tuple(parsed)
