"""`hotfix demo --json --keep-running`, then monitoring on that production from the run id
alone: a healthy fix is left alone; a crashed one is detected by `hotfix monitor` in a fresh
process, the rollback approved by policy, and v1.4.2 serves again."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.approvers import DenyAllApprover
from agent.journal import read_journal
from handoffs.contract import load_handoff
from handoffs.monitoring.probes import SAMPLE_KIND
from handoffs.monitoring.run import MonitorOptions, run_monitor
from handoffs.report_model import ReportDocument

HOTFIX = str(Path(sys.executable).parent / "hotfix")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _hotfix(*args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run([HOTFIX, *args, "--json"], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.stdout, done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A deployed demo whose local production keeps running for the module's tests."""
    from tools.deploy.targets.local import shutdown_environment

    workspace = tmp_path_factory.mktemp("monitor") / "shop"
    try:
        code, doc = _hotfix("demo", "--keep-running", "--dir", str(workspace),
                            "--port", str(_free_port()))  # fmt: skip
        assert code == 0 and doc["status"] == "deployed", doc
        yield doc
    finally:
        shutdown_environment(workspace / ".hotfix" / "local")


def test_demo_run_folder_holds_the_report_files_and_a_valid_handoff(
    demo: dict[str, Any],
) -> None:
    run_dir = Path(demo["journal"]).parent

    doc = ReportDocument.model_validate_json((run_dir / "report.json").read_text())
    packet = load_handoff(run_dir / "handoff.json")

    assert doc.status == "deployed" and doc.deployment is not None
    assert doc.deployment.previous_ref == "v1.4.2"
    assert {c.name for c in doc.smoke_tests} >= {"empty cart checks out to zero"}
    assert doc.dashboards[0].url.endswith("/_hotfix/stats")
    html = (run_dir / "report.html").read_text()
    assert "<svg" in html and "<script" not in html and not re.search(r'src="https?:', html)
    assert packet.baseline is not None and packet.baseline.label == "v1.4.3"
    assert packet.rollback.state == "redeploy"


def test_monitor_leaves_a_healthy_fix_alone_then_rolls_back_a_faulty_one(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    workspace = demo["workspace"]
    run_id = demo["run_id"]

    options = MonitorOptions(run=run_id, workspace=Path(workspace), approver=DenyAllApprover(),
                             duration_s=2.0, interval_s=1.0, model="runbook")  # fmt: skip
    healthy = asyncio.run(run_monitor(options))
    assert healthy.report.status == "healthy", healthy.report
    assert len(healthy.report.samples) == 2 and healthy.report.rollback.requested_at is None
    assert _environment(workspace)["weights"] == {"v1.4.3": 100}

    policy = tmp_path / "approvals.toml"
    policy.write_text('approve = ["monitor_rollback"]\n')
    watch = ("monitor", run_id, "--workspace", workspace, "--duration", "20s", "--interval", "1s",
             "--approve", f"policy:{policy}")  # fmt: skip
    # Ctrl-C while watching (a sample taken) stops at once and changes nothing.
    code, stopped, _ = _interrupted(workspace, watch, lambda r: r.get("kind") == SAMPLE_KIND)
    assert code == 130 and stopped["interrupted"] == "SIGINT", stopped
    assert "production was not changed" in stopped["settled"]
    assert _environment(workspace)["weights"] == {"v1.4.3": 100}

    _switch_fault_on(workspace, "v1.4.3")
    # Ctrl-C once the rollback has begun: it finishes first.
    code, rolled, err = _interrupted(
        workspace, watch, lambda r: r.get("type") == "step" and r.get("kind") != SAMPLE_KIND
    )

    assert "production is being rolled back — it finishes first" in err, err[-2000:]
    assert code == 0 and rolled["status"] == "rolled_back", rolled
    assert rolled["samples"] == 2  # detected within the window, two samples in a row
    assert rolled["rollback"]["approved"] is True and rolled["rollback"]["verified"] is True
    environment = _environment(workspace)
    assert environment["weights"] == {"v1.4.2": 100}
    assert "v1.4.3" not in environment["versions"]
    report = Path(rolled["report_html"]).read_text()
    assert "rollback: traffic back on v1.4.2" in report
    # A monitoring run is finished by the monitor again, not by `hotfix rollback`.
    code, refused = _hotfix("rollback", rolled["run_id"], "--workspace", workspace)
    assert code == 2 and f"hotfix monitor {run_id} --rollback REASON" in refused["error"]


def _interrupted(
    workspace: str, args: tuple[str, ...], when: Callable[[dict[str, Any]], bool]
) -> tuple[int, dict[str, Any], str]:
    """`hotfix ARGS --json`, sent SIGINT once its new run's journal has a record `when` likes."""
    runs = Path(workspace) / ".hotfix" / "runs"
    earlier = set(runs.glob("*/journal.jsonl"))
    proc = subprocess.Popen([HOTFIX, *args, "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not any(
            when(record)
            for journal in set(runs.glob("*/journal.jsonl")) - earlier
            for record in read_journal(journal)
        ):
            assert proc.poll() is None and time.monotonic() < deadline, proc.poll()
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, json.loads(out), err


def _environment(workspace: str) -> dict[str, Any]:
    from tools.deploy.targets.local import environment_status

    status = environment_status(Path(workspace) / ".hotfix" / "local")
    assert status is not None
    return status


def _switch_fault_on(workspace: str, version: str) -> None:
    """Turn on the sample service's fault switch for `version`, as a bad release would fail."""
    flags_file = Path(workspace) / ".hotfix" / "local" / "flags.json"
    flags = json.loads(flags_file.read_text()) if flags_file.exists() else {}
    flags["inject_fault_in"] = [version]
    flags_file.write_text(json.dumps(flags))
    url = demo_production_url(workspace)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                pass
        except urllib.error.HTTPError as error:
            if error.code == 500:
                return
        time.sleep(0.05)
    raise AssertionError("the fault switch never took effect")


def demo_production_url(workspace: str) -> str:
    return f"http://127.0.0.1:{_environment(workspace)['production_port']}"
