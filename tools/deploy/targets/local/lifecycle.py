"""Start, find and stop the local environment daemon (what `hotfix local ...` calls).

The daemon is started detached, in its own session with output to `environment.log`, so it
outlives the command that started it; a later process finds it through `state.json`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import tools
from tools.deploy.target import TargetError
from tools.deploy.targets.local.control import ControlClient, EnvironmentUnavailable
from tools.deploy.targets.local.state import (
    ORIGINAL_PYTHONPATH,
    EnvironmentRecord,
    StatePaths,
    read_state,
)
from tools.deploy.targets.local.supervisor import tail

_DAEMON_MODULE = "tools.deploy.targets.local.environment"


def environment_status(state_dir: Path) -> dict[str, Any] | None:
    """The live state of the environment in `state_dir`, or None if none answers."""
    try:
        return ControlClient(state_dir, timeout_s=3.0).state()
    except EnvironmentUnavailable:
        return None


def ensure_environment(
    state_dir: Path,
    production_port: int,
    *,
    repo: Path,
    start_command: str = "{python} app.py --port {port}",
    startup_timeout_s: float = 20.0,
    drain_timeout_s: float = 10.0,
    stop_timeout_s: float = 5.0,
    timeout_s: float = 20.0,
) -> dict[str, Any]:
    """Return the state of the environment in `state_dir`, starting its daemon if needed.

    Raises:
        TargetError: A running environment serves another port, or the daemon did not come
            up within `timeout_s` (the message has the end of its log).
    """
    paths = StatePaths(state_dir.resolve())
    paths.root.mkdir(parents=True, exist_ok=True)
    with _locked(paths.lock):
        status = environment_status(paths.root)
        if status is not None:
            if status["production_port"] != production_port:
                raise TargetError(
                    f"the environment in {paths.root} serves port {status['production_port']}, "
                    f"not {production_port}; stop it first (hotfix local down)"
                )
            return status
        _clean_up_dead(paths, read_state(paths))
        argv = [
            sys.executable, "-m", _DAEMON_MODULE, "--state-dir", str(paths.root),
            "--port", str(production_port), "--repo", str(repo.resolve()),
            "--start-command", start_command, "--startup-timeout", str(startup_timeout_s),
            "--drain-timeout", str(drain_timeout_s), "--stop-timeout", str(stop_timeout_s),
        ]  # fmt: skip
        with paths.log.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=paths.root,
                env=_daemon_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # not in our process group: our Ctrl-C is not its
            )
        return _wait_started(paths, proc, timeout_s)


def shutdown_environment(state_dir: Path, timeout_s: float = 15.0) -> dict[str, Any]:
    """Stop the environment in `state_dir`: its versions, router and daemon.

    Afterwards no process it started runs and none of its ports listens. Works also when
    the daemon is gone or hung (its leftovers are killed).
    """
    paths = StatePaths(state_dir.resolve())
    record = read_state(paths)
    if record is None:
        return {"stopped": False, "reason": "no environment state found"}
    forced = False
    with contextlib.suppress(TargetError):
        ControlClient(paths.root, timeout_s=5.0).shutdown()
    if not _wait_gone(record.pid, timeout_s) and _is_daemon(record.pid, paths):
        forced = True
        _signal(record.pid, signal.SIGTERM)
        if not _wait_gone(record.pid, 3.0):
            _signal(record.pid, signal.SIGKILL)
            _wait_gone(record.pid, 3.0)
    leftovers = _clean_up_dead(paths, record)
    return {"stopped": True, "pid": record.pid, "forced": forced, "killed_versions": leftovers}


def _daemon_env() -> dict[str, str]:
    """Our environment for the daemon, with `tools` importable.

    The agent's model credentials stay behind: the versions inherit the daemon's environment.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    root = str(Path(next(iter(tools.__path__))).resolve().parent)
    original = env.get("PYTHONPATH", "")
    env[ORIGINAL_PYTHONPATH] = original
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, original) if p)
    return env


def _wait_started(
    paths: StatePaths, proc: subprocess.Popen[bytes], timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise TargetError(
                f"the local environment exited with code {code} while starting; "
                f"last lines of {paths.log}:\n{tail(paths.log)}"
            )
        record = read_state(paths)
        if record is not None and record.pid == proc.pid:
            status = environment_status(paths.root)
            if status is not None:
                return status
        time.sleep(0.05)
    _signal(proc.pid, signal.SIGKILL)
    proc.wait()
    raise TargetError(
        f"the local environment did not start within {timeout_s:g} s; "
        f"last lines of {paths.log}:\n{tail(paths.log)}"
    )


def _clean_up_dead(paths: StatePaths, record: EnvironmentRecord | None) -> list[str]:
    """Kill version processes a dead daemon left, and remove its stale files."""
    killed: list[str] = []
    for version in record.versions.values() if record else []:
        if _cmdline(version.pid) == version.argv:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(version.pid, signal.SIGKILL)
            _wait_gone(version.pid, 3.0)
            killed.append(version.label)
    for path in (paths.state, paths.token):
        path.unlink(missing_ok=True)
    return killed


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not; our own zombie children are reaped)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def _is_daemon(pid: int, paths: StatePaths) -> bool:
    argv = _cmdline(pid) or []
    return _DAEMON_MODULE in argv and str(paths.root) in argv


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


@contextlib.contextmanager
def _locked(path: Path) -> Generator[None, None, None]:
    """Serialise starting the daemon between processes sharing a state directory."""
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
