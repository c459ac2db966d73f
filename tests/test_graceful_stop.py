"""`GracefulStop` in one process: what a signal does to the work it guards."""

from __future__ import annotations

import asyncio
import signal

import pytest

from agent.graceful_stop import GracefulStop, RunInterrupted


def _guarded(stop: GracefulStop, protect_after_signal: bool) -> str:
    async def work() -> str:
        signal.raise_signal(signal.SIGINT)  # its handler runs now: the cancel is scheduled
        if protect_after_signal:  # the rollback's first step, journaled in the same moment
            stop.protect("production is being rolled back")
        await asyncio.sleep(0.05)
        return "rolled back"

    with stop.installed():
        return asyncio.run(stop.guard(work()))


def test_a_signal_cancels_the_guarded_work() -> None:
    stop = GracefulStop(write=lambda _message: None)

    with pytest.raises(RunInterrupted) as raised:
        _guarded(stop, protect_after_signal=False)

    assert raised.value.exit_code == 130


def test_a_stop_that_has_not_reached_the_work_is_withdrawn_when_a_rollback_begins() -> None:
    messages: list[str] = []
    stop = GracefulStop(write=messages.append)

    assert _guarded(stop, protect_after_signal=True) == "rolled back"
    assert messages[-1] == "SIGINT: production is being rolled back"


def test_under_protection_every_signal_only_says_what_is_under_way() -> None:
    messages: list[str] = []
    stop = GracefulStop(write=messages.append, protect="rolling back, please wait")

    async def work() -> str:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.raise_signal(sig)
            await asyncio.sleep(0.01)
        return "done"

    with stop.installed():
        assert asyncio.run(stop.guard(work())) == "done"
    assert messages == ["SIGINT: rolling back, please wait", "SIGTERM: rolling back, please wait"]
