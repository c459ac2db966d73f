"""`hotfix demo`, run as the console script a user runs, on free loopback ports."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HOTFIX = str(Path(sys.executable).parent / "hotfix")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _demo(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [HOTFIX, "demo", "--json", "--dir", str(tmp_path / "shop"), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout), done.stderr


def _shutdown_leftovers(tmp_path: Path) -> None:
    from tools.deploy.targets.local import shutdown_environment

    shutdown_environment(tmp_path / "shop" / ".hotfix" / "local")


@pytest.mark.slow
def test_demo_deploys_the_fix_without_a_failed_probe_and_leaves_nothing_listening(
    tmp_path: Path,
) -> None:
    port = _free_port()
    try:
        code, doc, err = _demo(tmp_path, "--port", str(port))
        # Checked before the safety-net cleanup below, so the demo's own teardown is tested.
        left_listening = _listening(port)
    finally:
        _shutdown_leftovers(tmp_path)

    assert code == 0, err[-2000:]
    assert doc["status"] == "deployed"
    assert (doc["version"], doc["previous_version"]) == ("v1.4.3", "v1.4.2")
    assert doc["prober"]["total"] > 50 and doc["prober"]["failed"] == 0
    assert doc["kept_running"] is False and not left_listening
    assert "approvals come from the policy file" in err
    report = Path(doc["report"]).read_text()
    assert "**deployed**" in report and doc["run_id"] in report
    handoff = json.loads(Path(doc["handoff"]).read_text())
    assert handoff["status"] == "deployed" and handoff["run_id"] == doc["run_id"]
    journal = Path(doc["journal"]).read_text()
    assert '"approver":"policy-file"' in journal


@pytest.mark.slow
def test_demo_with_the_broken_fix_rolls_back_within_two_seconds_without_a_failed_probe(
    tmp_path: Path,
) -> None:
    port = _free_port()
    try:
        code, doc, err = _demo(tmp_path, "--broken-fix", "--port", str(port))
        left_listening = _listening(port)
    finally:
        _shutdown_leftovers(tmp_path)

    assert code == 0, err[-2000:]
    assert doc["status"] == "rolled_back"
    assert doc["version"] == "v1.4.3-broken"
    assert doc["time_to_rollback_s"] is not None and doc["time_to_rollback_s"] <= 2.0
    assert doc["prober"]["failed"] == 0
    assert not left_listening
    assert "**rolled_back**" in Path(doc["report"]).read_text()


def test_demo_on_a_busy_port_fails_with_an_error_naming_the_port_option(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, doc, _ = _demo(tmp_path, "--port", str(port))

    assert code == 2
    assert str(port) in doc["error"] and "--port" in doc["error"]
    assert not (tmp_path / "shop").exists()  # checked before anything was built


def test_demo_refuses_an_unknown_strategy(tmp_path: Path) -> None:
    code, doc, _ = _demo(tmp_path, "--strategy", "yolo", "--port", str(_free_port()))

    assert code == 2 and "--strategy" in doc["error"]


@pytest.mark.slow
def test_demo_with_a_feature_flag_switches_the_dark_fix_on(tmp_path: Path) -> None:
    port = _free_port()
    try:
        code, doc, err = _demo(tmp_path, "--strategy", "feature-flag", "--port", str(port))
    finally:
        _shutdown_leftovers(tmp_path)

    assert code == 0, err[-2000:]
    assert doc["status"] == "deployed"
    assert (doc["version"], doc["previous_version"]) == (
        "flag:empty_cart_fix",
        "flag:empty_cart_fix=off",
    )
    assert doc["prober"]["failed"] == 0


def test_demo_refuses_a_broken_fix_behind_a_feature_flag(tmp_path: Path) -> None:
    code, doc, _ = _demo(
        tmp_path, "--broken-fix", "--strategy", "feature-flag", "--port", str(_free_port())
    )

    assert code == 2 and "--broken-fix" in doc["error"]
    assert not (tmp_path / "shop").exists()


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:  # gone between any check and the read
        return False


@pytest.mark.slow
def test_ctrl_c_during_the_demo_tears_the_environment_down(tmp_path: Path) -> None:
    port = _free_port()
    state = tmp_path / "shop" / ".hotfix" / "local" / "state.json"
    demo = subprocess.Popen(
        [HOTFIX, "demo", "--dir", str(tmp_path / "shop"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # The daemon writes state.json just after its router starts listening: wait for both.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and demo.poll() is None:
            if _listening(port) and state.exists():
                break
            time.sleep(0.05)
        assert _listening(port) and state.exists(), "production never came up"
        daemon_pid = json.loads(state.read_text())["pid"]
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=60)
        left_listening = _listening(port)
        daemon_alive = _alive(daemon_pid)
    finally:
        if demo.poll() is None:
            demo.kill()
        _shutdown_leftovers(tmp_path)
    assert code == 130
    assert not left_listening
    assert not daemon_alive
