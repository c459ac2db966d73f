"""`hotfix init`: the VS Code setup of a repository, idempotent and respectful of edits."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.config import load_config
from agent.definitions import load_definition
from agent.mcp_server.init import init_workspace
from tools.registry import default_registry

AGENTS = ("hotfix-deployment", "post-fix-monitoring")
FILES = {".vscode/mcp.json", ".github/agents/hotfix-deployment.agent.md",
         ".github/agents/post-fix-monitoring.agent.md", "hotfix.toml"}  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_init_in_an_empty_git_repo_writes_files_that_parse_and_name_only_known_tools(
    repo: Path,
) -> None:
    result = init_workspace(repo)

    assert result.files == dict.fromkeys(FILES, "created")
    mcp = json.loads((repo / ".vscode" / "mcp.json").read_text())
    assert mcp == {"servers": {"hotfix": {"type": "stdio", "command": "hotfix", "args": ["mcp"]}}}
    for slug in AGENTS:
        definition = load_definition(repo / ".github" / "agents" / f"{slug}.agent.md")
        default_registry().select(definition.tools)  # raises on a tool we do not have
        assert "hotfix/*" in definition.tools and "azure/*" not in definition.tools
        assert definition.handoffs and all(h.send is False for h in definition.handoffs)
        assert definition.render(workspace="w", target="t", strategy="s", date="d", tools=[])
    deploying = load_definition(repo / ".github" / "agents" / "hotfix-deployment.agent.md")
    assert {"search/codebase", "read/readFile", "execute/runInTerminal"} <= set(deploying.tools)
    assert deploying.handoffs[0].agent == "post-fix-monitoring"
    assert load_config(repo).deploy.target == "local"


def test_init_with_azure_adds_the_azure_mcp_server_and_its_tools(repo: Path) -> None:
    init_workspace(repo, azure=True)

    servers = json.loads((repo / ".vscode" / "mcp.json").read_text())["servers"]
    assert servers["azure"]["args"][:2] == ["-y", "@azure/mcp@2.0.5"]
    assert "--mode" in servers["azure"]["args"]
    definition = load_definition(repo / ".github" / "agents" / "hotfix-deployment.agent.md")
    assert "azure/*" in definition.tools
    default_registry().select(definition.tools)


def test_running_init_again_changes_nothing(repo: Path) -> None:
    init_workspace(repo)
    before = {name: (repo / name).read_text() for name in FILES}

    again = init_workspace(repo)

    assert again.files == dict.fromkeys(FILES, "unchanged")
    assert {name: (repo / name).read_text() for name in FILES} == before


def test_an_edited_file_is_kept_unless_forced(repo: Path) -> None:
    init_workspace(repo)
    agent = repo / ".github" / "agents" / "hotfix-deployment.agent.md"
    edited = agent.read_text().replace("release engineer", "careful release engineer")
    agent.write_text(edited)

    kept = init_workspace(repo, azure=True)
    forced = init_workspace(repo, azure=True, force=True)

    assert kept.files[".github/agents/hotfix-deployment.agent.md"] == "kept"
    assert any("--force" in note for note in kept.notes)
    assert forced.files[".github/agents/hotfix-deployment.agent.md"] == "overwritten"
    assert "careful" not in agent.read_text() and "azure/*" in agent.read_text()


def test_files_init_wrote_and_nobody_edited_are_brought_up_to_date(repo: Path) -> None:
    init_workspace(repo)

    result = init_workspace(repo, azure=True)
    again = init_workspace(repo)  # remembers --azure

    assert result.files[".vscode/mcp.json"] == "updated"
    assert result.files[".github/agents/hotfix-deployment.agent.md"] == "updated"
    assert result.files["hotfix.toml"] == "unchanged"
    assert set(again.files.values()) == {"unchanged"}
    assert init_workspace(repo, azure=False).files[".vscode/mcp.json"] == "updated"


def test_an_existing_mcp_json_gains_the_hotfix_server_and_keeps_its_own(repo: Path) -> None:
    config = repo / ".vscode" / "mcp.json"
    config.parent.mkdir()
    other = {"type": "http", "url": "https://example.invalid/mcp"}
    config.write_text(json.dumps({"servers": {"other": other}, "inputs": []}))

    merged = init_workspace(repo)
    servers = json.loads(config.read_text())["servers"]

    assert merged.files[".vscode/mcp.json"] == "merged"
    assert servers["other"] == other and servers["hotfix"]["args"] == ["mcp"]


def test_a_users_own_hotfix_server_entry_is_replaced_only_with_force(repo: Path) -> None:
    config = repo / ".vscode" / "mcp.json"
    config.parent.mkdir()
    mine = {"type": "stdio", "command": "/opt/bin/hotfix", "args": ["mcp", "-w", "app"]}
    config.write_text(json.dumps({"servers": {"hotfix": mine, "other": {"command": "x"}}}))

    kept = init_workspace(repo)
    assert json.loads(config.read_text())["servers"]["hotfix"] == mine
    forced = init_workspace(repo, force=True)
    servers = json.loads(config.read_text())["servers"]

    assert kept.files[".vscode/mcp.json"] == "kept"
    assert forced.files[".vscode/mcp.json"] == "overwritten"
    assert servers["hotfix"]["command"] == "hotfix" and servers["other"] == {"command": "x"}


def test_a_config_in_pyproject_is_not_shadowed_by_a_new_hotfix_toml(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[tool.hotfix.deploy]\ntarget = "local"\n')

    result = init_workspace(repo)

    assert "hotfix.toml" not in result.files and not (repo / "hotfix.toml").exists()
    assert any("pyproject.toml" in note for note in result.notes)


def test_hotfix_init_json_reports_each_file(repo: Path) -> None:
    done = CliRunner().invoke(app, ["init", "--workspace", str(repo), "--json"])

    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["files"] == dict.fromkeys(FILES, "created")
