"""The real Azure MCP server (`@azure/mcp@2.0.5` from npm) behind our bridge, gate and CLI.

Needs `npm ci` (CI's `.ci/run` runs it); without it the tests fail and say so. Each server
is configured in a workspace's hotfix.toml like any MCP server and started through a stdio
tap; everything stays on loopback (see `azure_mcp_real.py` for how). Three servers start
side by side, once for the module: `hotfix tools --json` and `hotfix tool` (no credentials)
as subprocesses, and an agent run with a scripted model and fake credentials in this
process, which Entra (faked) accepts and ARM (faked) rejects with a 401.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azure_mcp_cloud import FakeCloud
from azure_mcp_real import (
    TapLogs,
    azmcp_binary,
    listed_tools,
    tapped,
    tools_called,
    write_workspace,
)

from agent._approval import Approval, ApprovalRequest
from agent.journal import read_journal
from agent.models.scripted import ScriptedModel
from agent.session import RunResult, SessionOptions, run_session
from tools.mcp_bridge.elicitation import answer_for

pytestmark = pytest.mark.slow  # three real servers: ~5 s each, started side by side

HOTFIX = str(Path(sys.executable).parent / "hotfix")
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
FAKE_SECRET = f"fake-secret-value-{uuid.uuid4().hex}"
FAKE_TOKEN = f"fake-access-token-{uuid.uuid4().hex}"
CREDENTIALS = {
    "AZURE_TENANT_ID": "00000000-0000-0000-0000-0000000000bb",
    "AZURE_CLIENT_ID": "00000000-0000-0000-0000-0000000000cc",
    "AZURE_CLIENT_SECRET": FAKE_SECRET,
}


def _call(name: str, **args: Any) -> list[dict[str, Any]]:
    return [{"type": "tool_use", "name": name, "input": args}]


SCRIPT = [
    _call("azure_subscription_list"),
    _call("azure_storage_account_create", account="hotfixdata", **{"resource-group": "rg-shop"},
          location="eastus", subscription=SUBSCRIPTION),
    _call("azure_keyvault_secret_get", vault="shopkv", secret="db-password",
          subscription=SUBSCRIPTION),
    _call("azure_keyvault_secret_get", vault="shopkv", secret="api-key",
          subscription=SUBSCRIPTION),
    [{"type": "text", "text": "Looked around; nothing changed."}],
]  # fmt: skip


@dataclass
class ScriptedApprover:
    """Denies creating the storage account; approves the first secret reveal, not the second."""

    name: str = "test"
    asked: list[ApprovalRequest] = field(default_factory=list[ApprovalRequest])

    async def request(self, req: ApprovalRequest) -> Approval:
        self.asked.append(req)
        reveals = [r for r in self.asked if r.tool_name == "mcp_elicitation"]
        if req.tool_name == "azure_storage_account_create" or len(reveals) > 1:
            return req.deny(self.name, "not in this test")
        return req.approve(self.name)


@dataclass
class Runs:
    """What the three servers did."""

    run: RunResult
    model: ScriptedModel
    approver: ScriptedApprover
    run_cloud: FakeCloud
    run_tap: TapLogs
    listing: subprocess.CompletedProcess[str]
    listing_tap: TapLogs
    single: subprocess.CompletedProcess[str]
    single_cloud: FakeCloud

    def records(self) -> list[dict[str, Any]]:
        return read_journal(self.run.journal_path)


def _without_azure_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    return {**env, "HOTFIX_BLOCK_MODEL_REQUESTS": "1"}


def _start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [HOTFIX, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_without_azure_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = process.communicate(timeout=180)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.fixture(scope="session")
def azure_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One HOME for every server of the session: the ~40 MB unpacked into `.net` once."""
    return tmp_path_factory.mktemp("azure-mcp-home")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, azure_home: Path) -> Iterator[Runs]:
    azmcp = azmcp_binary()
    base = tmp_path_factory.mktemp("azure-real")
    clouds = [FakeCloud(base / f"cloud{n}", token=FAKE_TOKEN) for n in range(3)]
    run_cloud, listing_cloud, single_cloud = clouds
    cli: list[subprocess.Popen[str]] = []
    try:
        run_ws, listing_ws, single_ws = (base / "run", base / "listing", base / "single")
        run_tap = write_workspace(run_ws, azmcp=azmcp, home=azure_home, cloud_env=run_cloud.env())
        listing_tap = write_workspace(
            listing_ws, azmcp=azmcp, home=azure_home, cloud_env=listing_cloud.env()
        )
        write_workspace(single_ws, azmcp=azmcp, home=azure_home, cloud_env=single_cloud.env())
        # The CLI runs have no Azure credentials at all; the agent run has fake ones.
        listing = _start_cli("tools", "--json", "--workspace", str(listing_ws))
        single = _start_cli(
            "tool", "azure_subscription_list", "{}", "--json", "--workspace", str(single_ws)
        )
        cli += [listing, single]
        model = ScriptedModel.from_data({"turns": SCRIPT})
        approver = ScriptedApprover()
        options = SessionOptions(
            description="Look around the shop's Azure subscription.",
            workspace=run_ws, approver=approver, agent="azure-ops", model_client=model,
        )  # fmt: skip
        with pytest.MonkeyPatch.context() as env:
            for name in [k for k in os.environ if k.startswith("AZURE_")]:
                env.delenv(name)
            for name, value in CREDENTIALS.items():
                env.setenv(name, value)
            run = asyncio.run(run_session(options))
        yield Runs(
            run, model, approver, run_cloud, run_tap,
            _finish(listing), listing_tap, _finish(single), single_cloud,
        )  # fmt: skip
    finally:
        for process in cli:
            if process.poll() is None:  # the run failed: its server ends with our pipe
                process.kill()
                process.wait()
        for cloud in clouds:
            cloud.close()


def _listing(runs: Runs) -> dict[str, dict[str, Any]]:
    assert runs.listing.returncode == 0, runs.listing.stderr
    document = json.loads(runs.listing.stdout)
    return {row["name"]: row for row in document["tools"] if row["source"] == "azure"}


def _tool_results(runs: Runs) -> dict[str, dict[str, Any]]:
    """The tool_result blocks the model received, by tool_use id."""
    last = runs.model.calls[-1]
    return {
        block["tool_use_id"]: block
        for message in last.messages
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    }


def _text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [])


def test_hotfix_tools_discovers_every_tool_of_the_real_server_through_the_bridge(
    runs: Runs,
) -> None:
    listed = {f"azure_{tool['name']}" for tool in listed_tools(runs.listing_tap.replies)}
    names = set(_listing(runs))

    assert len(listed) >= 30  # 41 in these six namespaces with 2.0.5
    assert names == listed
    assert {"azure_subscription_list", "azure_storage_account_create"} <= names


def test_every_real_tool_is_classified_from_its_hints(runs: Runs) -> None:
    effects = {name: row["effect"] for name, row in _listing(runs).items()}
    seen: dict[str, set[str]] = {"read": set(), "remote": set(), "production": set()}
    for tool in listed_tools(runs.listing_tap.replies):
        name, hints = f"azure_{tool['name']}", tool.get("annotations") or {}
        secret = bool((tool.get("_meta") or {}).get("SecretHint"))
        effect = effects[name]
        seen[effect].add(name)
        if hints.get("readOnlyHint") is True:
            # A read-only tool that returns secrets is asked about before its output shows.
            assert effect == ("remote" if secret else "read"), name
        else:
            assert effect in ("remote", "production"), name
        if hints.get("destructiveHint") is True or not hints:
            assert effect == "production", name

    assert all(seen.values()), seen  # each class occurs, so the checks above can fail
    assert "azure_storage_account_create" in seen["production"]
    assert "azure_keyvault_secret_get" in seen["remote"]


def test_the_agent_is_offered_the_tools_selected_by_the_seeds_alias(runs: Runs) -> None:
    offered = {spec.name for spec in runs.model.calls[0].tools}

    assert offered == set(_listing(runs))  # `mcp_microsoft_azu/*` here, `azure/*` in the CLI


def test_a_call_without_credentials_is_a_tool_error_carrying_the_401(runs: Runs) -> None:
    assert runs.single.returncode == 1, runs.single.stderr
    outcome = json.loads(runs.single.stdout)

    assert (outcome["tool"], outcome["status"], outcome["decision"]) == (
        "azure_subscription_list", "error", "allow",
    )  # fmt: skip
    assert '"status":401' in outcome["output"]
    assert "Authentication failed" in outcome["output"]
    assert runs.single_cloud.seen()[1] == []  # no credential: no token request, no ARM call


def test_in_an_agent_run_a_rejected_credential_reaches_the_model_as_the_401(runs: Runs) -> None:
    results = _tool_results(runs)
    subscription = results["toolu_scripted_1"]

    assert runs.run.status == "completed", runs.run.detail
    assert subscription.get("is_error") is True
    assert '"status":401' in _text(subscription)
    finished = {r["call_id"]: r for r in runs.records() if r["type"] == "tool_finished"}
    assert finished["toolu_scripted_1"]["status"] == "error"


def test_a_denied_call_never_reaches_the_server_and_an_allowed_one_does(runs: Runs) -> None:
    called = tools_called(runs.run_tap.requests)
    denied = [
        r for r in runs.records()
        if r["type"] == "approval" and not r["approved"] and r["call_id"] == "toolu_scripted_2"
    ]  # fmt: skip

    assert "storage_account_create" not in called
    assert len(denied) == 1
    assert called == ["subscription_list", "keyvault_secret_get", "keyvault_secret_get"]
    assert "denied" in _text(_tool_results(runs)["toolu_scripted_2"]).lower()


def test_the_servers_confirmation_before_revealing_a_secret_is_asked_through_the_gate(
    runs: Runs,
) -> None:
    reveals = [r for r in runs.approver.asked if r.tool_name == "mcp_elicitation"]
    _, requests = runs.run_cloud.seen()
    vault_paths = [r.path for r in requests if r.host.endswith(".vault.azure.net")]
    refused = _text(_tool_results(runs)["toolu_scripted_4"])
    answers = [
        m for m in tapped(runs.run_tap.requests) if "result" in m and "action" in m["result"]
    ]

    assert len(reveals) == 2 and "SECURITY WARNING" in reveals[0].summary
    assert [a["result"]["action"] for a in answers] == ["accept", "decline"]
    assert answers[0]["result"]["content"] == {"decision": "accept"}
    assert any("db-password" in path for path in vault_paths)  # approved: it went on
    assert not any("api-key" in path for path in vault_paths)  # declined: it stopped
    assert "cancelled" in refused.lower()


def test_no_azure_credential_or_token_reaches_the_journal_or_the_model(runs: Runs) -> None:
    _, requests = runs.run_cloud.seen()
    token_requests = [r for r in requests if r.path.endswith("/oauth2/v2.0/token")]
    bearer = [r for r in requests if r.headers.get("authorization") == f"Bearer {FAKE_TOKEN}"]
    written = "".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in runs.run.run_dir.rglob("*") if path.is_file()
    )  # fmt: skip
    sent = json.dumps(
        [[call.system, [t.to_api() for t in call.tools], call.messages] for call in
         runs.model.calls], default=str,
    )  # fmt: skip

    # The server did use both: the secret went to (fake) Entra, the token to ARM.
    assert any(f"client_secret={FAKE_SECRET}" in r.body for r in token_requests)
    assert bearer
    for value in (FAKE_SECRET, FAKE_TOKEN):
        assert value not in written
        assert value not in sent


def test_the_server_only_ever_talked_to_the_fake_cloud(runs: Runs) -> None:
    tunnels, requests = runs.run_cloud.seen()

    assert {t.rsplit(":", 1)[0] for t in tunnels} <= {
        "login.microsoftonline.com", "management.azure.com", "shopkv.vault.azure.net",
    }  # fmt: skip
    assert all(t.endswith(":443") for t in tunnels)  # no plain HTTP (IMDS would be)
    assert requests


def test_the_servers_stray_stdout_line_does_not_disturb_the_protocol(runs: Runs) -> None:
    replies = runs.run_tap.replies.read_text(encoding="utf-8")

    assert "No X display available" in replies  # `@azure/mcp` 2.0.5 prints it on stdout
    assert len(_tool_results(runs)) == 4  # and every call was still answered


def test_the_affirmative_option_of_azures_confirmation_form_is_the_answer() -> None:
    # The form `@azure/mcp` 2.0.5 sends before it reveals a secret.
    schema = {
        "type": "object",
        "properties": {
            "decision": {
                "type": "string",
                "oneOf": [
                    {"const": "accept", "title": "Approve"},
                    {"const": "reject", "title": "Reject"},
                ],
            }
        },
        "required": ["decision"],
    }
    free_text = {"type": "object", "properties": {"why": {"type": "string"}}, "required": ["why"]}

    assert answer_for(schema) == {"decision": "accept"}
    assert answer_for(free_text) is None
