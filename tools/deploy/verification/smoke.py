"""Smoke tests: a handful of real requests (or shell commands) against a staged version.

Each test reports precisely what differed, e.g. ``expected status 200, got 500: <body>`` or
``json total: expected 0, got null``, so that a failed rollout explains itself in the report.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx2

from tools.deploy.verification._command import run_command_test
from tools.deploy.verification._http import client_for, describe_error, excerpt, join_url
from tools.deploy.verification.results import CheckResult, Probe
from tools.deploy.verification.settings import SmokeTestSettings

_MISSING = object()


def _is_index(key: str, length: int) -> bool:
    return key.lstrip("-").isdigit() and -length <= int(key) < length


def _lookup(document: Any, dotted: str) -> tuple[Any, str | None]:
    """Follow `a.0.b` into JSON; returns (value, None) or (_MISSING, where it stopped)."""
    current = document
    walked: list[str] = []
    for key in dotted.split("."):
        if isinstance(current, dict) and key in current:
            current = current[key]
        elif isinstance(current, list) and _is_index(key, len(current)):
            current = current[int(key)]
        else:
            where = ".".join(walked) or "the top level"
            return _MISSING, f"no {key!r} under {where}"
        walked.append(key)
    return current, None


def _json_equal(expected: Any, actual: Any) -> bool:
    # JSON true is not 1: Python's True == 1 must not make a boolean match a number.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            _json_equal(expected[k], actual[k]) for k in expected
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            _json_equal(e, a) for e, a in zip(expected, actual, strict=True)
        )
    return bool(expected == actual)


def _dump(value: Any) -> str:
    return excerpt(json.dumps(value, ensure_ascii=False, default=str), 120)


def _expectation_failures(
    test: SmokeTestSettings, response: httpx2.Response, latency_ms: float
) -> list[str]:
    body = response.text
    if response.status_code != test.expected_status:
        # The body is the best clue to why; other expectations would only add noise.
        got = f"got {response.status_code}" + (f": {excerpt(body)}" if body.strip() else "")
        return [f"expected status {test.expected_status}, {got}"]
    failures = [
        f"body does not contain {needle!r}: {excerpt(body)}"
        for needle in test.body_contains
        if needle not in body
    ]
    if test.json_equals:
        try:
            document = json.loads(body)
        except ValueError:
            failures.append(f"response is not JSON: {excerpt(body)}")
        else:
            for path, expected in test.json_equals.items():
                actual, missing = _lookup(document, path)
                if missing is not None:
                    failures.append(f"json {path}: expected {_dump(expected)}, missing ({missing})")
                elif not _json_equal(expected, actual):
                    failures.append(f"json {path}: expected {_dump(expected)}, got {_dump(actual)}")
    if test.max_latency_ms is not None and latency_ms > test.max_latency_ms:
        limit = f"{test.max_latency_ms:g} ms"
        failures.append(f"latency {latency_ms:.0f} ms exceeds the maximum {limit}")
    return failures


async def _run_http_test(
    client: httpx2.AsyncClient, base_url: str, test: SmokeTestSettings
) -> CheckResult:
    url = join_url(base_url, test.path)
    started_at = time.time()
    started = time.perf_counter()
    status: int | None = None
    try:
        response = await client.request(
            test.method, url, headers=test.headers, json=test.json_body, timeout=test.timeout_s
        )
    except httpx2.HTTPError as exc:
        failures = [describe_error(exc, test.timeout_s)]
        latency_ms = (time.perf_counter() - started) * 1000
    else:
        latency_ms = (time.perf_counter() - started) * 1000
        status = response.status_code
        failures = _expectation_failures(test, response, latency_ms)
    summary = f"{test.method} {test.path} -> {status} in {latency_ms:.0f} ms"
    message = "; ".join(failures) if failures else summary
    probe = Probe(started_at, status, latency_ms, "; ".join(failures) or None)
    details = {
        "url": url,
        "method": test.method,
        "status": status,
        "latency_ms": latency_ms,
        "message": message,
        "failures": failures,
    }
    return CheckResult("smoke", test.name, not failures, started_at, time.time(), details, [probe])


async def run_smoke_tests(
    base_url: str,
    tests: list[SmokeTestSettings],
    *,
    cwd: Path,
    client: httpx2.AsyncClient | None = None,
) -> list[CheckResult]:
    """Run every smoke test against `base_url`, one after another, in order.

    Args:
        base_url: Where the version answers, e.g. "http://127.0.0.1:8041".
        tests: The tests; a test with `command` runs that shell command instead of a request.
        cwd: Working directory for command tests (usually the version's worktree).
        client: An HTTP client to reuse; by default one is opened and closed here.

    Returns:
        One "smoke" CheckResult per test, in the same order; a failed test's
        `details["message"]` says exactly what differed.
    """
    results: list[CheckResult] = []
    async with client_for(client) as http:
        for test in tests:
            if test.command is not None:
                results.append(await run_command_test(base_url, test, cwd))
            else:
                results.append(await _run_http_test(http, base_url, test))
            await asyncio.sleep(0)  # let cancellation in between tests
    return results
