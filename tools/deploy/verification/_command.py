"""Command smoke tests: run a shell command against a version; exit status 0 passes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import time
from pathlib import Path

from tools.deploy.verification._http import excerpt
from tools.deploy.verification.results import CheckResult, Probe
from tools.deploy.verification.settings import SmokeTestSettings


def _kill_group(process: asyncio.subprocess.Process) -> None:
    # The command runs in its own session: kill its children (curl, pytest...) too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _with_output(summary: str, output: str) -> str:
    return f"{summary}: {excerpt(output)}" if output else summary


async def run_command_test(base_url: str, test: SmokeTestSettings, cwd: Path) -> CheckResult:
    """Run `test.command` with `{url}` replaced by `base_url` (shell-quoted if needed).

    The URL is also exported as HOTFIX_URL. Output is captured; a failure message carries the
    exit status and an excerpt of stderr (or stdout).
    """
    assert test.command is not None
    command = test.command.replace("{url}", shlex.quote(base_url))
    env = {**os.environ, "HOTFIX_URL": base_url}
    started_at = time.time()
    started = time.perf_counter()
    try:
        process = await asyncio.create_subprocess_shell(
            command,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:  # e.g. the worktree it should run in is gone
        message = f"command could not start: {exc}"
        details = {"command": command, "cwd": str(cwd), "message": message, "failures": [message]}
        probe = Probe(started_at, None, 0.0, message)
        return CheckResult("smoke", test.name, False, started_at, time.time(), details, [probe])
    timed_out = False
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=test.timeout_s)
    except TimeoutError:
        timed_out = True
        _kill_group(process)
        stdout, stderr = await process.communicate()
    except asyncio.CancelledError:
        _kill_group(process)
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    out = stdout.decode(errors="replace")
    err = stderr.decode(errors="replace")
    output = err.strip() or out.strip()
    code = process.returncode
    if timed_out:
        message = _with_output(f"command timed out after {test.timeout_s:g}s", output)
    elif code != 0:
        message = _with_output(f"command exited {code}", output)
    else:
        message = f"command exited 0 in {latency_ms:.0f} ms"
    passed = not timed_out and code == 0
    details = {
        "command": command,
        "cwd": str(cwd),
        "exit_code": None if timed_out else code,
        "latency_ms": latency_ms,
        "message": message,
        "failures": [] if passed else [message],
        "stdout": excerpt(out, 2000),
        "stderr": excerpt(err, 2000),
    }
    probe = Probe(started_at, None, latency_ms, None if passed else message)
    return CheckResult("smoke", test.name, passed, started_at, time.time(), details, [probe])
