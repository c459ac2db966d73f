"""Crash consistency: a `hotfix run` killed -9 at every journal point, then `hotfix resume`.

For N = 1..(records of a full run), the deploying CLI dies right after its N-th journal record
is fsync'd (tests/crash_launcher.py); a new process runs `hotfix resume RUN`. Afterwards
production must serve a verified version, no change may have been made twice (by the
journal of both processes and by the local environment's own operation log), the journal
must read back whole, and the run's final status must be on record (tests/crash_checks.py).
Both the demo's good fix (resume finishes the deployment) and its broken fix (the bake's
analysis fails and the engine rolls back) are covered, on two workers each; records that
start a stage, a traffic shift or a rollback are also cut half-way (a torn tail).

After a kill, `hotfix resume` / `hotfix rollback` also honour the run's change windows and
send its webhooks, as the run itself does.

Reproduce the numbers: `pytest tests/test_crash_points.py -s -q`.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from crash_matrix import WORKERS, MatrixReport, Production, run_matrices

from agent.journal import read_journal

HOTFIX = str(Path(sys.executable).parent / "hotfix")


def _free_ports() -> list[int]:
    sockets = [socket.socket() for _ in range(WORKERS)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def _print(report: MatrixReport) -> None:
    print(  # the numbers docs/reliability.md quotes (`pytest -s`)
        f"\ncrash matrix {report.variant}: {report.clean} kill points (records of a full run: "
        f"{report.records}), {report.torn} torn, done after {report.seconds:.1f} s, "
        f"statuses {json.dumps(report.statuses, sort_keys=True)}"
    )


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_run_killed_at_every_journal_point_resumes_to_a_verified_version(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    deploy, rollback = run_matrices(tmp_path, _free_ports())
    for report in (deploy, rollback):
        _print(report)
    print(f"crash matrix total: {time.monotonic() - started:.1f} s")

    assert not deploy.failures + rollback.failures, "\n".join(deploy.failures + rollback.failures)
    for report in (deploy, rollback):
        assert report.clean == report.records >= 50  # every journal point of a full run
        assert report.torn >= 2  # records cut half-way through a stage and a shift, at least
    # Killed after its deployment began, the fix is finished and the broken fix rolled back.
    assert deploy.statuses["deployed"] >= 20 and "rolled_back" not in deploy.statuses
    assert rollback.statuses["rolled_back"] >= 20 and "deployed" not in rollback.statuses


class _Webhook:
    """A loopback webhook receiver that records the events posted to it."""

    def __init__(self) -> None:
        self.events: list[str] = []
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                events.append(str(body["event"]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.mark.slow
def test_recovery_after_a_kill_honours_the_change_window_and_sends_the_webhooks(
    tmp_path: Path,
) -> None:
    prod = Production(tmp_path, broken_fix=False, port=_free_ports()[0])
    hook = _Webhook()
    try:
        killed = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "crash_launcher.py"), "--kill-at-step",
             "shift:v1.4.3:finished", "--", "run", prod.description, "--workspace",
             str(prod.workspace), "--model", "runbook", "--approve", f"policy:{prod.policy}"],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert killed.returncode == -signal.SIGKILL
        (run_dir,) = prod.runs()
        # Production is now frozen, and webhooks listen.
        with (prod.workspace / "hotfix.toml").open("a") as config:
            config.write(
                '[deploy.windows]\nfreezes = [{ start = "2000-01-01T00:00:00", '
                f'end = "2999-01-01T00:00:00", reason = "crash test freeze" }}]\n'
                f'[deploy.notifications]\nwebhooks = [{{ url = "{hook.url}" }}]\n'
            )

        def hotfix(*args: str) -> tuple[int, dict[str, Any]]:
            done = subprocess.run(
                [HOTFIX, *args, run_dir.name, "--workspace", str(prod.workspace),
                 "--approve", f"policy:{prod.policy}", "--json"],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            return done.returncode, json.loads(done.stdout)

        code, held = hotfix("resume")  # finishing the deployment would change production
        assert code == 3 and held["status"] == "denied"
        assert prod.client.state()["weights"] == {"v1.4.3": 100}  # nothing changed
        gate = [r for r in read_journal(run_dir / "journal.jsonl") if r["type"] == "gate_decision"]
        assert gate[-1]["rule"] == "change-window" and "crash test freeze" in gate[-1]["reason"]

        code, rolled = hotfix("rollback")  # restoring the previous version is never held

        assert code == 0 and rolled["status"] == "rolled_back"
        assert prod.client.state()["weights"] == {"v1.4.2": 100}
        assert hook.events.count("waiting_for_approval") == 2
        assert {"rolled_back", "finished"} <= set(hook.events)
    finally:
        hook.server.shutdown()
        prod.shutdown()
