"""SIGINT / SIGTERM on the command line: stop the run, then settle production.

`GracefulStop` cancels the run at the first signal; the caller then settles production from
the journal (`agent.safe_stop`) in a fresh event loop, after every call the cancelled run had
in flight has returned (so none of them can land after the settling). A command whose work
is itself the settling (`hotfix rollback`) is protected instead: signals never cancel it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from agent.config import HotfixConfig
from agent.journal import runs_root
from agent.safe_stop import stop_run_safely

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(Exception):
    """A stop signal cancelled the run; production still has to be settled."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"{signal.Signals(signum).name} received")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports it: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


def _to_stderr(message: str) -> None:
    # Straight to the file descriptor: safe inside a signal handler, never on stdout (--json).
    with contextlib.suppress(OSError):
        os.write(2, (message + "\n").encode())


class GracefulStop:
    """Turns SIGINT / SIGTERM into "stop the run, then settle production", never a bare exit.

    The first signal cancels the task running `guard(...)`; that raises `RunInterrupted`. Any
    later signal, while the run unwinds or while production is being settled, only says that
    stopping is under way: a rollback is never abandoned half-way by a second Ctrl-C.

    Args:
        write: Where the messages go (default: stderr).
        protect: Set when the work is itself the settling (`hotfix rollback`): signals then
            never cancel it; each only prints `protect` (what is under way, and to wait).
            `protect()` switches this on later, when the work starts such a change.
    """

    def __init__(
        self, write: Callable[[str], None] = _to_stderr, *, protect: str | None = None
    ) -> None:
        self._write = write
        self._protect = protect
        self.signum: int | None = None
        self.run_id: str | None = None
        self.workspace: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._pending: asyncio.Handle | None = None

    def protect(self, what: str) -> None:
        """From now on no signal cancels the work: it has begun a change a stop must not cut
        short (a rollback). A stop asked for a moment ago that has not reached the work yet
        is withdrawn, and says so."""
        if self._protect is not None:
            return
        self._protect = what
        if self._pending is not None and self.signum is not None:
            self._pending.cancel()  # no effect if the cancel already reached the task
            self._write(f"{signal.Signals(self.signum).name}: {what}")

    def on_record(self, record: dict[str, Any]) -> None:
        """Journal listener: remembers which run to settle, and makes sure it stops."""
        kind = record.get("type")
        if kind == "run_started":
            self.run_id = str(record["run_id"])
            self.workspace = Path(str(record["workspace"]))
        if self.signum is not None and self._protect is None and kind != "run_finished":
            # Unwinding writes nothing but `run_finished`: the run went on, so the cancel was
            # swallowed (Python 3.11's asyncio.wait_for can lose one that races a result).
            self._cancel()

    @contextlib.contextmanager
    def installed(self) -> Generator[GracefulStop]:
        """Catch the stop signals for the duration of the block (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self  # only the main thread may handle signals: leave them as they are
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._protect is not None:
            self._write(f"{name}: {self._protect}")
            return
        if self.signum is not None:
            self._write(
                f"{name}: already stopping — production is being settled, please wait "
                "(kill -9 would abandon it half-way; `hotfix rollback RUN` then finishes it)"
            )
            return
        self.signum = signum
        self._write(f"{name} received: stopping the run and settling production …")
        self._cancel()

    def _cancel(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            if self._pending is not None:
                self._pending.cancel()  # one pending cancel at most, so `protect` can stop it
            self._pending = loop.call_soon_threadsafe(task.cancel)

    async def guard(self, work: Awaitable[T]) -> T:
        """Await `work`, cancelled by the first stop signal (then `RunInterrupted`)."""
        if self.signum is not None:  # it came before the event loop ran
            if inspect.iscoroutine(work):
                work.close()
            raise RunInterrupted(self.signum)
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        try:
            return await work
        except asyncio.CancelledError:
            if self.signum is None:
                raise
            raise RunInterrupted(self.signum) from None
        finally:
            self._task = None

    async def settle(self, config: Callable[[Path], HotfixConfig]) -> dict[str, Any]:
        """Settle production for the interrupted run; a document saying what was done.

        Args:
            config: The run's configuration, given its workspace.
        """
        signum = self.signum or signal.SIGINT
        reason = f"{signal.Signals(signum).name} received"
        doc: dict[str, Any] = {"interrupted": signal.Signals(signum).name, "run_id": self.run_id,
                               "exit_code": 128 + signum}  # fmt: skip
        if self.run_id is None or self.workspace is None:
            doc["settled"] = "the run had not started; production was not changed"
            return doc
        run_dir = runs_root(self.workspace) / self.run_id
        try:
            doc["settled"] = await stop_run_safely(
                run_dir, self.workspace, config(self.workspace), reason
            )
        except Exception as exc:  # say so: production may need a hand
            doc["settled"] = (
                f"stopping safely failed ({type(exc).__name__}: {exc}); "
                f"check production and run `hotfix rollback {self.run_id}`"
            )
        doc["run_dir"] = str(run_dir)
        return doc
