"""`hotfix rollback RUN` / `hotfix resume RUN` after the deploying process was killed -9."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_config
from agent.demo import DemoOptions, prepare_workspace, start_production, write_demo_policy
from agent.journal import read_journal
from tools.deploy.targets.local import LocalTarget, environment_status, shutdown_environment

HOTFIX = str(Path(sys.executable).parent / "hotfix")


@dataclass
class Killed:
    """A demo production whose deploying `hotfix run` was killed mid-rollout."""

    workspace: Path
    policy: Path
    port: int
    run_id: str
    target: LocalTarget

    def weights(self) -> dict[str, int]:
        return asyncio.run(self.target.state()).weights

    def hotfix(self, *args: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [HOTFIX, *args, "--workspace", str(self.workspace), "--json"],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        return done.returncode, json.loads(done.stdout)

    def events(self) -> list[dict[str, Any]]:
        return read_journal(self.workspace / ".hotfix" / "runs" / self.run_id / "journal.jsonl")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_shift(workspace: Path, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for journal in (workspace / ".hotfix" / "runs").glob("*/journal.jsonl"):
            # Finished, not just started: production has the new weights, the bake goes on.
            if any(
                e.get("type") == "step"
                and e.get("kind") == "shift"
                and e.get("phase") == "finished"
                for e in read_journal(journal)
            ):
                return journal.parent.name
        time.sleep(0.02)
    raise AssertionError("the deployment never reached a traffic shift")


@contextlib.contextmanager
def _mid_rollout(tmp_path: Path) -> Generator[tuple[Killed, subprocess.Popen[bytes]]]:
    """A demo production and a `hotfix run` that has shifted traffic and is baking."""
    port = _free_port()
    repo = prepare_workspace(DemoOptions(port=port, directory=tmp_path / "shop"))
    policy = write_demo_policy(repo.path)
    target = LocalTarget(load_config(repo.path).deploy.local, workspace=repo.path)
    try:
        asyncio.run(start_production(target, repo))
        proc = subprocess.Popen(
            [HOTFIX, "run", repo.description, "--workspace", str(repo.path), "--model",
             "runbook", "--approve", f"policy:{policy}", "--json"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            run_id = _wait_for_shift(repo.path)
            yield Killed(repo.path, policy, port, run_id, target), proc
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        shutdown_environment(target.state_dir)


@pytest.fixture
def killed(tmp_path: Path) -> Iterator[Killed]:
    with _mid_rollout(tmp_path) as (run, proc):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        yield run


def _production_answers(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/products", timeout=5) as response:
        return response.status


@pytest.mark.slow
def test_rollback_waits_for_the_run_to_die_then_restores_the_previous_version_through_the_gate(
    tmp_path: Path,
) -> None:
    with _mid_rollout(tmp_path) as (killed, proc):
        # Hung, but alive: it still drives its rollout, so nobody else may.
        os.kill(proc.pid, signal.SIGSTOP)
        before, weights = killed.events(), killed.weights()
        approve = f"policy:{killed.policy}"
        for command in ("rollback", "resume"):
            code, doc = killed.hotfix(command, killed.run_id, "--approve", approve)
            assert code == 2, doc
            assert f"still being driven by process {proc.pid}" in doc["error"]
        assert killed.events() == before  # not a line appended, not a torn tail cut
        assert killed.weights() == weights

        os.kill(proc.pid, signal.SIGKILL)  # its lock on the journal dies with it
        proc.wait()
        _rolled_back_through_the_gate(killed)


def _rolled_back_through_the_gate(killed: Killed) -> None:
    assert _production_answers(killed.port) == 200  # production outlived the killed CLI
    assert "v1.4.3" in killed.weights()

    denied_code, denied = killed.hotfix("rollback", killed.run_id, "--approve", "deny")
    assert denied_code == 3 and denied["status"] == "denied"
    assert "v1.4.3" in killed.weights()  # a denied rollback changes nothing

    code, doc = killed.hotfix("rollback", killed.run_id, "--approve", f"policy:{killed.policy}")

    assert code == 0, doc
    assert doc["status"] == "rolled_back" and doc["production"]["healthy"] is True
    assert killed.weights() == {"v1.4.2": 100}
    assert _production_answers(killed.port) == 200
    events = killed.events()
    assert any(
        e.get("type") == "notice" and f"hotfix rollback {killed.run_id}" in e["message"]
        for e in events
    )
    finished = {(e["step_id"], e["phase"]) for e in events if e.get("type") == "step"}
    assert ("rollback:1", "finished") in finished and ("retire:v1.4.3", "finished") in finished
    assert "v1.4.3" not in asyncio.run(killed.target.state()).versions
    assert "**rolled_back**" in Path(doc["report"]).read_text()

    down_code, down = killed.hotfix("local", "down")
    assert down_code == 0 and down["stopped"] is True
    assert environment_status(killed.target.state_dir) is None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", killed.port)) != 0


@pytest.mark.slow
def test_resume_after_kill_9_finishes_the_interrupted_deployment(killed: Killed) -> None:
    code, doc = killed.hotfix("resume", killed.run_id, "--approve", f"policy:{killed.policy}")

    assert code == 0, doc
    assert doc["status"] == "deployed" and doc["call_status"] == "ok"
    assert killed.weights() == {"v1.4.3": 100}
    steps = [(e["step_id"], e["phase"]) for e in killed.events() if e.get("type") == "step"]
    assert steps.count(("stage:v1.4.3", "started")) == 1  # nothing done before is redone
    assert ("promote:v1.4.3", "finished") in steps


def test_rollback_of_an_unknown_run_is_bad_input(tmp_path: Path) -> None:
    done = subprocess.run(
        [HOTFIX, "rollback", "nope", "--workspace", str(tmp_path), "--json", "--approve", "deny"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 2
    assert "no run 'nope'" in json.loads(done.stdout)["error"]


def test_rollback_refuses_when_the_local_environment_is_not_running(tmp_path: Path) -> None:
    run_dir = tmp_path / ".hotfix" / "runs" / "run-1"
    run_dir.mkdir(parents=True)
    (run_dir / "journal.jsonl").write_text(
        '{"v":1,"seq":1,"ts":1,"type":"notice","level":"info","message":"x"}\n'
    )
    (tmp_path / "hotfix.toml").write_text(f"[deploy.local]\nproduction_port = {_free_port()}\n")

    done = subprocess.run(
        [HOTFIX, "rollback", "run-1", "--workspace", str(tmp_path), "--json", "--approve", "deny"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 2
    assert "is not running" in json.loads(done.stdout)["error"]
    assert not (tmp_path / ".hotfix" / "local" / "state.json").exists()  # nothing was started
