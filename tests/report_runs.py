"""Deployment runs for the report, handoff and monitoring tests: a real journal in a real
(git) workspace, with the steps written by the engine over an in-memory target."""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes import Rig, make_rig

from agent.journal import (
    Event,
    ModelTurn,
    RunFinished,
    RunStarted,
    ToolFinished,
    ToolRequested,
)
from tools.deploy.target import VersionSpec

FIX = VersionSpec("v1.4.3", "hotfix/1.4.3")
CONFIG = """
[deploy]
target = "local"
[deploy.local]
production_port = 18123
env = { SHOP_API_TOKEN = "tok-very-secret-123", SHOP_REGION = "eu-west" }
"""


@dataclass
class DeployRun:
    """One deployment run: the rig that made its steps, its workspace and run folder."""

    rig: Rig
    workspace: Path
    run_dir: Path

    def write(self, *events: Event) -> None:
        """Append events to the run's journal (as the harness would)."""
        for event in events:  # through the rig's journal: one writer per run
            self.rig.journal.write(event)

    def finish(self, status: str = "completed") -> None:
        self.write(RunFinished(status=status, stop_reason="end_turn", turns=3, tool_calls=3))


def start_run(tmp_path: Path, model_text: str = "done", *, git: bool = True) -> DeployRun:
    """A workspace (a git repository tagged v1.0.0 = production) and a started run."""
    workspace = tmp_path / "shop"
    workspace.mkdir()
    (workspace / "hotfix.toml").write_text(CONFIG)
    if git:
        _git_repo(workspace)
    run_dir = workspace / ".hotfix" / "runs" / "run-1"
    run = DeployRun(make_rig(workspace / ".hotfix"), workspace, run_dir)
    run.write(
        RunStarted(
            run_id="run-1",
            description="checkout 500, fix on hotfix/1.4.3",
            agent="hotfix-deployment",
            model="scripted",
            workspace=str(workspace),
            config_source=str(workspace / "hotfix.toml"),
        ),
        ModelTurn(turn=1, model="scripted", stop_reason="end_turn", text=model_text),
    )
    return run


def deployed_run(tmp_path: Path, *, plan: bool = True, tests: bool = True) -> DeployRun:
    """A blue-green deployment of v1.4.3 over v1.0.0 that passed everything."""
    run = start_run(tmp_path)
    if tests:
        tool(run, "problems", {}, data={"commands": [{"name": "pytest", "exit_code": 0}]})
    if plan:
        tool(run, "hotfix_plan", {"version_ref": FIX.ref}, data={"rollback": ["route back"]})
    assert asyncio.run(run.rig.engine.deploy(FIX, "blue-green")).status == "deployed"
    run.finish()
    return run


def rolled_back_run(tmp_path: Path, model_text: str = "done") -> DeployRun:
    """The same deployment, with v1.4.3 failing its bake analysis and rolled back."""
    run = start_run(tmp_path, model_text)
    tool(run, "hotfix_plan", {"version_ref": FIX.ref}, data={"rollback": ["route back"]})
    run.rig.target.script("v1.4.3", error_rate=0.5)
    assert asyncio.run(run.rig.engine.deploy(FIX, "blue-green")).status == "rolled_back"
    run.finish()
    return run


def tool(run: DeployRun, name: str, args: dict[str, Any], *, data: dict[str, Any]) -> None:
    """Journal one successful tool call."""
    call_id = f"call-{name}-{len(args)}"
    run.write(
        ToolRequested(call_id=call_id, tool=name, args=args, fingerprint="f", effect="read"),
        ToolFinished(call_id=call_id, tool=name, status="ok", summary="ok", data=data),
    )


def _git_repo(path: Path) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (
        ["init", "-q", "-b", "main"],
        ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "1"],
        ["tag", "v1.0.0"],
    ):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
