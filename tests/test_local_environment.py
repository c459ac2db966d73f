"""The local environment daemon end to end: real processes, worktrees, router and control API."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.demo_repo import DemoRepo, build_demo_repo
from tools.deploy.target import TargetError, VersionSpec
from tools.deploy.targets.local import (
    LocalTarget,
    LocalTargetConfig,
    ensure_environment,
    environment_status,
    shutdown_environment,
)

pytestmark = pytest.mark.slow
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    """Whether anything listens on `port` (read from /proc, not by connecting)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _call(port: int, method: str, path: str, body: Any = None) -> tuple[int, str | None, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.getheader("X-Hotfix-Version"), json.loads(response.read())
    finally:
        conn.close()


class _Prober(threading.Thread):
    """Hits production every ~20 ms, half over one keep-alive connection, half over new ones."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.seen: list[str | None] = []
        self.failures: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        persistent = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        n = 0
        while not self._halt.is_set():
            n += 1
            conn = (
                persistent
                if n % 2
                else http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            )
            try:
                conn.request("GET", "/api/products")
                response = conn.getresponse()
                response.read()
                self.seen.append(response.getheader("X-Hotfix-Version"))
                if response.status != 200:
                    self.failures.append(f"status {response.status}")
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                persistent = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            if conn is not persistent:
                conn.close()
            time.sleep(0.02)
        persistent.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRepo:
    return build_demo_repo(tmp_path_factory.mktemp("env") / "shop")


@pytest.fixture(scope="module")
def target(demo: DemoRepo) -> Iterator[LocalTarget]:
    config = LocalTargetConfig(production_port=_free_port(), drain_timeout_s=5)
    local = LocalTarget(config, workspace=demo.path)
    yield local
    shutdown_environment(local.state_dir)


def test_canary_shift_under_a_prober_fails_no_request(target: LocalTarget, demo: DemoRepo) -> None:
    port = target.config.production_port

    async def scenario() -> tuple[_Prober, float]:
        await target.stage(VersionSpec("blue", "v1.4.2"))
        await target.set_weights({"blue": 100})
        assert _call(port, "POST", "/api/checkout", {"items": []})[:2] == (500, "blue")
        green = await target.stage(VersionSpec("green", demo.fix_ref))
        assert green.details["commit"] == demo.commits[demo.fix_ref]
        prober = _Prober(port)
        prober.start()
        started = time.time()
        await asyncio.sleep(0.2)
        for percent in (10, 50, 100):
            await target.set_weights({"blue": 100 - percent, "green": percent})
            await asyncio.sleep(0.4)
        await target.retire("blue")
        await asyncio.sleep(0.2)
        prober.stop()
        return prober, started

    prober, started = asyncio.run(scenario())
    assert prober.failures == []
    assert len(prober.seen) > 40
    assert {"blue", "green"} <= set(prober.seen)
    assert set(prober.seen[-8:]) == {"green"}
    status, version, body = _call(port, "POST", "/api/checkout", {"items": []})
    assert (status, version, body["total_cents"]) == (200, "green", 0)
    state = asyncio.run(target.state())
    assert state.weights == {"green": 100} and list(state.versions) == ["green"]

    green = asyncio.run(target.metrics("green", started))
    assert green.requests > 10 and green.errors == 0 and len(green.latencies_ms) == green.requests
    blue = asyncio.run(target.metrics("blue", 0))
    assert blue.errors == 1  # the empty-cart checkout, nothing from the prober


def test_stage_of_a_version_that_exits_at_once_says_why(target: LocalTarget) -> None:
    command = "{python} -c \"print('missing DATABASE_URL'); raise SystemExit(3)\""
    config = target.config.model_copy(update={"start_command": command})
    failing = LocalTarget(config, workspace=target.workspace)
    with pytest.raises(TargetError) as caught:
        asyncio.run(failing.stage(VersionSpec("doomed", "v1.4.2")))
    assert "exited with code 3" in str(caught.value)
    assert "missing DATABASE_URL" in str(caught.value)
    assert "doomed" not in asyncio.run(target.state()).versions


def test_bad_weights_and_retiring_a_serving_version_are_refused(target: LocalTarget) -> None:
    with pytest.raises(TargetError, match="sum to 100"):
        asyncio.run(target.set_weights({"blue": 90}))
    with pytest.raises(TargetError, match="unknown version 'ghost'"):
        asyncio.run(target.set_weights({"ghost": 100}))
    serving = asyncio.run(target.state()).primary
    if serving is None:
        asyncio.run(target.stage(VersionSpec("solo", "v1.4.2")))
        serving = asyncio.run(target.set_weights({"solo": 100})).primary
    assert serving is not None
    with pytest.raises(TargetError, match="still gets 100%"):
        asyncio.run(target.retire(serving))


def test_feature_flag_file_switches_behaviour_of_running_versions(
    target: LocalTarget, demo: DemoRepo
) -> None:
    flagged = asyncio.run(target.stage(VersionSpec("flagged", demo.fix_ref)))
    port = int(flagged.details["port"])
    try:
        assert asyncio.run(target.get_flag("empty_cart_fix")) is None
        assert asyncio.run(target.set_flag("empty_cart_fix", False)) is None
        assert asyncio.run(target.get_flag("empty_cart_fix")) is False
        assert _call(port, "POST", "/api/checkout", {"items": []})[0] == 500
        assert asyncio.run(target.set_flag("empty_cart_fix", True)) is False
        assert _call(port, "POST", "/api/checkout", {"items": []})[0] == 200
        assert _call(port, "GET", "/healthz")[2]["flags"] == {"empty_cart_fix": True}
    finally:
        asyncio.run(target.retire("flagged"))


def test_busy_production_port_fails_start_with_the_daemons_reason(
    demo: DemoRepo, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(TargetError, match=r"cannot listen on 127\.0\.0\.1"):
            ensure_environment(tmp_path / "state", port, repo=demo.path, timeout_s=10)
    assert environment_status(tmp_path / "state") is None


_CLI = """
import asyncio, sys
from pathlib import Path
from tools.deploy.target import VersionSpec
from tools.deploy.targets.local import LocalTarget, LocalTargetConfig

async def main() -> None:
    config = LocalTargetConfig(production_port=int(sys.argv[2]), state_dir=sys.argv[3])
    target = LocalTarget(config, workspace=Path(sys.argv[1]))
    await target.stage(VersionSpec("blue", "hotfix/1.4.3"))
    await target.set_weights({"blue": 100})
    print("ready", flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


def test_environment_outlives_a_sigkilled_cli_and_shutdown_leaves_nothing(
    demo: DemoRepo, tmp_path: Path
) -> None:
    port, state_dir = _free_port(), tmp_path / "state"
    cli = subprocess.Popen(
        [sys.executable, "-c", _CLI, str(demo.path), str(port), str(state_dir)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert cli.stdout is not None
        assert cli.stdout.readline().strip() == "ready"
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()
    try:
        status = environment_status(state_dir)
        assert status is not None
        daemon_pid, version = status["pid"], status["versions"]["blue"]
        assert _call(port, "GET", "/healthz")[:2] == (200, "blue")
        assert _listening(status["control_port"]) and _listening(version["port"])
    finally:
        result = shutdown_environment(state_dir, timeout_s=10)
    assert result["stopped"] and not result["forced"]
    assert not _running(daemon_pid) and not _running(version["pid"])
    for gone in (port, status["control_port"], version["port"]):
        assert not _listening(gone)
    assert environment_status(state_dir) is None
    assert not (state_dir / "state.json").exists()


def test_versions_die_with_a_sigkilled_daemon_and_a_new_daemon_takes_over(
    demo: DemoRepo, tmp_path: Path
) -> None:
    config = LocalTargetConfig(production_port=_free_port(), state_dir=str(tmp_path / "state"))
    local = LocalTarget(config, workspace=demo.path)
    try:
        staged = asyncio.run(local.stage(VersionSpec("blue", "v1.4.2")))
        daemon_pid = asyncio.run(local.state()).details["daemon_pid"]
        os.kill(daemon_pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _running(staged.details["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(staged.details["pid"])  # PR_SET_PDEATHSIG took it down
        assert environment_status(local.state_dir) is None

        fresh = ensure_environment(local.state_dir, config.production_port, repo=demo.path)
        assert fresh["pid"] != daemon_pid and fresh["versions"] == {}
    finally:
        shutdown_environment(local.state_dir)  # also kills what a dead daemon left behind
    assert not _listening(config.production_port)
