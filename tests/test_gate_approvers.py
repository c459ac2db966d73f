"""Approvers: deny-all, policy files and the terminal prompt."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agent.approvers import (
    Approval,
    ApprovalRequest,
    DenyAllApprover,
    PolicyFileApprover,
    TerminalApprover,
    ToolApproved,
    ToolDenied,
    describe_call,
)
from agent.policy import Decision, PolicyError, Verdict
from agent.redaction import MASK, Redactor
from tools.base import Effect, ToolCall

ASKED = Verdict(Decision.ASK, "runInTerminal(git push*)", "matches ask rule")


def request(
    tool: str,
    args: dict[str, Any],
    effect: Effect = Effect.LOCAL,
    *,
    aliases: tuple[str, ...] = (),
    source: str = "builtin",
) -> ApprovalRequest:
    call = ToolCall(id="c1", tool=tool, args=args)
    return ApprovalRequest(call, tool, effect, ASKED, describe_call(tool, args), aliases, source)


def terminal(command: str, effect: Effect = Effect.LOCAL) -> ApprovalRequest:
    return request(
        "runInTerminal", {"command": command}, effect, aliases=("execute/runInTerminal",)
    )


def ask(approver: Any, req: ApprovalRequest) -> Approval:
    return asyncio.run(approver.request(req))


def write_policy(
    tmp_path: Path, approve: list[str], deny: list[str] | None = None, suffix: str = ".toml"
) -> Path:
    path = tmp_path / f"approvals{suffix}"
    data = {"approve": approve, "deny": deny or []}
    if suffix == ".toml":
        path.write_text(f"approve = {json.dumps(approve)}\ndeny = {json.dumps(deny or [])}\n")
    elif suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        lines = ["approve:", *[f"  - '{r}'" for r in approve], "deny:"]
        lines += [f"  - '{r}'" for r in deny or []] or ["  []"]
        path.write_text("\n".join(lines).replace("deny:\n  []", "deny: []") + "\n")
    return path


def test_deny_all_denies_the_exact_call_it_was_asked_about() -> None:
    req = terminal("git push origin feature")
    answer = ask(DenyAllApprover(), req)
    assert isinstance(answer, ToolDenied)
    assert (answer.fingerprint, answer.approver) == (req.call.fingerprint, "deny-all")


@pytest.mark.parametrize("suffix", [".toml", ".json", ".yaml"])
def test_policy_file_approves_matching_calls_and_denies_the_rest(
    tmp_path: Path, suffix: str
) -> None:
    approver = PolicyFileApprover(
        write_policy(
            tmp_path, ["runInTerminal(git push*)"], ["runInTerminal(git push --force*)"], suffix
        )
    )
    ok = ask(approver, terminal("git push origin feature"))
    forced = ask(approver, terminal("git push -f origin feature"))
    other = ask(approver, terminal("npm publish"))
    assert isinstance(ok, ToolApproved) and ok.scope == "once"
    assert isinstance(forced, ToolDenied) and "deny rule" in forced.reason
    assert isinstance(other, ToolDenied) and "no approve rule" in other.reason


def test_policy_file_rules_cover_every_command_of_a_chain(tmp_path: Path) -> None:
    approver = PolicyFileApprover(write_policy(tmp_path, ["runInTerminal(git push*)"]))
    assert isinstance(ask(approver, terminal("git push && npm publish")), ToolDenied)


def test_policy_file_never_approves_an_unparseable_command(tmp_path: Path) -> None:
    approver = PolicyFileApprover(write_policy(tmp_path, ["runInTerminal(*)"]))
    answer = ask(approver, terminal("echo $(whoami)"))
    assert isinstance(answer, ToolDenied) and "cannot be analysed" in answer.reason


@pytest.mark.parametrize("rule", ["*", "azure/*", "webapp_*"])
def test_a_wildcard_in_a_policy_file_never_approves_production(tmp_path: Path, rule: str) -> None:
    approver = PolicyFileApprover(write_policy(tmp_path, [rule]))
    req = request("webapp_swap", {"slot": "staging"}, Effect.PRODUCTION, source="azure")
    answer = ask(approver, req)
    assert isinstance(answer, ToolDenied) and "production" in answer.reason
    assert isinstance(
        ask(approver, request("webapp_swap", {}, Effect.REMOTE, source="azure")), ToolApproved
    )


@pytest.mark.parametrize("rule", ["webapp_swap", "azure/webapp_swap"])
def test_a_rule_naming_the_tool_approves_production(tmp_path: Path, rule: str) -> None:
    approver = PolicyFileApprover(write_policy(tmp_path, [rule]))
    req = request("webapp_swap", {"slot": "staging"}, Effect.PRODUCTION, source="azure")
    assert isinstance(ask(approver, req), ToolApproved)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.toml", 'approve = ["runInTerminal("]\n', "approve[0]"),
        ("p.toml", 'approve = "runInTerminal"\n', "must be a list"),
        ("p.toml", "approve = [1]\n", "must be a string rule"),
        ("p.toml", 'allow = ["x"]\n', "unknown key"),
        ("p.toml", "approve = [\n", "not valid TOML"),
        ("p.json", "{", "not valid JSON"),
        ("p.yaml", "approve: [unclosed\n", "not valid YAML"),
        ("p.yaml", "- just a list\n", "expected a table"),
        ("p.ini", "approve=x\n", "must be .toml"),
    ],
)
def test_a_malformed_policy_file_is_refused_at_load(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        PolicyFileApprover(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_a_missing_policy_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        PolicyFileApprover(tmp_path / "nope.toml")


def prompt(
    answers: list[str], req: ApprovalRequest, **kwargs: Any
) -> tuple[Approval, str, list[str]]:
    console = Console(record=True, width=120, color_system=None)
    prompts: list[str] = []
    remaining = list(answers)

    def read(text: str) -> str:
        prompts.append(text)
        if not remaining:
            raise EOFError
        return remaining.pop(0)

    approver = TerminalApprover(console, read, **kwargs)
    return ask(approver, req), console.export_text(), prompts


def test_terminal_yes_approves_once_and_shows_the_call_effect_and_rule() -> None:
    answer, shown, prompts = prompt(["y"], terminal("git push origin feature"))
    assert isinstance(answer, ToolApproved) and answer.scope == "once"
    assert 'command="git push origin feature"' in shown
    assert "effect: local" in shown and "runInTerminal(git push*)" in shown
    assert "[a]lways" in prompts[0]


def test_terminal_always_approves_for_the_run() -> None:
    answer, _, _ = prompt(["a"], terminal("git push origin feature"))
    assert isinstance(answer, ToolApproved) and answer.scope == "run"


def test_terminal_does_not_offer_always_for_production() -> None:
    answer, shown, prompts = prompt(["a", "y"], terminal("deploy", Effect.PRODUCTION))
    assert "[a]lways" not in prompts[0]
    assert len(prompts) == 2  # "a" is not an answer here; asked again
    assert isinstance(answer, ToolApproved) and answer.scope == "once"
    assert "this one call only" in shown


@pytest.mark.parametrize("answers", [[""], ["n"], ["no"], [], ["maybe", "?", "eh"]])
def test_terminal_anything_but_yes_denies(answers: list[str]) -> None:
    answer, _, _ = prompt(answers, terminal("git push origin feature"))
    assert isinstance(answer, ToolDenied)


def test_terminal_repeats_the_choices_after_an_unclear_answer() -> None:
    answer, shown, prompts = prompt(["maybe", "y"], terminal("git push origin feature"))
    assert isinstance(answer, ToolApproved) and len(prompts) == 2
    assert "Please answer [y]es / [N]o / [a]lways this run." in shown


def test_terminal_without_a_tty_denies_without_prompting() -> None:
    answer, _, prompts = prompt(["y"], terminal("ls"), interactive=False)
    assert isinstance(answer, ToolDenied) and "not a tty" in answer.reason
    assert prompts == []


def test_terminal_times_out_as_a_denial() -> None:
    release = threading.Event()

    def never(text: str) -> str:
        release.wait(5)
        return "y"

    approver = TerminalApprover(Console(record=True), never, timeout_s=0.05)
    try:
        answer = ask(approver, terminal("ls"))
    finally:
        release.set()
    assert isinstance(answer, ToolDenied) and "no answer within" in answer.reason


def test_call_summaries_mask_secrets() -> None:
    summary = describe_call(
        "fetch", {"url": "https://x.test/?sig=abc123456", "api_key": "k" * 20}, Redactor()
    )
    assert "k" * 20 not in summary and "abc123456" not in summary
    assert summary.count(MASK) == 2
