"""Synthetic traffic for the local demo, so the router sees enough requests to judge.

The local demo has no users; without traffic the analysis would always be inconclusive.
`drive_traffic` sends an open-loop stream at a fixed rate, round-robin over a few paths,
bounded in count, time and concurrency, and only ever to a loopback address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2

from tools.deploy.verification._http import join_url

MAX_REQUESTS = 20_000
REQUEST_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LoadReport:
    """What the synthetic traffic did.

    Attributes:
        sent: Requests started.
        failed: Requests that got no response (connection error, timeout) or a status >= 500,
            the same definition of error the router uses.
        statuses: Count of responses per status code.
        errors: Count of requests without a response, per error type.
        elapsed_s: Wall-clock time from the first request to the last response.
    """

    sent: int
    failed: int
    statuses: dict[int, int]
    errors: dict[str, int] = field(default_factory=dict[str, int])
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "sent": self.sent,
            "failed": self.failed,
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "elapsed_s": self.elapsed_s,
        }


def _require_loopback(base_url: str) -> None:
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"synthetic traffic only goes to loopback addresses, not {host!r}")


async def drive_traffic(
    base_url: str, paths: list[str], rps: float, duration_s: float, concurrency: int
) -> LoadReport:
    """Send GET requests at `rps` for `duration_s`, cycling through `paths`.

    Requests are scheduled at fixed times (open loop) so that a slow version does not
    lower the rate it is judged on, but at most `concurrency` are in flight: when all slots
    are busy the schedule slips rather than piling up. No request starts after `duration_s`
    and at most min(ceil(rps * duration_s), MAX_REQUESTS) are sent.

    Raises:
        ValueError: `base_url` is not a loopback address, or an argument is out of range.
    """
    _require_loopback(base_url)
    if not paths:
        raise ValueError("drive_traffic needs at least one path")
    if rps <= 0 or duration_s <= 0 or concurrency < 1:
        raise ValueError("rps and duration_s must be positive and concurrency at least 1")
    budget = min(math.ceil(rps * duration_s), MAX_REQUESTS)
    urls = [join_url(base_url, path) for path in paths]
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    next_index = 0
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx2.AsyncClient, start: float) -> None:
        nonlocal next_index
        while next_index < budget:
            index = next_index
            next_index += 1  # single-threaded event loop: claiming a slot needs no lock
            due = start + index / rps
            if due >= start + duration_s:
                return
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if time.monotonic() >= start + duration_s:
                return
            try:
                response = await client.get(urls[index % len(urls)])
            except httpx2.HTTPError as exc:
                errors[type(exc).__name__] += 1
            else:
                statuses[response.status_code] += 1

    async with httpx2.AsyncClient(
        timeout=min(REQUEST_TIMEOUT_S, duration_s + 1.0), limits=limits, trust_env=False
    ) as client:
        # The clock starts once the client exists: building it (TLS context) takes ~0.2 s.
        start = time.monotonic()
        await asyncio.gather(*(worker(client, start) for _ in range(concurrency)))
    elapsed = time.monotonic() - start
    sent = sum(statuses.values()) + sum(errors.values())
    failed = sum(errors.values()) + sum(n for code, n in statuses.items() if code >= 500)
    return LoadReport(sent, failed, dict(statuses), dict(errors), elapsed)
