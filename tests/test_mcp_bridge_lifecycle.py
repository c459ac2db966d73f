"""The MCP bridge when its server dies, cannot start, or asks with no gate to answer."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp_tiny import tiny_config
from mcp_tiny.harness import ApproveAll, bridged

from tools.base import Effect
from tools.mcp_bridge import BridgedTool, BridgeError, McpBridge, McpServerConfig

HOTFIX = str(Path(sys.executable).parent / "hotfix")


@pytest.mark.slow
def test_a_dead_server_is_restarted_for_the_next_call(tmp_path: Path) -> None:
    async def run() -> tuple[str, str, str, int]:
        config = tiny_config(tmp_path)
        async with bridged(tmp_path, config, ApproveAll()) as h:
            pid_before = json.loads((await h.call("azure_env_report")).text)["pid"]
            died = await h.call("azure_crash")
            after = json.loads((await h.call("azure_env_report")).text)["pid"]
            # A read-only call in flight when the server died runs again on a fresh one.
            retried = await h.call("azure_flaky_read")
            tool = h.tools["azure_group_list"]
            assert isinstance(tool, BridgedTool)
            restarts = tool.connection.restarts
            assert pid_before != after
            return died.status, died.text, retried.text, restarts

    status, text, retried, restarts = asyncio.run(run())

    assert status == "error" and "died during crash" in text
    assert retried == "read after restart"
    assert restarts == 2


@pytest.mark.slow
def test_a_server_that_keeps_dying_is_not_restarted_beyond_the_limit(tmp_path: Path) -> None:
    async def run() -> str:
        async with bridged(tmp_path, tiny_config(tmp_path, max_restarts=0), ApproveAll()) as h:
            await h.call("azure_crash")
            return (await h.call("azure_group_list")).text

    text = asyncio.run(run())

    assert "not restarting it again in this run" in text


def test_a_server_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, command=[str(tmp_path / "no-such-azmcp")])

    async def run() -> None:
        await McpBridge(config).start()

    with pytest.raises(BridgeError, match=r"could not be started.*no-such-azmcp"):
        asyncio.run(run())


def test_without_a_gate_an_elicitation_is_declined() -> None:
    from mcp.types import ElicitRequestFormParams

    from tools.mcp_bridge.elicitation import ask_gate

    params = ElicitRequestFormParams(
        message="Reveal?",
        requested_schema={"type": "object", "properties": {"confirm": {"type": "boolean"}}},
    )
    result = asyncio.run(
        ask_gate(
            None, server="azure", tool="keyvault_secret_get", effect=Effect.READ, params=params
        )
    )

    assert result.action == "decline"


@pytest.mark.slow
def test_a_configured_servers_aliases_select_its_tools_in_agent_definitions(
    tmp_path: Path,
) -> None:
    workspace = _workspace_with(
        tmp_path, tiny_config(tmp_path, name="ops", aliases=["mcp_acme_ops"])
    )
    agents = workspace / ".github" / "agents"
    agents.mkdir(parents=True)
    for slug, pattern in (("by-alias", "mcp_acme_ops/*"), ("unknown", "mcp_other/*")):
        (agents / f"{slug}.agent.md").write_text(
            f"---\nname: {slug}\ndescription: x\ntools: ['{pattern}']\n---\nx\n"
        )

    selected, unknown = (_hotfix("tools", "--agent", slug, "--workspace", str(workspace))
                         for slug in ("by-alias", "unknown"))  # fmt: skip

    assert selected.returncode == 0, selected.stderr
    listed = json.loads(selected.stdout)["tools"]
    assert {tool["source"] for tool in listed} == {"ops"}
    assert "ops_group_list" in {tool["name"] for tool in listed}
    assert unknown.returncode == 2
    assert "mcp_other/*" in json.loads(unknown.stdout)["error"]
    assert "ops/*" in json.loads(unknown.stdout)["error"]  # the configured server is named


@pytest.mark.slow
def test_policy_explain_knows_a_configured_servers_tools(tmp_path: Path) -> None:
    rules = '[gate]\ndeny = ["azure_storage_account_delete"]\n'
    workspace = _workspace_with(tmp_path, tiny_config(tmp_path), rules)

    def explain(tool: str) -> dict[str, object]:
        done = _hotfix("policy", "explain", tool, '{"name": "st1"}', "--workspace", str(workspace))
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert explain("azure_group_list")["decision"] == "allow"  # readOnlyHint: a read
    denied = explain("azure_storage_account_delete")
    assert (denied["decision"], denied["rule"]) == ("deny", "azure_storage_account_delete")


def _workspace_with(tmp_path: Path, server: McpServerConfig, more_toml: str = "") -> Path:
    """A workspace whose hotfix.toml configures `server`."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "hotfix.toml").write_text(
        more_toml + "[[mcp.servers]]\n"
        f"name = {json.dumps(server.name)}\n"
        f"command = {json.dumps(server.command)}\n"
        f"aliases = {json.dumps(server.aliases)}\n"
        f"env = {{ TINY_CALLS_FILE = {json.dumps(server.env['TINY_CALLS_FILE'])} }}\n"
        f"home = {json.dumps(server.home)}\n"
    )
    return workspace


def _hotfix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HOTFIX, *args, "--json"], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
