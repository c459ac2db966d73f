"""Per-version traffic statistics from HTTP probes, since App Service has no per-version router.

A background task probes each slot every `interval_s` (production pinned to itself with
`x-ms-routing-name=self`, so a routing rule does not mix versions) and tags each sample with
the label serving in that slot at that moment. `metrics(label, since)` then answers like a
router would: requests, errors (status >= 500 or no response) and latencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import httpx2

from tools.deploy.target import VersionMetrics
from tools.deploy.verification._http import join_url

MAX_SAMPLES = 200_000


@dataclass(frozen=True)
class Sample:
    ts: float
    label: str
    ok: bool
    latency_ms: float


@dataclass(frozen=True)
class Watched:
    label: str
    url: str  # the base URL of the slot, with its routing pin when it is production


class SlotSampler:
    """Probes the watched slots in the background until `aclose()`."""

    def __init__(self, paths: list[str], interval_s: float, timeout_s: float) -> None:
        self.paths = paths
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.samples: list[Sample] = []
        self._watched: dict[str, Watched] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._tick = 0

    def watch(self, slot: str, label: str | None, url: str) -> None:
        """Probe `slot` as version `label` from now on (None: stop probing it)."""
        if label is None:
            self._watched.pop(slot, None)
        else:
            self._watched[slot] = Watched(label, url)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start probing in the current event loop (no-op when already running)."""
        if self.running:
            return
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="appservice probes")

    async def aclose(self) -> None:
        """Stop probing after the probes in flight."""
        if self._task is None:
            return
        self._stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def metrics(self, label: str, since: float) -> VersionMetrics:
        """What the probes of `label` saw since `since` (epoch seconds)."""
        mine = [s for s in self.samples if s.label == label and s.ts >= since]
        return VersionMetrics(
            label=label,
            requests=len(mine),
            errors=sum(1 for s in mine if not s.ok),
            latencies_ms=[s.latency_ms for s in mine if s.ok],
        )

    async def _run(self) -> None:
        # No keep-alive: a swap changes what a host serves; a pooled socket could hide it.
        limits = httpx2.Limits(max_keepalive_connections=0)
        async with httpx2.AsyncClient(
            timeout=self.timeout_s, limits=limits, trust_env=False
        ) as client:
            while not self._stop.is_set():
                path = self.paths[self._tick % len(self.paths)]
                self._tick += 1
                watched = list(self._watched.values())
                await asyncio.gather(*(self._probe(client, w, path) for w in watched))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)

    async def _probe(self, client: httpx2.AsyncClient, watched: Watched, path: str) -> None:
        base, _, query = watched.url.partition("?")
        url = join_url(base, path) + (f"?{query}" if query else "")
        ts = time.time()
        started = time.perf_counter()
        try:
            response = await client.get(url)
            ok = response.status_code < 500
        except httpx2.HTTPError:
            ok = False
        latency = (time.perf_counter() - started) * 1000
        self.samples.append(Sample(ts, watched.label, ok, latency))
        if len(self.samples) > MAX_SAMPLES:
            del self.samples[: MAX_SAMPLES // 2]
