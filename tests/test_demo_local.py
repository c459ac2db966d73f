"""`hotfix local status` and `hotfix local down` on a running demo production."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_config
from agent.demo import DemoOptions, prepare_workspace, start_production
from tools.deploy.targets.local import LocalTarget, shutdown_environment

HOTFIX = str(Path(sys.executable).parent / "hotfix")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _hotfix(workspace: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [HOTFIX, "local", *args, "--workspace", str(workspace), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_local_status_shows_production_and_local_down_leaves_no_process_or_socket(
    tmp_path: Path,
) -> None:
    port = _free_port()
    repo = prepare_workspace(DemoOptions(port=port, directory=tmp_path / "shop"))
    target = LocalTarget(load_config(repo.path).deploy.local, workspace=repo.path)
    try:
        asyncio.run(start_production(target, repo))
        code, status = _hotfix(repo.path, "status")
        assert code == 0 and status["running"] is True
        environment = status["environment"]
        assert environment["production_port"] == port
        assert environment["weights"] == {"v1.4.2": 100}
        pids = [environment["pid"], *(v["pid"] for v in environment["versions"].values())]
        assert all(_alive(pid) for pid in pids)

        code, down = _hotfix(repo.path, "down")

        assert code == 0 and down["stopped"] is True
        assert not any(_alive(pid) for pid in pids)
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
        code, after = _hotfix(repo.path, "status")
        assert code == 0 and after["running"] is False and after["environment"] is None
    finally:
        shutdown_environment(target.state_dir)


def test_local_status_and_down_without_an_environment_say_not_running(tmp_path: Path) -> None:
    done = subprocess.run(
        [HOTFIX, "local", "status", "--workspace", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    code, down = _hotfix(tmp_path, "down")

    assert done.returncode == 0 and done.stdout.startswith("not running")
    assert code == 0 and down["stopped"] is False
    assert os.listdir(tmp_path) == []  # looking does not start anything
