"""Smoke tests against a real HTTP server on 127.0.0.1, and command smoke tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_verification_support import LocalServer, Reply, Request

from tools.deploy.verification.results import CheckResult
from tools.deploy.verification.settings import SmokeTestSettings
from tools.deploy.verification.smoke import run_smoke_tests


def _shop(request: Request) -> Reply:
    """A tiny service: a cart endpoint, a broken checkout, a slow report."""
    if request.path == "/cart":
        return Reply.json({"total": 0, "items": [{"sku": "A1", "qty": 2}], "open": True})
    if request.path == "/checkout":
        return Reply(500, "Traceback: KeyError 'items'\n  in checkout()")
    if request.path == "/orders" and request.method == "POST":
        order = json.loads(request.body)
        token = request.headers.get("X-Token", "")
        return Reply.json({"sku": order["sku"], "token": token}, status=201)
    if request.path == "/drain":
        return Reply(503, "")
    if request.path == "/slow":
        return Reply(200, "done", delay_s=0.15)
    return Reply(404, "not found")


def _run(url: str, tests: list[SmokeTestSettings], cwd: Path | None = None) -> list[CheckResult]:
    return asyncio.run(run_smoke_tests(url, tests, cwd=cwd or Path.cwd()))


def _one(url: str, **fields: Any) -> CheckResult:
    return _run(url, [SmokeTestSettings(name="t", **fields)])[0]


@pytest.fixture(scope="module")
def shop() -> Iterator[LocalServer]:
    with LocalServer(_shop) as server:
        yield server


def test_passing_tests_report_status_and_latency_in_order(shop: LocalServer) -> None:
    tests = [
        SmokeTestSettings(
            name="cart",
            path="/cart",
            body_contains=['"sku"'],
            json_equals={"total": 0, "items.0.sku": "A1", "items.0": {"sku": "A1", "qty": 2}},
            max_latency_ms=2000,
        ),
        SmokeTestSettings(name="missing page", path="/nope", expected_status=404),
    ]

    results = _run(shop.url, tests)

    assert [r.name for r in results] == ["cart", "missing page"]
    assert all(r.passed for r in results), [r.message for r in results]
    assert results[0].kind == "smoke"
    assert results[0].details["status"] == 200
    assert results[0].message.startswith("GET /cart -> 200 in ")


def test_wrong_status_says_expected_got_and_shows_the_body(shop: LocalServer) -> None:
    result = _one(shop.url, path="/checkout", json_equals={"total": 0})

    assert not result.passed
    assert result.message == (
        "expected status 200, got 500: Traceback: KeyError 'items' in checkout()"
    )
    assert result.samples[0].status == 500
    assert _one(shop.url, path="/drain").message == "expected status 200, got 503"


def test_missing_body_text_is_named(shop: LocalServer) -> None:
    result = _one(shop.url, path="/cart", body_contains=['"total"', "checkout_url"])

    assert not result.passed
    assert result.details["failures"] == [
        "body does not contain 'checkout_url': "
        '{"total": 0, "items": [{"sku": "A1", "qty": 2}], "open": true}'
    ]


def test_json_mismatches_name_the_path_and_both_values(shop: LocalServer) -> None:
    result = _one(
        shop.url,
        path="/cart",
        json_equals={"total": None, "items.0.sku": "B2", "open": 1, "items.3.sku": "A1"},
    )

    assert not result.passed
    assert result.details["failures"] == [
        "json total: expected null, got 0",
        'json items.0.sku: expected "B2", got "A1"',
        "json open: expected 1, got true",
        "json items.3.sku: expected \"A1\", missing (no '3' under items)",
    ]


def test_json_expectation_on_a_non_json_body_fails(shop: LocalServer) -> None:
    result = _one(shop.url, path="/slow", json_equals={"total": 0})

    assert result.message == "response is not JSON: done"


def test_slow_response_fails_the_latency_budget(shop: LocalServer) -> None:
    result = _one(shop.url, path="/slow", max_latency_ms=50)

    assert not result.passed
    assert result.message.startswith("latency ")
    assert result.message.endswith(" ms exceeds the maximum 50 ms")
    assert result.details["latency_ms"] >= 150


def test_post_sends_json_body_and_headers(shop: LocalServer) -> None:
    result = _one(
        shop.url,
        method="POST",
        path="/orders",
        headers={"X-Token": "t-1"},
        json_body={"sku": "A1"},
        expected_status=201,
        json_equals={"sku": "A1", "token": "t-1"},
    )

    assert result.passed, result.message


def test_request_timeout_is_reported(shop: LocalServer) -> None:
    result = _one(shop.url, path="/slow", timeout_s=0.05)

    assert not result.passed
    assert result.message == "timed out after 0.05s"
    assert result.details["status"] is None


def test_command_passes_on_exit_zero_with_url_substituted_in_cwd(
    shop: LocalServer, tmp_path: Path
) -> None:
    (tmp_path / "marker.txt").write_text("here")
    command = (
        f'test "{{url}}" = "{shop.url}" && test "$HOTFIX_URL" = "{shop.url}" && cat marker.txt'
    )

    result = _run(shop.url, [SmokeTestSettings(name="cmd", command=command)], cwd=tmp_path)[0]

    assert result.passed, result.message
    assert result.details["stdout"] == "here"
    assert result.details["exit_code"] == 0


def test_command_failure_reports_exit_status_and_stderr(shop: LocalServer, tmp_path: Path) -> None:
    command = "echo partial; echo 'checkout returned 500' >&2; exit 3"

    result = _run(shop.url, [SmokeTestSettings(name="cmd", command=command)], cwd=tmp_path)[0]

    assert not result.passed
    assert result.message == "command exited 3: checkout returned 500"


def test_command_that_hangs_is_killed_at_its_timeout(shop: LocalServer, tmp_path: Path) -> None:
    test = SmokeTestSettings(name="hang", command="sleep 5", timeout_s=0.2)

    result = _run(shop.url, [test], cwd=tmp_path)[0]

    assert not result.passed
    assert result.message == "command timed out after 0.2s"
    assert result.duration_s < 2.0


def test_command_in_a_missing_directory_fails_instead_of_raising(
    shop: LocalServer, tmp_path: Path
) -> None:
    test = SmokeTestSettings(name="cmd", command="true")

    result = _run(shop.url, [test], cwd=tmp_path / "gone")[0]

    assert not result.passed
    assert result.message.startswith("command could not start: ")


def test_unknown_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="extra"):
        SmokeTestSettings.model_validate({"name": "t", "expect_status": 200})
