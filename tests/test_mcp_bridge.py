"""The MCP bridge against a tiny MCP server over stdio, shaped like the Azure MCP server.

All tests here share one server (see `mcp_tiny/shared.py`); each uses its own arguments,
since the gate remembers a denied call for the rest of the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from mcp_tiny import calls_made
from mcp_tiny.harness import Harness
from mcp_tiny.shared import SharedServer

from tools.base import Effect
from tools.mcp_bridge import stray_lines_seen
from tools.registry import default_registry

pytestmark = pytest.mark.slow  # one server start for the module: ~1-3 s


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServer]:
    shared = SharedServer(tmp_path_factory.mktemp("tiny"), call_timeout_s=3.0)
    yield shared
    shared.close()


@pytest.fixture
def h(server: SharedServer) -> Iterator[Harness]:
    server.approver.refusing = False
    server.approver.asked.clear()
    yield server.harness


def test_discovered_tools_are_classified_from_their_hints(h: Harness) -> None:
    effects = {name: tool.effect for name, tool in h.tools.items()}

    assert effects["azure_group_list"] is Effect.READ
    assert effects["azure_storage_account_delete"] is Effect.PRODUCTION
    assert effects["azure_mystery"] is Effect.PRODUCTION  # no hints at all
    assert effects["azure_appservice_restart"] is Effect.REMOTE
    assert {tool.source for tool in h.tools.values()} == {"azure"}


def test_bridged_tools_are_selected_by_azure_and_the_seeds_alias(h: Harness) -> None:
    registry = default_registry(h.tools.values())

    for pattern in ("azure/*", "mcp_microsoft_azu/*"):
        selected, _ = registry.select([pattern])
        assert {t.name for t in selected} == set(h.tools)
    assert registry.get("group_list") is h.tools["azure_group_list"]


def test_a_stray_stdout_line_from_the_server_is_tolerated(server: SharedServer, h: Harness) -> None:
    record = server.run(h.call("azure_group_list"))

    assert stray_lines_seen() >= 1  # the server printed one before the protocol began
    assert (record.status, record.text) == ("ok", "rg-shop, rg-data")


def test_the_server_runs_with_an_isolated_home_and_telemetry_off(
    server: SharedServer, h: Harness
) -> None:
    env = json.loads(server.run(h.call("azure_env_report")).text)

    assert env["home"] == str(server.tmp_path / "mcp-home")
    assert env["telemetry"] == "false"


def test_an_error_result_reaches_the_agent_as_a_tool_error_with_its_message(
    server: SharedServer, h: Harness
) -> None:
    record = server.run(h.call("azure_subscription_list"))

    assert record.status == "error"
    assert '"status": 401' in record.text and "az login" in record.text


def test_a_denied_production_call_is_never_sent_to_the_server(
    server: SharedServer, h: Harness
) -> None:
    server.approver.refusing = True
    denied = server.run(h.call("azure_storage_account_delete", account="shopdata"))
    sent_when_denied = calls_made(server.tmp_path)
    server.approver.refusing = False
    server.run(h.call("azure_storage_account_delete", account="scratch"))

    assert denied.status == "denied"
    assert sent_when_denied == []
    assert calls_made(server.tmp_path) == ["storage_account_delete scratch"]
    assert [req.effect for req in server.approver.asked] == [Effect.PRODUCTION] * 2


def test_an_elicitation_is_answered_only_with_the_gates_approval(
    server: SharedServer, h: Harness
) -> None:
    revealed = server.run(h.call("azure_keyvault_secret_get", name="db"))
    server.approver.refusing = True
    refused = server.run(h.call("azure_keyvault_secret_get", name="api"))

    assert revealed.text == "secret db = s3cr3t-value"
    assert "s3cr3t-value" not in refused.text
    assert "elicitation was decline" in refused.text
    first, second = server.approver.asked
    assert (first.tool_name, first.source, first.effect) == (
        "mcp_elicitation",
        "azure",
        Effect.REMOTE,
    )
    assert "Reveal the value of secret db?" in first.summary
    assert "Reveal the value of secret api?" in second.summary
    elicitations = [
        r for r in h.records() if r["type"] == "gate_decision" and r["tool"] == "mcp_elicitation"
    ]
    assert len(elicitations) == 2


def test_a_call_that_takes_too_long_times_out_and_the_server_stays_usable(
    server: SharedServer, h: Harness
) -> None:
    slow = server.run(h.call("azure_sleep", seconds=20))
    fine = server.run(h.call("azure_group_list"))

    assert slow.status == "error" and "did not answer within 3s" in slow.text
    assert fine.text == "rg-shop, rg-data"


def test_the_stderr_of_the_server_goes_to_a_log_file(server: SharedServer) -> None:
    assert (server.tmp_path / "server.log").is_file()
