"""`runInTerminal` and the shared `run_process` helper, with real bash processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from agent.config import HotfixConfig, SecretsConfig, TerminalConfig
from agent.redaction import Redactor
from tools._process import run_process
from tools.base import ToolContext, ToolResult
from tools.terminal import RunInTerminalArgs, RunInTerminalTool


def _ctx(
    tmp_path: Path,
    redactor: Redactor | None = None,
    secret_names: list[str] | None = None,
    **terminal: Any,
) -> ToolContext:
    config = HotfixConfig(
        terminal=TerminalConfig(**terminal),
        secrets=SecretsConfig(env_names=secret_names or []),
    )
    return ToolContext(workspace=tmp_path, config=config, redactor=redactor or Redactor())


def _run(command: str, ctx: ToolContext, timeout_s: float | None = None) -> ToolResult:
    args = RunInTerminalArgs(command=command, timeout_s=timeout_s)
    return asyncio.run(RunInTerminalTool().run(args, ctx))


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has already exited


def _all_gone(pids: list[int], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


def test_exit_code_and_combined_output_are_returned(tmp_path: Path) -> None:
    result = _run("echo to-stdout; echo to-stderr >&2; exit 3", _ctx(tmp_path))
    assert result.text.startswith("exit code 3 (")
    assert "to-stdout" in result.text and "to-stderr" in result.text
    assert not result.is_error
    assert result.data is not None
    assert result.data["exit_code"] == 3
    assert result.data["timed_out"] is False


def test_command_runs_in_the_workspace_with_empty_stdin(tmp_path: Path) -> None:
    result = _run("pwd; cat; echo stdin-done", _ctx(tmp_path))
    lines = result.text.splitlines()
    assert lines[1:] == [str(tmp_path), "stdin-done"]


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    command = "sleep 30 & echo $! > pids; sleep 30 & echo $! >> pids; echo $$ >> pids; wait"
    started = time.monotonic()
    result = _run(command, _ctx(tmp_path, timeout_s=60), timeout_s=0.5)
    assert time.monotonic() - started < 5
    assert result.is_error
    assert result.data is not None and result.data["timed_out"] is True
    assert result.text.startswith("timed out after 0.5 s")
    pids = _pids(tmp_path / "pids")
    assert len(pids) == 3
    assert _all_gone(pids, within_s=2)


def test_requested_timeout_is_capped_by_the_configured_one(tmp_path: Path) -> None:
    result = _run("sleep 10", _ctx(tmp_path, timeout_s=0.3), timeout_s=100)
    assert result.data is not None and result.data["timed_out"] is True
    assert result.data["duration_s"] < 3


def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    command = "trap '' TERM; sleep 30 & echo $! > pids; wait"
    result = asyncio.run(
        run_process(
            ["bash", "-c", command],
            cwd=tmp_path,
            timeout_s=0.3,
            env=None,
            output_limit=1000,
            kill_grace_s=0.3,
        )
    )
    assert result.timed_out
    assert result.exit_code == -9
    assert _all_gone(_pids(tmp_path / "pids"), within_s=2)


def test_background_jobs_are_stopped_when_the_command_ends(tmp_path: Path) -> None:
    # The background sleep keeps the output pipe open; the call must not wait for it.
    result = _run("sleep 30 & echo $! > pid; echo started", _ctx(tmp_path, timeout_s=20))
    assert result.text.startswith("exit code 0 (")
    assert "started" in result.text
    assert result.data is not None and result.data["duration_s"] < 3
    assert _all_gone(_pids(tmp_path / "pid"), within_s=2)


def test_long_output_keeps_head_and_tail_with_a_notice(tmp_path: Path) -> None:
    result = _run("seq 1 100000", _ctx(tmp_path, output_chars=1000))
    lines = result.text.splitlines()
    assert lines[1] == "1"
    assert lines[-1] == "100000"
    assert "[... output cut:" in result.text
    assert len(result.text) < 1300
    assert result.data is not None and result.data["truncated"] is True


def test_secret_environment_variables_are_not_passed_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_API_TOKEN", "canary-token-5f1c2")
    monkeypatch.setenv("PLAIN_LOOKING", "canary-plain-77a0")
    monkeypatch.setenv("HARMLESS_SETTING", "visible-value")
    result = _run("env", _ctx(tmp_path, secret_names=["PLAIN_LOOKING"]))
    assert "canary-token-5f1c2" not in result.text
    assert "MY_API_TOKEN" not in result.text
    assert "canary-plain-77a0" not in result.text
    assert "HARMLESS_SETTING=visible-value" in result.text
    assert "HOTFIX_AGENT=1" in result.text
    assert "GIT_TERMINAL_PROMPT=0" in result.text
    assert "PAGER=cat" in result.text


def test_known_secret_printed_by_the_command_is_redacted(tmp_path: Path) -> None:
    (tmp_path / "settings.ini").write_text("db_password = hunter2-canary-91\n")
    ctx = _ctx(tmp_path, Redactor(["hunter2-canary-91"]))
    result = _run("cat settings.ini", ctx)
    assert "hunter2-canary-91" not in result.text
    assert "db_password = [REDACTED]" in result.text


def test_cancelled_run_leaves_no_process_behind(tmp_path: Path) -> None:
    async def cancel_early() -> None:
        call = run_process(
            ["bash", "-c", "sleep 30 & echo $! > pids; wait"],
            cwd=tmp_path,
            timeout_s=60,
            env=None,
            output_limit=1000,
        )
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(call, timeout=0.5)

    asyncio.run(cancel_early())
    assert _all_gone(_pids(tmp_path / "pids"), within_s=2)
