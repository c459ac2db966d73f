"""The gate's rule engine: allow, ask or deny for one tool call, and which rule said so.

Order: a known secret in the arguments (hard deny, any tool) -> built-in hard denies
(terminal commands, oversized ones included) -> config `deny` -> config `ask` ->
config `allow` -> the default for the call's effect (read: allow; local, remote,
production: ask). Production calls are never allowed without a human, whatever the rules.
Terminal commands are parsed first (`agent.shell_parse`); one that cannot be analysed is
asked about at best.
"""

from __future__ import annotations

from collections import deque
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
from agent.redaction import Redactor
from tools.base import Effect, Tool, ToolCall

__all__ = [
    "MAX_COMMAND_CHARS",
    "OVERSIZED_RULE",
    "SECRET_RULE",
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


OVERSIZED_RULE = "builtin:oversized-command"
# Far beyond any command a person reads before approving it; also bounds the parser's work.
MAX_COMMAND_CHARS = 100_000
SECRET_RULE = "builtin:secret-in-args"  # noqa: S105 (a rule name)

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

    Args:
        config: the `[gate]` rules.
        redactor: knows the secrets that no call's arguments may carry; by default the
            secret-named variables of this process's environment.

    Raises:
        PolicyError: at construction, naming the first malformed rule.
    """

    def __init__(self, config: GateConfig | None = None, redactor: Redactor | None = None) -> None:
        config = config or GateConfig()
        self.deny = _parse_all("deny", config.deny)
        self.ask = _parse_all("ask", config.ask)
        self.allow = _parse_all("allow", config.allow)
        self.redactor = redactor if redactor is not None else Redactor.from_environment()

    def evaluate(
        self, tool: Tool, call: ToolCall, effect: Effect, *, secrets: Redactor | None = None
    ) -> Verdict:
        """Decide one call. `effect` is the call's effect (`tool.effect_for(args)`).

        `secrets` (the run's redactor) replaces the policy's own for the secret check.
        """
        leak = secret_argument(secrets or self.redactor, call.args)
        if leak is not None:
            where, what = leak
            return Verdict(
                Decision.DENY,
                SECRET_RULE,
                f"hard deny ({SECRET_RULE}): {where} contains {what}; a secret must never "
                "leave through a tool call's arguments, so no rule or approval can allow this",
            )
        identity = ToolIdentity.of(tool)
        command = call.args.get("command")
        if identity.is_terminal and isinstance(command, str) and len(command) > MAX_COMMAND_CHARS:
            return Verdict(
                Decision.DENY,
                OVERSIZED_RULE,
                f"hard deny ({OVERSIZED_RULE}): the command is {len(command):,} characters "
                f"long, over {MAX_COMMAND_CHARS:,}; nobody can review it, so no rule can "
                "allow it",
            )
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


def secret_argument(redactor: Redactor, args: Mapping[str, Any]) -> tuple[str, str] | None:
    """Where the call's arguments hold a secret, and what kind: (`argument 'url'`, `a JWT`).

    Every string is checked, keys included, however deeply nested (walked without
    recursion, so hostile nesting cannot overflow the stack). None when there is no secret.
    """
    pending: deque[tuple[str, object]] = deque((str(k), v) for k, v in args.items())
    for key in args:
        found = redactor.find_secret(str(key))
        if found is not None:
            return "an argument name", found
    while pending:
        path, value = pending.popleft()
        if isinstance(value, str):
            found = redactor.find_secret(value)
            if found is not None:
                return f"argument {path!r}", found
        elif isinstance(value, Mapping):
            for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
                found = redactor.find_secret(str(key))  # pyright: ignore[reportUnknownArgumentType]
                if found is not None:
                    return f"a key inside argument {path!r}", found
                pending.append((f"{path}.{key}", item))
        elif isinstance(value, list | tuple):
            pending.extend(
                (f"{path}[{index}]", item)
                for index, item in enumerate(value)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            )
    return None


def _parse_all(kind: str, rules: Sequence[str]) -> tuple[Rule, ...]:
    parsed: list[Rule] = []
    for index, text in enumerate(rules):
        try:
            parsed.append(parse_rule(text))
        except PolicyError as exc:
            raise PolicyError(f"gate.{kind}[{index}]: {exc}") from None
    return tuple(parsed)
