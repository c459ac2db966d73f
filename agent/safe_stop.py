"""Stopping a run safely: after an MCP cancel, a client going away, Ctrl-C or SIGTERM.

Production must be left on a verified version: a candidate that has traffic and was not
promoted is rolled back (when `auto_rollback` is on, the engine's own policy for failures),
a candidate that never had traffic is removed, a promoted one stays, a rollback that was cut
short is finished. The journal records why the run stopped and what was done, so the report
and `hotfix runs` say so.

`GracefulStop` is the command line's side: SIGINT / SIGTERM cancel the run at once, and the
caller then settles production from the journal in a fresh event loop, after every call the
cancelled run had in flight has returned (so none of them can land after the settling).
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
from typing import Any, Literal, TypeVar

from agent.config import HotfixConfig
from agent.journal import JOURNAL_NAME, Journal, Notice, RunFinished, read_journal, runs_root
from tools.base import ToolContext
from tools.deploy.engine import DeploymentEngine
from tools.deploy.steps import EngineState, step_label
from tools.deploy.strategies.base import status_of
from tools.deploy.target import Target

Level = Literal["info", "warning", "error"]
T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def rollback_unfinished(st: EngineState) -> bool:
    """A rollback started and part of it is left: traffic, its verification, or clean-up."""
    if st.rollback_phase is None:
        return False
    if st.rollback_phase != "finished" or st.rollback_verified is None:
        return True
    return bool(set(st.staged) - set(st.baseline or {}))  # a candidate not yet retired


def close_interrupted_steps(engine: DeploymentEngine, why: str) -> None:
    """Record an end for every step an interrupted process left open; none is run again.

    A deployment whose outcome is known (deployed, rolled back...) ends `finished` with it;
    any other step ends `failed`, with `why` in its reason.
    """
    st = engine.state
    kinds = {record["step_id"]: record["kind"] for record in st.records}
    for sid, details in list(st.in_flight.items()):
        kind, label = kinds[sid], str(details.get("label") or step_label(sid))
        status = status_of(st, label) if kind == "deploy" else "in_progress"
        if status != "in_progress":
            engine.steps.write(sid, kind, "finished", {"label": label, "status": status})
        else:
            engine.steps.write(sid, kind, "failed", {"label": label, "reason": f"{sid} {why}"})


async def settle_production(engine: DeploymentEngine, reason: str) -> tuple[Level, str]:
    """Leave production on a verified version after an interruption; (level, what was done).

    Steps the interruption cut short are recorded as ended (`close_interrupted_steps`).
    Never raises for a target failure: what could not be done is the answer, so the caller
    can journal it and tell the user how to finish by hand.
    """
    level, what = await _settle(engine, reason)
    if level != "error":  # after an error the open steps are what is left to finish
        close_interrupted_steps(engine, f"was interrupted ({reason}) and not resumed")
    return level, what


async def _settle(engine: DeploymentEngine, reason: str) -> tuple[Level, str]:
    st = engine.state
    run = engine.run_id or "RUN"
    if st.rollback_phase == "finished" and not rollback_unfinished(st):
        return "info", "production had already been rolled back in this run"
    unpromoted = sorted(label for label in st.exposed if label not in st.promoted)
    if st.rollback_phase is not None or st.needs_rollback() or unpromoted:
        if st.rollback_phase is None and not engine.settings.auto_rollback:
            return "error", (
                f"{', '.join(unpromoted) or 'the candidate'} may have production traffic and "
                f"auto_rollback is off: production needs `hotfix rollback {run}`"
            )
        try:
            await engine.rollback(st.rollback_reason or f"stopped safely: {reason}")
        except Exception as exc:
            return "error", (
                f"the rollback failed ({type(exc).__name__}: {exc}); "
                f"finish it with `hotfix rollback {run}`"
            )
        weights = ", ".join(f"{k} {v}%" for k, v in sorted(engine.state.weights.items()))
        if engine.state.rollback_verified:
            return "warning", f"rolled back to {st.previous}: traffic {weights}; health verified"
        return "error", f"rolled back to {st.previous} (traffic {weights}) but health NOT verified"
    # A stage cut short may have started the version anyway: retiring reconciles it.
    staging = {sid.removeprefix("stage:") for sid in st.in_flight if sid.startswith("stage:")}
    staged = sorted(label for label in set(st.staged) | staging if label not in st.exposed)
    if staged:
        for label in staged:
            await engine.retire_step(label, quietly=True)
        return "info", f"removed {', '.join(staged)}, which never had traffic; production unchanged"
    if st.promoted:
        return (
            "info",
            f"production runs {', '.join(sorted(st.promoted))}, promoted after verification",
        )
    return "info", "production was not changed"


async def stop_run_safely(
    run_dir: Path,
    workspace: Path,
    config: HotfixConfig,
    reason: str,
    *,
    target: Target | None = None,
) -> str:
    """Settle production for the interrupted run in `run_dir` from its journal alone.

    The run's own process state is gone (the loop was cancelled), so the deployment engine is
    rebuilt from the journal, appending to it. Returns what was done, in words.
    """
    from agent.session import build_redactor
    from tools.deploy.tools import open_deploy_session

    path = run_dir / JOURNAL_NAME
    changed = any(record.get("type") == "step" for record in read_journal(path))
    journal = Journal(path, build_redactor(config), run_dir.name)
    try:
        journal.write(Notice(level="warning", message=f"interrupted: {reason}; stopping safely"))
        if not changed:
            level: Level = "info"
            what = "no deployment step had started; production was not changed"
        else:
            if target is None:
                from tools.deploy.targets.factory import build_target

                target = build_target(config, workspace)
            ctx = ToolContext(
                workspace=workspace,
                config=config,
                redactor=build_redactor(config),
                journal=journal,
                run_id=journal.run_id,
            )
            session = open_deploy_session(ctx, target, resume=True)
            level, what = await settle_production(session.engine, reason)
        journal.write(Notice(level=level, message=f"stopped safely after an interruption: {what}"))
        journal.write(
            RunFinished(
                status="cancelled", stop_reason="cancelled", turns=0, tool_calls=0, summary=what
            )
        )
    finally:
        journal.close()
    return what


def session_config(
    workspace: Path,
    *,
    config_path: Path | None = None,
    target: str | None = None,
    strategy: str | None = None,
) -> HotfixConfig:
    """The configuration a run used: its config file plus `--target` / `--strategy`."""
    from agent.config import load_config
    from tools.deploy.settings import normalize_strategy

    config = load_config(workspace, config_path)
    if target:
        config.deploy.target = target
    if strategy:
        config.deploy.strategy.default = normalize_strategy(strategy)
    return config


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
    """

    def __init__(self, write: Callable[[str], None] = _to_stderr) -> None:
        self._write = write
        self.signum: int | None = None
        self.run_id: str | None = None
        self.workspace: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def on_record(self, record: dict[str, Any]) -> None:
        """Journal listener: remembers which run to settle, and makes sure it stops."""
        kind = record.get("type")
        if kind == "run_started":
            self.run_id = str(record["run_id"])
            self.workspace = Path(str(record["workspace"]))
        if self.signum is not None and kind != "run_finished":
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
            loop.call_soon_threadsafe(task.cancel)

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
