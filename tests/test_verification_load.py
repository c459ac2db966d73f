"""Synthetic traffic: rate, count, concurrency and time bounds; loopback only."""

from __future__ import annotations

import asyncio

import pytest
from test_verification_support import LocalServer, Reply, Request

from tools.deploy.verification.load import drive_traffic


def _ok_or_broken(request: Request) -> Reply:
    return Reply(500, "boom") if request.path == "/broken" else Reply(200, "ok")


def test_sends_about_rps_times_duration_and_never_more() -> None:
    with LocalServer(_ok_or_broken) as server:
        report = asyncio.run(drive_traffic(server.url, ["/healthz"], 100, 0.5, 4))
        served = len(server.requests)

    # 50 slots is a hard ceiling; the floor is loose because a busy machine drops late slots.
    assert 10 <= report.sent <= 50
    assert report.sent == served
    assert report.failed == 0
    assert report.statuses == {200: report.sent}
    assert report.elapsed_s < 0.5 + 0.3


def test_paths_are_cycled_and_5xx_count_as_failed() -> None:
    with LocalServer(_ok_or_broken) as server:
        report = asyncio.run(drive_traffic(server.url, ["/ok", "/broken"], 200, 0.2, 4))
        paths = [r.path for r in server.requests]

    # 200 rps x 0.2 s = 40 slots; a busy machine may drop some at the end.
    assert 4 <= report.sent <= 40
    assert abs(report.statuses[200] - report.statuses[500]) <= 1
    assert report.failed == report.statuses[500] == paths.count("/broken")
    assert paths.count("/ok") == report.statuses[200]


def test_in_flight_requests_never_exceed_the_concurrency() -> None:
    with LocalServer(lambda request: Reply(200, delay_s=0.05)) as server:
        report = asyncio.run(drive_traffic(server.url, ["/"], 200, 0.3, 2))
        peak = server.max_in_flight

    assert peak == 2
    # Two slots busy 50 ms each over 300 ms: the schedule slips instead of piling up.
    assert 4 <= report.sent <= 14


def test_a_slow_server_cannot_stretch_the_run_much_past_its_duration() -> None:
    with LocalServer(lambda request: Reply(200, delay_s=0.4)) as server:
        report = asyncio.run(drive_traffic(server.url, ["/"], 100, 0.2, 1))

    assert report.sent == 1  # the only slot was busy until after the deadline
    assert report.elapsed_s < 0.4 + 0.3


def test_connection_errors_are_counted_as_failed() -> None:
    with LocalServer(_ok_or_broken) as server:
        url = server.url
    report = asyncio.run(drive_traffic(url, ["/"], 50, 0.2, 2))

    assert 5 <= report.sent <= 10
    assert report.failed == report.sent
    assert report.statuses == {}
    assert report.errors == {"ConnectError": report.sent}


@pytest.mark.parametrize("url", ["http://10.0.0.8:8080", "https://shop.example.com"])
def test_refuses_anything_but_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="only goes to loopback"):
        asyncio.run(drive_traffic(url, ["/"], 10, 0.1, 1))


def test_rejects_nonsense_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        asyncio.run(drive_traffic("http://127.0.0.1:9", ["/"], 0, 1, 1))
    with pytest.raises(ValueError, match="at least one path"):
        asyncio.run(drive_traffic("http://localhost:9", [], 10, 1, 1))
