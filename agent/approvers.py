"""Approvers: who answers when the policy says `ask`.

- `DenyAllApprover`: nobody; every asked call is denied (safe default for automation).
- `PolicyFileApprover`: a TOML / JSON / YAML file of `approve` and `deny` rules, for
  pipelines and evals.
- `TerminalApprover`: a y / N / a prompt on the console.

The MCP front end brings its own (elicitation). Approvals are data (`ToolApproved`,
`ToolDenied`) bound to one call's fingerprint.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from agent._approval import (
    Approval,
    ApprovalRequest,
    Approver,
    Scope,
    ToolApproved,
    ToolDenied,
    describe_call,
)
from agent._rules import (
    PolicyError,
    Rule,
    ToolIdentity,
    covering_rules,
    first_match,
    parse_rule,
    parse_terminal,
)
from agent._terminal_approver import TerminalApprover
from tools.base import Effect

__all__ = [
    "Approval",
    "ApprovalRequest",
    "Approver",
    "DenyAllApprover",
    "PolicyFileApprover",
    "Scope",
    "TerminalApprover",
    "ToolApproved",
    "ToolDenied",
    "describe_call",
]


class DenyAllApprover:
    """Denies every call it is asked about."""

    name = "deny-all"

    async def request(self, req: ApprovalRequest) -> Approval:
        return req.deny(
            self.name, "no approver is available (deny-all): calls that need approval do not run"
        )


class PolicyFileApprover:
    """Decides non-interactively from a file of rules.

    The file holds `approve = [rules]` and `deny = [rules]` in the gate's rule syntax.
    `deny` wins; an unmatched call is denied. For a `production` call only a rule that names
    the tool explicitly approves it: `*` or `azure/*` never does. A terminal command that
    cannot be analysed is never approved from a file. A call outside the change window (the
    request carries `override`) is approved only when the file also says
    `override_change_window = true`.

    Raises:
        PolicyError: at construction, when the file is missing, unreadable or malformed.
    """

    name = "policy-file"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        data = _load(self.path)
        unknown = sorted(set(data) - {"approve", "deny", "override_change_window"})
        if unknown:
            raise PolicyError(
                f"{self.path}: unknown key(s) {', '.join(unknown)}; "
                "expected 'approve' and 'deny' lists of rules"
            )
        override = data.get("override_change_window", False)
        if not isinstance(override, bool):
            raise PolicyError(f"{self.path}: 'override_change_window' must be true or false")
        self.override_change_window = override
        self.approve = _rules(self.path, "approve", data.get("approve", []))
        self.deny = _rules(self.path, "deny", data.get("deny", []))

    async def request(self, req: ApprovalRequest) -> Approval:
        identity = ToolIdentity(req.tool_name, req.aliases, req.source)
        args = req.call.args
        parsed = parse_terminal(identity, args)
        denied = first_match(self.deny, identity, args, parsed)
        if denied is not None:
            return req.deny(self.name, f"deny rule {denied.text!r} in {self.path}")
        if parsed is not None and not parsed.parseable:
            return req.deny(
                self.name,
                f"the command cannot be analysed ({parsed.reason}); "
                "a policy file never approves such a command",
            )
        production = req.effect is Effect.PRODUCTION
        rules = [r for r in self.approve if r.explicit] if production else list(self.approve)
        covering = covering_rules(rules, identity, args, parsed)
        if covering is None:
            extra = " (production calls need a rule naming the tool, not a wildcard)"
            return req.deny(
                self.name,
                f"no approve rule in {self.path} matches this call" + (extra if production else ""),
            )
        names = ", ".join(repr(r.text) for r in covering)
        if req.override is not None:
            if not self.override_change_window:
                return req.deny(
                    self.name,
                    f"outside the change window ({req.override}) and {self.path} does not "
                    "set override_change_window = true",
                )
            names += " with override_change_window = true"
        return req.approve(self.name, "once", f"approve rule {names} in {self.path}")


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: approval policy file not found") from None
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read approval policy file: {exc}") from None
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        data = _load_yaml(path, text)
    elif suffix in (".toml", ".json"):
        try:
            data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise PolicyError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from None
    else:
        raise PolicyError(f"{path}: approval policy must be .toml, .json, .yaml or .yml")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a table/object with 'approve' and 'deny' lists")
    return {str(k): v for k, v in data.items()}  # pyright: ignore[reportUnknownVariableType]


def _load_yaml(path: Path, text: str) -> Any:
    import yaml  # only YAML policy files pay for the import

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None


def _rules(path: Path, key: str, value: Any) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise PolicyError(f"{path}: '{key}' must be a list of rules, not {type(value).__name__}")
    rules: list[Rule] = []
    for index, item in enumerate(value):  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(item, str):
            raise PolicyError(f"{path}: {key}[{index}] must be a string rule, got {item!r}")
        try:
            rules.append(parse_rule(item))
        except PolicyError as exc:
            raise PolicyError(f"{path}: {key}[{index}]: {exc}") from None
    return tuple(rules)
