"""Per-version request records in a time-indexed ring buffer.

Every proxied request leaves one sample (time, status, latency). Samples are appended in time
order, so a window `[since, now]` is the tail of the buffer; the oldest samples fall off once
the buffer is full. Counters since start are kept separately and never fall off.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

CONNECTION_FAILURE = 0  # status recorded when no response came back from the version


@dataclass
class WindowStats:
    """What a version's traffic looked like over a window."""

    requests: int = 0
    errors: int = 0  # status >= 500 plus connection failures
    connection_failures: int = 0
    latencies_ms: list[float] = field(default_factory=list[float])

    def percentile(self, q: float) -> float | None:
        """The `q` quantile (0..1) of latencies, nearest-rank; None without samples."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return ordered[index]

    def summary(self) -> dict[str, float | int | None]:
        """Counts, error rate and p50/p99 latency, for stats pages."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "connection_failures": self.connection_failures,
            "error_rate": self.errors / self.requests if self.requests else 0.0,
            "p50_ms": self.percentile(0.50),
            "p99_ms": self.percentile(0.99),
        }


@dataclass
class _Series:
    samples: deque[tuple[float, int, float]]
    total: WindowStats = field(default_factory=WindowStats)


class MetricsStore:
    """Request samples per version label."""

    def __init__(self, max_samples_per_version: int = 100_000) -> None:
        self._max = max_samples_per_version
        self._series: dict[str, _Series] = {}

    def record(self, label: str, status: int, latency_ms: float, at: float | None = None) -> None:
        """Add one request outcome; `status` 0 means the connection failed."""
        series = self._series.get(label)
        if series is None:
            series = self._series[label] = _Series(deque(maxlen=self._max))
        series.samples.append((time.time() if at is None else at, status, latency_ms))
        _count(series.total, status)

    def window(self, label: str, since: float) -> WindowStats:
        """Requests recorded for `label` at or after `since` (epoch seconds)."""
        stats = WindowStats()
        series = self._series.get(label)
        if series is None:
            return stats
        newest_first: list[tuple[float, int, float]] = []
        for sample in reversed(series.samples):
            if sample[0] < since:
                break
            newest_first.append(sample)
        for _, status, latency in reversed(newest_first):
            _count(stats, status)
            stats.latencies_ms.append(latency)
        return stats

    def totals(self, label: str) -> WindowStats:
        """Counters since the store was created (latencies not kept)."""
        series = self._series.get(label)
        return WindowStats() if series is None else series.total

    def labels(self) -> list[str]:
        return sorted(self._series)


def _count(stats: WindowStats, status: int) -> None:
    stats.requests += 1
    if status == CONNECTION_FAILURE:
        stats.connection_failures += 1
        stats.errors += 1
    elif status >= 500:
        stats.errors += 1
