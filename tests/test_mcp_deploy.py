"""`hotfix_deploy` over MCP on the demo shop: the whole agent loop, real local production.

The runbook planner drives (no model credentials in tests); approvals are the client's
forms. The demo's bake and analysis windows are shortened, and its diagnostics replaced by
a no-op, to keep each run to a few seconds.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, ElicitResult

from agent.config import load_config
from agent.demo import DemoOptions, prepare_workspace, start_production
from agent.journal import read_journal, runs_root
from agent.mcp_server import ServerOptions, build_server
from examples.demo_repo import DemoRepo
from tools.deploy.targets.local import LocalTarget, shutdown_environment

FAST = '\n[[problems.commands]]\nname = "noop"\ncommand = "true"\n'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[DemoRepo, LocalTarget]]:
    repo = prepare_workspace(DemoOptions(port=_free_port(), directory=tmp_path / "shop"))
    config = repo.path / "hotfix.toml"
    text = (
        config.read_text()
        .replace("bake_s = 3", "bake_s = 1")
        .replace("window_s = 2", "window_s = 1")
    )
    config.write_text(text + FAST)
    target = LocalTarget(load_config(repo.path).deploy.local, workspace=repo.path)
    try:
        anyio.run(start_production, target, repo)
        yield repo, target
    finally:
        shutdown_environment(target.state_dir)


class User:
    """Answers approval forms; can cancel the call once production traffic moved."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.asked: list[str] = []
        self.progress: list[str] = []
        self.shifted = anyio.Event()

    async def form(self, context: Any, params: Any) -> ElicitResult:
        del context
        self.asked.append(params.message.splitlines()[1])
        if self.action == "accept":
            return ElicitResult(action="accept", content={"approve": True})
        return ElicitResult(action="decline")

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        del progress, total
        self.progress.append(message or "")
        if (message or "").startswith("shift:") and "finished" in (message or ""):
            self.shifted.set()


def deploy(
    repo: DemoRepo, user: User, mode: str, cancel_after_shift: bool = False
) -> CallToolResult | None:
    server = build_server(ServerOptions(repo.path, heartbeat_s=0.5))

    async def scenario() -> CallToolResult | None:
        async with Client(server, mode=mode, elicitation_callback=user.form) as client:
            args = {"description": repo.description}
            if not cancel_after_shift:
                return await client.call_tool(
                    "hotfix_deploy", args, progress_callback=user.on_progress
                )
            async with anyio.create_task_group() as group:
                group.start_soon(
                    lambda: client.call_tool(
                        "hotfix_deploy", args, progress_callback=user.on_progress
                    )
                )
                with anyio.fail_after(60):
                    await user.shifted.wait()
                group.cancel_scope.cancel()
        return None

    return anyio.run(scenario)


def weights(target: LocalTarget) -> dict[str, int]:
    return anyio.run(target.state).weights


def journal(repo: DemoRepo) -> list[dict[str, Any]]:
    (run_dir,) = list(runs_root(repo.path).iterdir())
    return read_journal(run_dir / "journal.jsonl")


@pytest.mark.slow
def test_hotfix_deploy_with_the_form_accepted_deploys_and_suggests_the_handoff(
    shop: tuple[DemoRepo, LocalTarget],
) -> None:
    repo, target = shop
    user = User("accept")

    result = deploy(repo, user, "legacy")

    assert result is not None and not result.is_error
    out = result.structured_content or {}
    assert (out["status"], out["version"], out["previous_version"]) == (
        "deployed",
        "v1.4.3",
        "v1.4.2",
    )
    assert out["model"] == "runbook" and out["handoff"]["send"] is False
    assert out["handoff"]["agent"] == "post-fix-monitoring"
    assert user.asked[-1] == 'hotfix_deploy(version_ref="hotfix/1.4.3")'  # the production change
    assert weights(target) == {"v1.4.3": 100}
    assert {"stage:v1.4.3 finished", "promote:v1.4.3 finished"} <= set(user.progress)
    links = {getattr(block, "uri", "") for block in result.content}
    assert f"hotfix://runs/{out['run_id']}/report.md" in links
    assert (runs_root(repo.path) / out["run_id"] / "report.md").is_file()


@pytest.mark.slow
def test_hotfix_deploy_with_the_form_declined_leaves_production_untouched(
    shop: tuple[DemoRepo, LocalTarget],
) -> None:
    repo, target = shop
    user = User("decline")

    result = deploy(repo, user, "2026-07-28")

    assert result is not None
    out = result.structured_content or {}
    assert out["status"] == "completed" and "not approved" in out["summary"]
    assert out["handoff"] is None
    assert weights(target) == {"v1.4.2": 100}
    records = journal(repo)
    assert not [r for r in records if r["type"] == "step"]
    assert [r["approved"] for r in records if r["type"] == "approval"] == [False]


@pytest.mark.slow
def test_cancelling_hotfix_deploy_mid_rollout_rolls_back_and_the_journal_says_so(
    shop: tuple[DemoRepo, LocalTarget],
) -> None:
    repo, target = shop
    user = User("accept")

    deploy(repo, user, "legacy", cancel_after_shift=True)

    assert weights(target) == {"v1.4.2": 100}
    records = journal(repo)
    notices = [r["message"] for r in records if r["type"] == "notice"]
    assert any("stopped safely" in n and "rolled back to v1.4.2" in n for n in notices), notices
    finished = [r for r in records if r["type"] == "run_finished"]
    assert finished and all(r["status"] == "cancelled" for r in finished)
