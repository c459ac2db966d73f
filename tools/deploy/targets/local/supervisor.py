"""Version processes: started from a command template, watched, stopped with their group.

Each version runs in its own session (so its whole process group can be signalled) with its
output appended to a log file. On Linux the child also asks the kernel for SIGTERM when the
environment daemon dies (`PR_SET_PDEATHSIG`), so a SIGKILLed daemon leaves no orphans.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tools.deploy.target import TargetError

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def render_command(
    template: str, *, port: int, version: str, workdir: Path, python: str
) -> list[str]:
    """Split `template` into arguments and fill in the placeholders of each.

    Raises:
        TargetError: The template is empty, unbalanced, or uses an unknown placeholder.
    """
    try:
        parts = shlex.split(template)
    except ValueError as exc:
        raise TargetError(f"start_command {template!r}: {exc}") from exc
    if not parts:
        raise TargetError("start_command is empty")
    values = {"port": str(port), "version": version, "workdir": str(workdir), "python": python}
    try:
        return [part.format_map(values) for part in parts]
    except (KeyError, ValueError, IndexError) as exc:
        raise TargetError(
            f"start_command {template!r}: bad placeholder {exc}; use {{port}}, {{version}}, "
            "{workdir} or {python} (write {{ and }} for literal braces)"
        ) from exc


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    def setup() -> None:  # runs in the child between fork and exec: keep it minimal
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os._exit(1)

    return setup


def tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file ('' if it cannot be read)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16_384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class VersionProcess:
    """A running (or finished) version process."""

    def __init__(
        self, label: str, argv: list[str], proc: asyncio.subprocess.Process, log: Path, port: int
    ) -> None:
        self.label = label
        self.argv = argv
        self.log = log
        self.port = port
        self.started_at = time.time()
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @classmethod
    async def spawn(
        cls, label: str, argv: list[str], *, cwd: Path, env: Mapping[str, str], log: Path, port: int
    ) -> VersionProcess:
        """Start `argv` in `cwd`, output appended to `log`."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            out.write(
                f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start {shlex.join(argv)}\n".encode()
            )
            out.flush()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=cwd,
                    env=dict(env),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(os.getpid()),
                )
            except OSError as exc:
                raise TargetError(f"version {label}: cannot start {argv[0]!r}: {exc}") from exc
        return cls(label, argv, proc, log, port)

    async def wait(self) -> int:
        return await self._proc.wait()

    async def wait_ready(self, timeout_s: float) -> None:
        """Wait until the version accepts connections on its port.

        Raises:
            TargetError: It exited first, or did not listen within `timeout_s` (then it is
                stopped); the message carries the end of its log.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            if self.returncode is not None:
                raise TargetError(self._failure(f"exited with code {self.returncode}"))
            with contextlib.suppress(OSError):
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port), 1.0
                )
                writer.close()
                await asyncio.sleep(0.02)  # a process that listens and then dies is not ready
                if self.returncode is None:
                    return
                continue
            if time.monotonic() >= deadline:
                await self.stop(1.0)
                raise TargetError(
                    self._failure(f"did not listen on port {self.port} in {timeout_s:g} s")
                )
            await asyncio.sleep(0.05)

    def _failure(self, what: str) -> str:
        lines = tail(self.log)
        where = f"\n--- last lines of {self.log} ---\n{lines}" if lines else f" (log: {self.log})"
        return f"version {self.label} {what}: {shlex.join(self.argv)}{where}"

    async def stop(self, grace_s: float) -> int | None:
        """SIGTERM the process group, SIGKILL it after `grace_s`; the exit code."""
        self._signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._proc.wait(), grace_s)
        except TimeoutError:
            self._signal_group(signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 5.0)
        self._signal_group(signal.SIGKILL)  # stragglers the leader left behind
        return self.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)
