"""The policy's rule syntax, evaluation order and effect defaults."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from agent.config import GateConfig
from agent.policy import Decision, Policy, PolicyError, Verdict
from tools.base import Effect, Tool, ToolArgs, ToolCall, ToolContext, ToolResult


class _CommandArgs(ToolArgs):
    command: str


class _UrlArgs(ToolArgs):
    url: str


class _PathArgs(ToolArgs):
    path: str


class _AnyArgs(ToolArgs):
    target: str = ""


class _FakeTool(Tool):
    description: ClassVar[str] = "fake"

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        raise AssertionError("gate tests never run tools")


class FakeTerminal(_FakeTool):
    name: ClassVar[str] = "runInTerminal"
    args_model: ClassVar[type[ToolArgs]] = _CommandArgs
    effect: ClassVar[Effect] = Effect.LOCAL
    aliases: ClassVar[tuple[str, ...]] = ("execute/runInTerminal",)


class FakeFetch(_FakeTool):
    name: ClassVar[str] = "fetch"
    args_model: ClassVar[type[ToolArgs]] = _UrlArgs
    effect: ClassVar[Effect] = Effect.READ
    aliases: ClassVar[tuple[str, ...]] = ("web/fetch",)


class FakeReadFile(_FakeTool):
    name: ClassVar[str] = "readFile"
    args_model: ClassVar[type[ToolArgs]] = _PathArgs
    effect: ClassVar[Effect] = Effect.READ


class Promote(_FakeTool):
    name: ClassVar[str] = "hotfix_promote"
    args_model: ClassVar[type[ToolArgs]] = _AnyArgs
    effect: ClassVar[Effect] = Effect.PRODUCTION


class AzureList(_FakeTool):
    name: ClassVar[str] = "storage_account_list"
    args_model: ClassVar[type[ToolArgs]] = _AnyArgs
    effect: ClassVar[Effect] = Effect.READ
    source: ClassVar[str] = "azure"


class AzureSwap(_FakeTool):
    name: ClassVar[str] = "webapp_deployment_slot_swap"
    args_model: ClassVar[type[ToolArgs]] = _AnyArgs
    effect: ClassVar[Effect] = Effect.PRODUCTION
    source: ClassVar[str] = "azure"


class OtherServerList(_FakeTool):
    name: ClassVar[str] = "storage_account_list"
    args_model: ClassVar[type[ToolArgs]] = _AnyArgs
    effect: ClassVar[Effect] = Effect.READ
    source: ClassVar[str] = "github"


def decide(
    tool: Tool,
    args: dict[str, Any],
    *,
    allow: list[str] | None = None,
    ask: list[str] | None = None,
    deny: list[str] | None = None,
    effect: Effect | None = None,
) -> Verdict:
    policy = Policy(GateConfig(allow=allow or [], ask=ask or [], deny=deny or []))
    call = ToolCall(id="c1", tool=tool.name, args=args)
    return policy.evaluate(tool, call, effect or tool.effect)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "empty rule"),
        ("runInTerminal(git status", "missing ')'"),
        ("runInTerminal()", "empty '()'"),
        ("run InTerminal", "may only contain"),
        ("fetch)", "')' without '('"),
        ("fetch(domain:)", "not a host name"),
        ("fetch(domain:https://example.com/)", "not a host name"),
        ("runInTerminal(git status; rm -rf build)", "one simple command"),
        ("runInTerminal(echo 'unterminated)", "unterminated"),
        ("runInTerminal(echo $(date))", "command substitution"),
    ],
)
def test_a_malformed_rule_is_refused_at_load_time_with_its_place(rule: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        Policy(GateConfig(allow=["readFile"], ask=[rule]))
    assert "gate.ask[0]" in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("effect", "decision"),
    [
        (Effect.READ, Decision.ALLOW),
        (Effect.LOCAL, Decision.ASK),
        (Effect.REMOTE, Decision.ASK),
        (Effect.PRODUCTION, Decision.ASK),
    ],
)
def test_without_rules_the_effect_decides(effect: Effect, decision: Decision) -> None:
    result = decide(Promote(), {}, effect=effect)
    assert (result.decision, result.rule) == (decision, None)


def test_deny_beats_ask_and_ask_beats_allow() -> None:
    args = {"command": "npm publish"}
    rules = ["runInTerminal(npm *)"]
    assert decide(FakeTerminal(), args, allow=rules).decision is Decision.ALLOW
    assert decide(FakeTerminal(), args, allow=rules, ask=rules).decision is Decision.ASK
    denied = decide(
        FakeTerminal(), args, allow=rules, ask=rules, deny=["runInTerminal(npm publish*)"]
    )
    assert (denied.decision, denied.rule) == (Decision.DENY, "runInTerminal(npm publish*)")


def test_an_ask_rule_makes_even_a_read_ask() -> None:
    result = decide(FakeReadFile(), {"path": "secrets/prod.env"}, ask=["readFile(secrets/**)"])
    assert result.decision is Decision.ASK


def test_an_allow_rule_never_makes_a_production_call_allowed() -> None:
    for rule in ("hotfix_promote", "*"):
        result = decide(Promote(), {"target": "v2"}, allow=[rule])
        assert result.decision is Decision.ASK
        assert "production" in result.reason


@pytest.mark.parametrize(
    "command", ["rm -fr build", "/bin/rm --recursive --force build", "sudo rm -r -f build"]
)
def test_deny_rules_match_every_flag_spelling(command: str) -> None:
    result = decide(
        FakeTerminal(),
        {"command": command},
        allow=["runInTerminal(*)"],
        deny=["runInTerminal(rm -rf *)"],
    )
    assert result.decision is Decision.DENY


def test_a_deny_rule_sees_commands_hidden_in_an_unparseable_line() -> None:
    result = decide(
        FakeTerminal(), {"command": "$(echo npm) publish"}, deny=["runInTerminal(npm publish*)"]
    )
    assert result.decision is Decision.DENY


@pytest.mark.parametrize(
    ("url", "decision"),
    [
        ("https://learn.microsoft.com/azure/app-service/", Decision.ALLOW),
        ("https://LEARN.microsoft.com./x", Decision.ALLOW),
        ("https://learn.microsoft.com.evil.example/", Decision.ASK),
        ("https://evil.example/?next=learn.microsoft.com", Decision.ASK),
        ("https://learn.microsoft.com@evil.example/", Decision.ASK),
        ("https://evil.example\\@learn.microsoft.com/", Decision.ASK),
        ("file:///etc/passwd", Decision.ASK),
    ],
)
def test_fetch_domain_rules_match_the_url_host_only(url: str, decision: Decision) -> None:
    result = decide(
        FakeFetch(), {"url": url}, effect=Effect.REMOTE, allow=["fetch(domain:learn.microsoft.com)"]
    )
    assert result.decision is decision


def test_wildcard_domain_rules_match_subdomains_through_an_alias() -> None:
    rules = ["web/fetch(domain:*.microsoft.com)"]
    ok = decide(
        FakeFetch(), {"url": "https://docs.microsoft.com/x"}, effect=Effect.REMOTE, allow=rules
    )
    bad = decide(
        FakeFetch(),
        {"url": "https://microsoft.com.evil.example/"},
        effect=Effect.REMOTE,
        allow=rules,
    )
    assert (ok.decision, bad.decision) == (Decision.ALLOW, Decision.ASK)


def test_a_domain_deny_rule_catches_a_userinfo_disguise() -> None:
    result = decide(
        FakeFetch(),
        {"url": "https://learn.microsoft.com@evil.example/"},
        deny=["fetch(domain:evil.example)"],
    )
    assert result.decision is Decision.DENY


@pytest.mark.parametrize(
    ("path", "decision"),
    [
        ("src/app/main.py", Decision.ALLOW),
        ("./src/x.py", Decision.ALLOW),
        ("src/../secrets.txt", Decision.ASK),
        ("../src/x.py", Decision.ASK),
        ("/etc/src/x.py", Decision.ASK),
        ("docs/src/x.py", Decision.ASK),
    ],
)
def test_path_rules_are_globs_over_the_normalised_path(path: str, decision: Decision) -> None:
    result = decide(FakeReadFile(), {"path": path}, effect=Effect.LOCAL, allow=["readFile(src/**)"])
    assert result.decision is decision


@pytest.mark.parametrize("path", [".env", "config/.env", "config/sub/../.env"])
def test_a_double_star_deny_rule_matches_at_any_depth(path: str) -> None:
    result = decide(FakeReadFile(), {"path": path}, deny=["readFile(**/.env)"])
    assert result.decision is Decision.DENY


def test_server_star_rules_match_mcp_tools_by_their_source() -> None:
    assert decide(AzureList(), {}, ask=["azure/*"]).decision is Decision.ASK
    assert decide(OtherServerList(), {}, ask=["azure/*"]).decision is Decision.ALLOW
    denied = decide(AzureSwap(), {}, deny=["azure/*"])
    assert (denied.decision, denied.rule) == (Decision.DENY, "azure/*")


def test_a_server_star_allow_rule_still_asks_for_production_mcp_tools() -> None:
    assert decide(AzureSwap(), {}, allow=["azure/*"]).decision is Decision.ASK
    assert decide(AzureList(), {}, allow=["azure/*"], effect=Effect.REMOTE).decision is (
        Decision.ALLOW
    )


def test_explain_returns_a_json_ready_verdict() -> None:
    policy = Policy(GateConfig(allow=["runInTerminal(git status*)"]))
    result = policy.explain(FakeTerminal(), {"command": "git status --short"})
    assert result.to_json() == {
        "decision": "allow",
        "rule": "runInTerminal(git status*)",
        "reason": "matches allow rule 'runInTerminal(git status*)'",
    }


def test_explain_refuses_arguments_the_tool_would_reject() -> None:
    with pytest.raises(PolicyError, match="invalid arguments"):
        Policy().explain(FakeTerminal(), {"cmd": "ls"})
