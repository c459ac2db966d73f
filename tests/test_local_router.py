"""The local target's router: weighted routing, atomic switches, drain, retry, metrics."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest

from tools.deploy.targets.local.router import Router

T = TypeVar("T")


class _Version(ThreadingHTTPServer):
    """A stand-in version: answers with its label; /slow waits, /fail answers 500."""

    daemon_threads = True

    def __init__(self, label: str) -> None:
        self.label = label
        self.connections = 0
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def get_request(self) -> tuple[socket.socket, Any]:
        self.connections += 1
        return super().get_request()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body go out as separate writes

    @property
    def label(self) -> str:
        assert isinstance(self.server, _Version)
        return self.server.label

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(0.5)
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"from ", self.label.encode()):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/legacy":  # no length, no chunks: the body ends when we close
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"legacy body from " + self.label.encode())
            self.close_connection = True
            return
        self._answer(500 if self.path == "/fail" else 200, {"version": self.label})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(200, {"version": self.label, "echo": body.decode()})

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RouterThread:
    """A Router on its own event loop thread, so tests can use blocking HTTP clients."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.router = Router(connect_timeout_s=1.0, response_timeout_s=5.0)
        self.port = self.run(self.router.start("127.0.0.1", 0))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def set_weights(self, weights: dict[str, int]) -> None:
        async def apply() -> None:
            self.router.set_weights(weights)

        self.run(apply())

    def add(self, version: _Version | tuple[str, int]) -> None:
        label, port = (version.label, version.port) if isinstance(version, _Version) else version

        async def apply() -> None:
            self.router.add_upstream(label, "127.0.0.1", port)

        self.run(apply())

    def close(self) -> None:
        self.run(self.router.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def router() -> Iterator[_RouterThread]:
    thread = _RouterThread()
    yield thread
    thread.close()


@pytest.fixture
def versions() -> Iterator[dict[str, _Version]]:
    servers = {label: _Version(label) for label in ("blue", "green")}
    yield servers
    for server in servers.values():
        server.shutdown()
        server.server_close()


def _settled(router: _RouterThread, label: str, requests: int) -> None:
    """Wait until the router has recorded `requests` for `label`.

    The router records a request once its response is relayed, so the client can read the
    response a moment before the sample lands.
    """
    deadline = time.monotonic() + 2
    while router.router.metrics.totals(label).requests < requests:
        assert time.monotonic() < deadline, f"{label} never reached {requests} requests"
        time.sleep(0.005)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _request(
    port: int, method: str = "GET", path: str = "/", body: bytes | None = None
) -> tuple[int, str | None, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.getheader("X-Hotfix-Version"), response.read()
    finally:
        conn.close()


def test_requests_are_split_exactly_by_weight(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    for version in versions.values():
        router.add(version)
    router.set_weights({"blue": 90, "green": 10})
    seen = Counter(_request(router.port)[1] for _ in range(100))
    assert seen == {"blue": 90, "green": 10}


def test_response_comes_from_the_version_named_in_the_header(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    router.add(versions["green"])
    router.set_weights({"green": 100})
    status, header, body = _request(router.port, "POST", "/echo", b"payload")
    assert (status, header) == (200, "green")
    assert json.loads(body) == {"version": "green", "echo": "payload"}


def test_switch_sends_every_later_request_to_the_new_split(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    for version in versions.values():
        router.add(version)
    router.set_weights({"blue": 100})
    assert {_request(router.port)[1] for _ in range(5)} == {"blue"}
    router.set_weights({"blue": 0, "green": 100})
    assert {_request(router.port)[1] for _ in range(5)} == {"green"}


def test_request_in_flight_finishes_on_its_version_and_removal_waits_for_it(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    for version in versions.values():
        router.add(version)
    router.set_weights({"blue": 100})
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(_request, router.port, "GET", "/slow")
        deadline = time.monotonic() + 2
        while router.router.inflight("blue") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        router.set_weights({"blue": 0, "green": 100})
        assert _request(router.port)[1] == "green"
        started = time.monotonic()
        drained = router.run(router.router.remove_upstream("blue", drain_timeout_s=5))
        waited = time.monotonic() - started
        status, header, _ = slow.result(5)
    assert (status, header) == (200, "blue")
    assert drained is True
    assert waited > 0.2  # removal waited for the slow request rather than cutting it off


def test_removing_a_version_that_still_has_weight_is_refused(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    router.add(versions["blue"])
    router.set_weights({"blue": 100})
    with pytest.raises(ValueError, match="still has weight"):
        router.run(router.router.remove_upstream("blue", drain_timeout_s=1))


def test_get_is_retried_on_another_version_and_the_failure_is_counted(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    router.add(versions["blue"])
    router.add(("dead", _closed_port()))
    router.set_weights({"blue": 50, "dead": 50})
    results = [_request(router.port) for _ in range(10)]
    _settled(router, "blue", 10)
    assert {(status, header) for status, header, _ in results} == {(200, "blue")}
    failures = router.router.metrics.window("dead", 0)
    assert failures.requests == 5 and failures.connection_failures == 5 and failures.errors == 5
    assert router.router.metrics.window("blue", 0).requests == 10


def test_post_is_not_retried_when_its_version_refuses_connections(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    router.add(versions["blue"])
    router.add(("dead", _closed_port()))
    router.set_weights({"dead": 100, "blue": 0})
    status, header, body = _request(router.port, "POST", "/api/checkout", b"{}")
    assert (status, header) == (502, "dead")
    assert b"dead failed" in body
    assert router.router.metrics.window("blue", 0).requests == 0


def test_metrics_count_requests_server_errors_and_latency_per_version(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    router.add(versions["blue"])
    router.set_weights({"blue": 100})
    before = time.time()
    time.sleep(0.01)
    for path in ("/", "/fail", "/", "/fail"):
        _request(router.port, "GET", path)
    _settled(router, "blue", 4)
    since_early = router.router.metrics.window("blue", 0)
    window = router.router.metrics.window("blue", before)
    assert (window.requests, window.errors, window.connection_failures) == (4, 2, 0)
    assert len(window.latencies_ms) == 4 and all(ms > 0 for ms in window.latencies_ms)
    assert router.router.metrics.window("blue", time.time() + 1).requests == 0
    assert since_early.requests == 4


def test_stats_page_shows_weights_and_counts(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    router.add(versions["blue"])
    router.set_weights({"blue": 100})
    _request(router.port, "GET", "/fail")
    _settled(router, "blue", 1)
    status, _, body = _request(router.port, "GET", "/_hotfix/stats")
    stats = json.loads(body)
    assert status == 200
    assert stats["weights"] == {"blue": 100}
    assert stats["versions"]["blue"]["total"]["requests"] == 1
    assert stats["versions"]["blue"]["total"]["errors"] == 1


def test_without_weights_the_router_answers_503(router: _RouterThread) -> None:
    assert _request(router.port)[0] == 503


def test_weights_naming_an_unknown_version_are_refused(router: _RouterThread) -> None:
    with pytest.raises(ValueError, match="unknown versions: ghost"):
        router.set_weights({"ghost": 100})


def test_keep_alive_reuses_one_upstream_connection_and_relays_chunked_bodies(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    router.add(versions["blue"])
    router.set_weights({"blue": 100})
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    bodies: list[bytes] = []
    for _ in range(5):
        conn.request("GET", "/chunked")
        bodies.append(conn.getresponse().read())
    conn.close()
    assert bodies == [b"hello from blue"] * 5
    assert versions["blue"].connections == 1


def test_body_ended_by_closing_is_relayed_with_a_length_on_a_kept_connection(
    router: _RouterThread, versions: dict[str, _Version]
) -> None:
    router.add(versions["blue"])
    router.set_weights({"blue": 100})
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    for _ in range(2):
        conn.request("GET", "/legacy")
        response = conn.getresponse()
        assert response.getheader("Content-Length") == str(len(b"legacy body from blue"))
        assert response.read() == b"legacy body from blue"
    conn.close()
    assert versions["blue"].connections == 2  # the version closed each connection
