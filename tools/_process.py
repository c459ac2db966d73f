"""Running a child process safely: time limit, whole-group kill, capped output, clean env.

Shared by `runInTerminal`, the `problems` tool and deploy hooks. The child runs in its own
session (process group), so a timeout stops everything it started, not just the shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.redaction import secret_env_names

# Settings that keep child processes from waiting for a human who is not there.
NON_INTERACTIVE_ENV: dict[str, str] = {
    "HOTFIX_AGENT": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "DEBIAN_FRONTEND": "noninteractive",
}

_POLL_S = 0.02
# After the main process exits, background children may still hold the output pipe open.
_DRAIN_S = 0.5
_READ_CHUNK = 65_536


@dataclass(frozen=True)
class ProcessResult:
    """Outcome of `run_process`.

    Attributes:
        exit_code: Exit status; negative means killed by that signal (asyncio's convention).
        output: Combined stdout and stderr, decoded, cut in the middle when over the limit.
        timed_out: The time limit was hit and the process group was killed.
        truncated: Part of the output was cut (the text says how much).
        duration_s: Wall-clock time from start to exit.
    """

    exit_code: int
    output: str
    timed_out: bool
    truncated: bool
    duration_s: float


def scrubbed_env(
    base: Mapping[str, str] | None = None,
    *,
    extra_secret_names: Iterable[str] = (),
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for a child process: secret-looking variables removed, non-interactive.

    Args:
        base: Starting environment; `os.environ` when omitted.
        extra_secret_names: More variable names to drop (e.g. `[secrets] env_names`).
        overrides: Variables to set last (they win over everything else).
    """
    env = dict(os.environ if base is None else base)
    for name in secret_env_names(env, extra_secret_names):
        del env[name]
    env.update(NON_INTERACTIVE_ENV)
    if overrides:
        env.update(overrides)
    return env


class _Capture:
    """Keeps the first and last bytes of a stream and counts what lies between."""

    def __init__(self, limit: int) -> None:
        # The end of a log (the error, the summary) matters more than its start.
        self._head_limit = max(limit * 2 // 5, 1)
        self._tail_limit = max(limit - self._head_limit, 1)
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > 2 * self._tail_limit:
                del self._tail[: -self._tail_limit]

    def text(self) -> tuple[str, bool]:
        """Return the decoded output and whether anything was cut."""
        tail = bytes(self._tail[-self._tail_limit :])
        cut = self.total - len(self._head) - len(tail)
        head = self._head.decode(errors="replace")
        if cut <= 0:
            return head + self._tail.decode(errors="replace"), False
        notice = (
            f"\n[... output cut: {cut:,} of {self.total:,} bytes omitted from the middle; "
            f"showing the first {len(self._head):,} and the last {len(tail):,} ...]\n"
        )
        return head + notice + tail.decode(errors="replace"), True


async def run_process(
    argv: list[str],
    *,
    cwd: Path,
    timeout_s: float,
    env: dict[str, str] | None,
    output_limit: int,
    stdin_devnull: bool = True,
    kill_grace_s: float = 2.0,
) -> ProcessResult:
    """Run `argv` to completion, in its own process group, and capture its output.

    On timeout the whole group gets SIGTERM, then SIGKILL after `kill_grace_s`. When the main
    process ends, whatever it left running in its group (background jobs) is killed too.

    Args:
        argv: Program and arguments (no shell unless you pass one, e.g. `["bash", "-c", s]`).
        cwd: Working directory.
        timeout_s: Wall-clock limit.
        env: Full environment for the child (see `scrubbed_env`); None inherits ours.
        output_limit: Most bytes of combined stdout/stderr to keep (head and tail).
        stdin_devnull: Give the child /dev/null as stdin (nobody is there to type).
        kill_grace_s: Time between SIGTERM and SIGKILL on timeout.

    Raises:
        OSError: The program could not be started (not found, not executable, bad cwd).
    """
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL if stdin_devnull else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    capture = _Capture(output_limit)
    assert proc.stdout is not None
    pump = asyncio.create_task(_pump(proc.stdout, capture))
    timed_out = False
    try:
        if not await _wait_exit(proc, timeout_s):
            timed_out = True
            await _terminate_group(proc, kill_grace_s)
        duration = time.monotonic() - started
        await asyncio.wait({pump}, timeout=_DRAIN_S)
    finally:
        # Also on cancellation: nothing the command started may outlive the call.
        _signal_group(proc.pid, signal.SIGKILL)
        await _finish(proc, pump)
    output, truncated = capture.text()
    exit_code = proc.returncode if proc.returncode is not None else -signal.SIGKILL
    return ProcessResult(exit_code, output, timed_out, truncated, duration)


async def _pump(stream: asyncio.StreamReader, capture: _Capture) -> None:
    while chunk := await stream.read(_READ_CHUNK):
        capture.feed(chunk)


async def _wait_exit(proc: asyncio.subprocess.Process, timeout_s: float) -> bool:
    # Polls `returncode`: `proc.wait()` also waits for the pipes to close, which a background
    # child holding stdout would delay until the timeout.
    return await _poll(lambda: proc.returncode is not None, timeout_s)


async def _terminate_group(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    _signal_group(proc.pid, signal.SIGTERM)
    await _poll(lambda: not _group_alive(proc.pid), grace_s)
    _signal_group(proc.pid, signal.SIGKILL)
    await _wait_exit(proc, 5.0)


async def _poll(done: Callable[[], bool], timeout_s: float) -> bool:
    """Wait until `done()` holds (False on timeout); there is no event for these conditions."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_S)
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """True while a process of the group is still running (zombies do not count)."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    # Exited children wait as zombies until init reaps them, which can take seconds in a
    # container; `killpg(pgid, 0)` would count them.
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


async def _finish(proc: asyncio.subprocess.Process, pump: asyncio.Task[None]) -> None:
    await asyncio.wait({pump}, timeout=1.0)
    if not pump.done():
        # A process outside our group (e.g. started with setsid) still holds the pipe.
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    await _wait_exit(proc, 5.0)
    # Releases the pipe if a process outside the group still holds it (no public API).
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()
