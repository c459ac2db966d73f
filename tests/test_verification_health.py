"""Health checks against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import time

from test_verification_support import LocalServer, Reply, Request, free_port_url

from tools.deploy.verification.health import check_health
from tools.deploy.verification.settings import HealthCheckSettings

FAST = HealthCheckSettings(interval_s=0.01, request_timeout_s=0.5, max_wait_s=2.0)


def test_health_passes_after_warm_up_once_three_probes_in_a_row_succeed() -> None:
    count = itertools.count()

    def warming(request: Request) -> Reply:
        return Reply(503, "starting") if next(count) < 4 else Reply(200, "ok")

    with LocalServer(warming) as server:
        result = asyncio.run(check_health(server.url, FAST))

    assert result.passed
    assert result.kind == "health"
    assert [p.status for p in result.samples] == [503, 503, 503, 503, 200, 200, 200]
    assert result.samples[0].error == "expected status 200, got 503"
    assert result.details["failures"] == 4
    assert "3 consecutive successes after 7 probes" in result.message
    assert {r.path for r in server.requests} == {"/healthz"}


def test_flapping_version_never_reaches_the_streak_and_fails_within_max_wait() -> None:
    count = itertools.count()

    def flapping(request: Request) -> Reply:
        return Reply(200) if next(count) % 2 == 0 else Reply(500, "boom")

    settings = FAST.model_copy(update={"max_wait_s": 0.5})
    with LocalServer(flapping) as server:
        started = time.monotonic()
        result = asyncio.run(check_health(server.url, settings))
        elapsed = time.monotonic() - started

    assert not result.passed
    assert 0.4 < elapsed < 2.0
    assert len(result.samples) >= 4
    oks = "".join("1" if p.ok else "0" for p in result.samples)
    assert "111" not in oks
    assert "1" in oks
    assert "no 3 consecutive successes" in result.message
    assert "last: expected status 200, got 500" in result.message


def test_body_marker_must_be_present() -> None:
    with LocalServer(lambda request: Reply(200, '{"status": "degraded"}')) as server:
        settings = FAST.model_copy(update={"body_contains": '"status": "ok"', "max_wait_s": 0.3})
        result = asyncio.run(check_health(server.url, settings))

    assert not result.passed
    assert result.samples[0].status == 200
    assert result.samples[0].error == 'body does not contain \'"status": "ok"\''


def test_custom_path_and_status_are_probed() -> None:
    with LocalServer(lambda r: Reply(204, "") if r.path == "/ready" else Reply(404)) as server:
        settings = FAST.model_copy(update={"path": "/ready", "expected_status": 204})
        result = asyncio.run(check_health(server.url, settings))

    assert result.passed
    assert len(result.samples) == 3


def test_nothing_listening_records_connection_errors_and_fails() -> None:
    settings = FAST.model_copy(update={"max_wait_s": 0.3, "interval_s": 0.05})

    result = asyncio.run(check_health(free_port_url(), settings))

    assert not result.passed
    assert result.samples
    assert all(p.status is None for p in result.samples)
    assert all((p.error or "").startswith("connection failed") for p in result.samples)


def test_slow_responses_time_out_and_do_not_count() -> None:
    with LocalServer(lambda request: Reply(200, delay_s=0.3)) as server:
        settings = FAST.model_copy(update={"request_timeout_s": 0.05, "max_wait_s": 0.4})
        result = asyncio.run(check_health(server.url, settings))

    assert not result.passed
    assert result.samples[0].error == "timed out after 0.05s"
    assert result.to_dict()["samples"][0]["status"] is None
