"""A fake clock for simulated environments: time moves only when something waits."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Epoch seconds that advance only when told to (health probes, analysis windows)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (negative values are ignored)."""
        self.now += max(seconds, 0.0)

    async def sleep(self, seconds: float) -> None:
        """An `asyncio.sleep` stand-in that advances the clock instead of waiting."""
        self.advance(seconds)
        await asyncio.sleep(0)
