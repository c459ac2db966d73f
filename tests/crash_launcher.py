"""Test-only launcher: run the `hotfix` console entry and SIGKILL it at a chosen journal point.

The product has no test hooks: this launcher wraps `agent.journal.Journal.write` so that the
process kills itself with SIGKILL right after its N-th record is fsync'd (or, with `torn`,
half-way through writing the N-th line), then calls `agent.mcp_server.entry:main` — the
function the `hotfix` console script calls — with the command-line arguments.

Two modes:
    python tests/crash_launcher.py [--kill-after N | --kill-at-step ID:PHASE] [--torn] -- ARGS
        one command, exactly like `hotfix ARGS...`.
    python tests/crash_launcher.py --serve
        a fork server for the crash matrix: the CLI's imports cost about a second of CPU per
        process, so they are paid once here and every command is a forked child. Each line
        on stdin is a JSON request {"argv", "kill_after" | "kill_at_step", "torn", "stdout",
        "stderr", "cwd"}; the answer is one JSON line {"pid", "exit_code", "signal",
        "cpu_s"} once the child has ended. `ForkServer` is its client.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
# What the children would otherwise import each time (the CLI, recovery, lazy engine parts).
_PRELOAD = (
    "agent.cli", "agent.recovery", "agent.session", "handoffs.report",
    "tools.deploy.targets.local", "tools.deploy.verification.analysis",
    "tools.deploy.verification.load",
)  # fmt: skip


def install_kill_point(
    after: int | None = None, *, torn: bool = False, at_step: str | None = None
) -> None:
    """SIGKILL this process right after its `after`-th journal record is durably written.

    With `at_step` ("STEP_ID_PREFIX:PHASE", e.g. "shift:v1.4.3:started"), the point is the
    first step record whose id starts with the prefix and whose phase matches instead. With
    `torn`, that record is cut: half of its line is written and fsync'd, then the process
    dies, as a crash in the middle of `write` would leave it.
    """
    from agent import journal as journal_module

    original = journal_module.Journal.write
    prefix, _, phase = (at_step or "").rpartition(":")
    written = 0

    def reached(event: journal_module.Event) -> bool:
        if at_step is None:
            return written == after
        return (
            isinstance(event, journal_module.StepEvent)
            and event.step_id.startswith(prefix)
            and event.phase == phase
        )

    def write(self: journal_module.Journal, event: journal_module.Event) -> dict[str, Any]:
        nonlocal written
        written += 1
        if torn and reached(event):
            _write_torn(self, event)
            _die()
        record = original(self, event)
        if reached(event):
            _die()
        return record

    journal_module.Journal.write = write  # type: ignore[method-assign]


def _write_torn(journal: Any, event: Any) -> None:
    # Mirrors Journal.write's framing, minus the second half of the line and its newline.
    body = json.dumps({"v": 1, "seq": journal._seq + 1, "ts": time.time(),
                       **event.model_dump(mode="json")}, separators=(",", ":"))  # fmt: skip
    fd: int = journal._fd
    os.write(fd, body[: len(body) // 2].encode())
    os.fsync(fd)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
    while True:  # SIGKILL is not instantaneous for a multi-threaded process: run nothing more
        time.sleep(1)


def run_entry(argv: list[str]) -> int:
    """Call the console entry with `argv`; its exit status."""
    from agent.mcp_server.entry import main

    sys.argv = ["hotfix", *argv]
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def serve() -> None:
    """The fork server: pay the imports once, fork a child per request on stdin."""
    for module in _PRELOAD:
        importlib.import_module(module)
    from tools.registry import default_registry

    default_registry()  # imports every built-in tool module
    _share_ssl_context()
    import httpx2

    httpx2.Client(trust_env=False).close()  # its transport imports lazily: pay for it here
    _warm_reports()
    for line in sys.stdin:
        if not line.strip():
            continue
        request: dict[str, Any] = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status, usage = os.wait4(pid, 0)
        answer = {
            "pid": pid,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def _share_ssl_context() -> None:
    # CPU only, test-only: every httpx2 client the checks open loads the CA bundle again
    # (about 0.1 s here, seven times per deployment), although the checks only speak plain
    # HTTP to loopback. One context, built once, verifies exactly the same way.
    import httpcore2

    httpcore2.default_ssl_context = functools.cache(httpcore2.default_ssl_context)


def _warm_reports() -> None:
    # The report's jinja2 templates are compiled once per process and cached: compile them
    # here, on a throw-away run, so that no child pays for it.
    from agent.journal import Journal, RunFinished, RunStarted
    from agent.redaction import Redactor
    from handoffs.report import write_outputs

    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal.create(Path(tmp), Redactor(), "warm-up")
        journal.write(RunStarted(run_id="warm-up", description="warm-up", agent="a", model="m",
                                 workspace=tmp))  # fmt: skip
        journal.write(RunFinished(status="completed", stop_reason="done", turns=0, tool_calls=0))
        journal.close()
        with contextlib.suppress(Exception):
            write_outputs(journal.run_dir)


def _child(request: dict[str, Any]) -> None:
    code = 70
    try:
        for fd, key in ((1, "stdout"), (2, "stderr")):
            target = os.open(request[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        if request.get("cwd"):
            os.chdir(request["cwd"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if request.get("kill_after") or request.get("kill_at_step"):
            install_kill_point(
                request.get("kill_after"),
                torn=bool(request.get("torn")),
                at_step=request.get("kill_at_step"),
            )
        code = run_entry([str(arg) for arg in request["argv"]])
    except BaseException as exc:  # the child must never return into the server's loop
        sys.stderr.write(f"crash_launcher child: {type(exc).__name__}: {exc}\n")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


@dataclass(frozen=True)
class Finished:
    """How one forked command ended, with what it printed."""

    exit_code: int | None
    signal: int | None
    stdout: str
    stderr: str
    cpu_s: float = 0.0

    @property
    def killed(self) -> bool:
        return self.signal == signal.SIGKILL


class ForkServer:
    """Client of `crash_launcher.py --serve`: one command at a time, each in a fresh child.

    Args:
        scratch: Where the children's stdout/stderr files go.
        env: The server's (and so every child's) environment.
    """

    def __init__(self, scratch: Path, env: dict[str, str] | None = None) -> None:
        self._scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            cwd=str(_ROOT),
        )  # fmt: skip

    def run(
        self,
        argv: list[str],
        *,
        kill_after: int | None = None,
        torn: bool = False,
        kill_at_step: str | None = None,
    ) -> Finished:
        """`hotfix ARGV` in a forked child, optionally killed at a journal point."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._count += 1
        out = self._scratch / f"{self._count}.out"
        err = self._scratch / f"{self._count}.err"
        request = {"argv": argv, "kill_after": kill_after, "torn": torn,
                   "kill_at_step": kill_at_step,
                   "stdout": str(out), "stderr": str(err)}  # fmt: skip
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the crash launcher's fork server died")
        answer = json.loads(line)
        return Finished(
            answer["exit_code"], answer["signal"], out.read_text(), err.read_text(), answer["cpu_s"]
        )

    def close(self) -> None:
        """Stop the server (it exits when its stdin closes)."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def main() -> None:
    """Command-line entry of the launcher."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kill-after", type=int, default=None)
    parser.add_argument("--kill-at-step", default=None, help="STEP_ID_PREFIX:PHASE")
    parser.add_argument("--torn", action="store_true")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    if options.serve:
        serve()
        return
    args: list[str] = options.args[1:] if options.args[:1] == ["--"] else options.args
    if options.kill_after or options.kill_at_step:
        install_kill_point(options.kill_after, torn=options.torn, at_step=options.kill_at_step)
    raise SystemExit(run_entry(args))


if __name__ == "__main__":
    sys.path.insert(0, str(_ROOT))
    main()
