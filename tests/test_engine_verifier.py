"""`DefaultVerifier`: the engine's view of the real verification functions, over loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tools.deploy.target import VersionMetrics
from tools.deploy.verification.settings import (
    AnalysisSettings,
    HealthCheckSettings,
    SmokeTestSettings,
    VerificationSettings,
)
from tools.deploy.verifier import DefaultVerifier, is_loopback_url, observation_window


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = (200, b'{"ok": true}') if self.path != "/broken" else (500, b"boom")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def verifier(tmp_path: Path, smoke_path: str = "/checkout") -> DefaultVerifier:
    settings = VerificationSettings(
        health=HealthCheckSettings(interval_s=0.01, consecutive_successes=2, max_wait_s=2),
        smoke=[SmokeTestSettings(name="checkout", path=smoke_path)],
        analysis=AnalysisSettings(window_s=0.3, load_rps=40, load_concurrency=2),
    )
    return DefaultVerifier(settings, workspace=tmp_path)


def test_health_and_smoke_results_come_back_as_journal_ready_dicts(
    tmp_path: Path, base_url: str
) -> None:
    checker = verifier(tmp_path)

    health = asyncio.run(checker.health(base_url))
    smoke = asyncio.run(checker.smoke(base_url, None))

    assert health["kind"] == "health" and health["passed"] is True
    assert [(s["name"], s["passed"]) for s in smoke] == [("checkout", True)]


def test_failing_smoke_test_is_reported_failed(tmp_path: Path, base_url: str) -> None:
    smoke = asyncio.run(verifier(tmp_path, "/broken").smoke(base_url, None))

    assert smoke[0]["passed"] is False


def test_drive_load_sends_traffic_to_loopback_only(tmp_path: Path, base_url: str) -> None:
    checker = verifier(tmp_path)

    report = asyncio.run(checker.drive_load(base_url, 0.3))
    remote = asyncio.run(checker.drive_load("http://192.0.2.10", 0.01))

    assert report["sent"] > 0 and report["failed"] == 0
    assert remote["sent"] == 0  # not loopback: waits, sends nothing
    assert is_loopback_url("http://localhost:8080") and not is_loopback_url("http://10.0.0.1")


def test_analysis_verdict_is_a_dict_with_outcome(tmp_path: Path) -> None:
    baseline = VersionMetrics("v1", 100, 0, [10.0] * 100)
    candidate = VersionMetrics("v2", 100, 30, [10.0] * 100)

    verdict = verifier(tmp_path).analyze(baseline, candidate)

    assert verdict["outcome"] == "fail" and verdict["reasons"]


def test_observation_window_grows_for_small_canary_shares() -> None:
    settings = AnalysisSettings(window_s=3.0, min_requests=50, load_rps=100)

    assert observation_window(settings, 100, True) == 3.0
    assert observation_window(settings, 10, True) == 6.0  # 50 / (100 * 0.1) * 1.2
    assert observation_window(settings, 10, False) == 3.0
