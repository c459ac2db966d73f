"""Zero-downtime prober: hit the production URL continuously while a rollout runs.

Every connection error, timeout or status >= 500 seen during a traffic switch is a user who
would have seen an outage; the report lists each one with its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx2

from tools.deploy.verification._http import describe_error

MAX_RECORDED_FAILURES = 1000  # counted beyond this, but not itemised


@dataclass(frozen=True)
class ProberReport:
    """What the prober saw between start() and stop().

    Attributes:
        total: Probes completed.
        failed: Probes that failed (connection error, timeout, status >= 500).
        failures: Up to MAX_RECORDED_FAILURES items `{"ts", "error"}` or `{"ts", "status"}`.
        first_ts: Epoch seconds of the first probe (None if none ran).
        last_ts: Epoch seconds of the last probe (None if none ran).
        max_consecutive_failures: Longest run of failed probes: how long an outage lasted.
    """

    total: int
    failed: int
    failures: list[dict[str, Any]]
    first_ts: float | None
    last_ts: float | None
    max_consecutive_failures: int = 0

    @property
    def zero_downtime(self) -> bool:
        """True when probes ran and none failed."""
        return self.total > 0 and self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "total": self.total,
            "failed": self.failed,
            "failures": list(self.failures),
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "max_consecutive_failures": self.max_consecutive_failures,
        }


@dataclass
class _Tally:
    total: int = 0
    failed: int = 0
    streak: int = 0
    max_streak: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    first_ts: float | None = None
    last_ts: float | None = None

    def record(self, ts: float, failure: dict[str, Any] | None) -> None:
        self.total += 1
        self.first_ts = ts if self.first_ts is None else self.first_ts
        self.last_ts = ts
        if failure is None:
            self.streak = 0
            return
        self.failed += 1
        self.streak += 1
        self.max_streak = max(self.max_streak, self.streak)
        if len(self.failures) < MAX_RECORDED_FAILURES:
            self.failures.append({"ts": ts, **failure})


class Prober:
    """Probe `url` every `interval_s` in the background until stopped.

    Use `await p.start()` ... `report = await p.stop()`, or `async with Prober(url) as p:`
    and read `p.report` afterwards.
    """

    def __init__(self, url: str, interval_s: float = 0.02, *, timeout_s: float = 1.0) -> None:
        self.url = url
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.report: ProberReport | None = None
        self._tally = _Tally()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def total(self) -> int:
        """Probes completed so far (live, for progress displays)."""
        return self._tally.total

    @property
    def failed(self) -> int:
        """Failed probes so far (live)."""
        return self._tally.failed

    async def start(self) -> None:
        """Begin probing in the background; returns at once."""
        if self._task is not None:
            raise RuntimeError("prober already started")
        self._task = asyncio.create_task(self._run(), name=f"prober {self.url}")

    async def stop(self) -> ProberReport:
        """Stop after the probe in flight (so it is counted fairly) and report."""
        if self._task is None:
            raise RuntimeError("prober was not started")
        self._stopping.set()
        await self._task
        tally = self._tally
        self.report = ProberReport(
            tally.total,
            tally.failed,
            list(tally.failures),
            tally.first_ts,
            tally.last_ts,
            tally.max_streak,
        )
        return self.report

    async def __aenter__(self) -> Prober:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _run(self) -> None:
        # No keep-alive: each probe opens a fresh connection, as a new user would, so a
        # stopped or swapped backend shows up at once instead of hiding behind a pooled socket.
        limits = httpx2.Limits(max_keepalive_connections=0)
        async with httpx2.AsyncClient(
            timeout=self.timeout_s, limits=limits, trust_env=False
        ) as client:
            while not self._stopping.is_set():
                await self._probe(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_s)

    async def _probe(self, client: httpx2.AsyncClient) -> None:
        ts = time.time()
        try:
            response = await client.get(self.url)
        except httpx2.HTTPError as exc:
            self._tally.record(ts, {"error": describe_error(exc, self.timeout_s)})
            return
        failure = {"status": response.status_code} if response.status_code >= 500 else None
        self._tally.record(ts, failure)
