"""Zero-downtime prober: healthy, server stopped mid-run, 5xx responses."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest
from test_verification_support import LocalServer, Reply, Request

from tools.deploy.verification.prober import Prober, ProberReport


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for a condition instead of a fixed sleep: the test machine may be slow."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def test_healthy_service_shows_zero_failures() -> None:
    async def run(server: LocalServer) -> ProberReport:
        async with Prober(server.url + "/healthz", interval_s=0.01) as prober:
            await _until(lambda: len(server.requests) >= 5)
        assert prober.report is not None
        return prober.report

    with LocalServer(lambda request: Reply(200)) as server:
        report = asyncio.run(run(server))
        served = len(server.requests)

    assert report.total >= 5
    assert report.total == served
    assert report.failed == 0
    assert report.failures == []
    assert report.zero_downtime
    assert report.first_ts is not None and report.last_ts is not None
    assert report.last_ts > report.first_ts


def test_server_stopped_mid_run_counts_connection_failures() -> None:
    server = LocalServer(lambda request: Reply(200))

    async def run() -> ProberReport:
        with server:
            prober = Prober(server.url, interval_s=0.01)
            await prober.start()
            await _until(lambda: prober.total >= 3)
            await asyncio.to_thread(server.stop)
            await _until(lambda: prober.failed >= 3)
        return await prober.stop()

    report = asyncio.run(run())

    assert report.failed >= 3
    assert report.total > report.failed  # the probes before the stop succeeded
    assert not report.zero_downtime
    # Refused connections, or a connection accepted as the server closed: no status at all.
    assert all(set(f) == {"ts", "error"} and f["error"] for f in report.failures)
    assert report.failures[-1]["error"].startswith("connection failed")
    assert report.max_consecutive_failures == report.failed  # one outage, at the end
    assert report.first_ts is not None
    assert report.failures[0]["ts"] > report.first_ts


def test_server_errors_count_with_their_status_and_successes_do_not() -> None:
    count = itertools.count()

    def every_third_fails(request: Request) -> Reply:
        return Reply(503, "draining") if next(count) % 3 == 2 else Reply(200)

    async def run(server: LocalServer) -> ProberReport:
        prober = Prober(server.url, interval_s=0.005)
        await prober.start()
        await _until(lambda: prober.total >= 9)
        return await prober.stop()

    with LocalServer(every_third_fails) as server:
        report = asyncio.run(run(server))

    assert report.total >= 9
    assert report.failed == report.total // 3
    assert {f["status"] for f in report.failures} == {503}
    assert report.max_consecutive_failures == 1


def test_client_errors_are_not_outages() -> None:
    async def run(server: LocalServer) -> ProberReport:
        async with Prober(server.url, interval_s=0.01) as prober:
            await _until(lambda: len(server.requests) >= 3)
        assert prober.report is not None
        return prober.report

    with LocalServer(lambda request: Reply(404)) as server:
        report = asyncio.run(run(server))

    assert report.total >= 3
    assert report.failed == 0


def test_stop_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        asyncio.run(Prober("http://127.0.0.1:9").stop())
