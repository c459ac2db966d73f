"""How bridged MCP servers are started: the Azure command line and the child's environment."""

from __future__ import annotations

from pathlib import Path

from tools.mcp_bridge import McpServerConfig, azure_server
from tools.mcp_bridge.connection import server_environment


def test_the_azure_server_starts_in_all_mode_with_namespace_filters() -> None:
    config = azure_server(["group", "monitor"], read_only=True)

    assert config.command == [
        "npx", "-y", "@azure/mcp@2.0.5", "server", "start", "--mode", "all",
        "--namespace", "group", "--namespace", "monitor", "--read-only",
    ]  # fmt: skip
    assert config.name == "azure"
    assert "mcp_microsoft_azu" in config.aliases


def test_the_child_gets_its_own_home_and_only_the_credentials_it_is_given(tmp_path: Path) -> None:
    config = azure_server(command=["azmcp"]).model_copy(update={"home": str(tmp_path / "h")})
    ours = {
        "HOME": "/home/dev",
        "AZURE_CLIENT_ID": "client-id",
        "ANTHROPIC_API_KEY": "sk-ant-not-for-azure",
        "GITHUB_TOKEN": "ghp_not_for_azure",
    }

    env = server_environment(config, ours)

    assert env["HOME"] == str(tmp_path / "h")
    assert env["AZURE_CONFIG_DIR"] == "/home/dev/.azure"  # `az login` still works
    assert env["AZURE_CLIENT_ID"] == "client-id"
    assert env["AZURE_MCP_COLLECT_TELEMETRY"] == "false"
    assert "ANTHROPIC_API_KEY" not in env and "GITHUB_TOKEN" not in env


def test_any_server_gets_telemetry_off_unless_its_config_says_otherwise(tmp_path: Path) -> None:
    quiet = McpServerConfig(name="other", command=["srv"], home=str(tmp_path))
    chatty = McpServerConfig(
        name="other", command=["srv"], home=str(tmp_path),
        env={"AZURE_MCP_COLLECT_TELEMETRY": "true"},
    )  # fmt: skip

    assert server_environment(quiet, {})["AZURE_MCP_COLLECT_TELEMETRY"] == "false"
    assert server_environment(chatty, {})["AZURE_MCP_COLLECT_TELEMETRY"] == "true"
