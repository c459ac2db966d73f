"""The local environment daemon: "production on a laptop".

Run as `python -m tools.deploy.targets.local.environment --state-dir DIR --port P --repo R`
(normally by `ensure_environment`, detached). It owns the router on the production port and
the version processes, answers the control API, and rewrites `DIR/state.json` after every
change. SIGTERM (or `POST /shutdown`) stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from tools.deploy.targets.local._control_api import ControlServer, RequestError
from tools.deploy.targets.local._oplog import OperationLog
from tools.deploy.targets.local.router import Router
from tools.deploy.targets.local.state import (
    ORIGINAL_PYTHONPATH,
    EnvironmentRecord,
    StatePaths,
    VersionRecord,
    new_token,
    write_state,
)
from tools.deploy.targets.local.supervisor import VersionProcess, render_command
from tools.deploy.targets.local.worktrees import check_label, ensure_worktree

log = logging.getLogger("hotfix.local")


class Environment:
    """Router + version processes + control API, driven through `ControlHandler` methods."""

    def __init__(
        self,
        paths: StatePaths,
        production_port: int,
        repo: Path,
        *,
        start_command: str,
        startup_timeout_s: float,
        drain_timeout_s: float,
        stop_timeout_s: float,
    ) -> None:
        self.paths = paths
        self.repo = repo
        self.start_command = start_command
        self.startup_timeout_s = startup_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.router = Router()
        self.weights: dict[str, int] = {}
        self.processes: dict[str, VersionProcess] = {}
        self.records: dict[str, VersionRecord] = {}
        self._production_port = production_port
        self._control_port = 0
        self._started_at = time.time()
        self._stop = asyncio.Event()
        self._stage_lock = asyncio.Lock()
        self._watchers: set[asyncio.Task[None]] = set()
        self.operations = OperationLog()

    async def run(self) -> int:
        """Serve until asked to stop; the process exit status."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        control = ControlServer(self, new_token(self.paths))
        try:
            self._control_port = await control.start()
            await self.router.start("127.0.0.1", self._production_port)
        except OSError as exc:
            log.error("cannot listen on 127.0.0.1:%s: %s", self._production_port, exc)
            await control.close()
            self.paths.token.unlink(missing_ok=True)
            return 2
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)
        self._save()
        log.info(
            "serving production on %s, control on port %s",
            self._production_port,
            self._control_port,
        )
        await self._stop.wait()
        log.info("shutting down")
        await self.router.close(drain_timeout_s=min(self.drain_timeout_s, 5.0))
        await asyncio.gather(*(p.stop(self.stop_timeout_s) for p in self.processes.values()))
        await control.close()
        for path in (self.paths.state, self.paths.token):
            path.unlink(missing_ok=True)
        log.info("stopped")
        return 0

    def request_shutdown(self) -> None:
        self._stop.set()

    def snapshot(self) -> dict[str, Any]:
        return self._record().model_dump(mode="json")

    async def stage(self, request: dict[str, Any]) -> dict[str, Any]:
        """Check out and start one version; answers once it accepts connections."""
        label = check_label(str(request.get("label") or ""))
        ref = str(request.get("ref") or "")
        if not ref:
            raise RequestError("ref is required", 400)
        extra_env = request.get("env") or {}
        if not isinstance(extra_env, dict):
            raise RequestError("env must be an object of strings", 400)
        command = str(request.get("command") or self.start_command)
        timeout_s = float(request.get("startup_timeout_s") or self.startup_timeout_s)
        async with self._stage_lock:
            tree = await asyncio.to_thread(
                ensure_worktree, self.repo, self.paths.worktrees, label, ref
            )
            existing = self.records.get(label)
            if existing is not None:
                if existing.commit == tree.commit and existing.status == "running":
                    self.operations.record("stage", label, changed=False)
                    return existing.model_dump(mode="json")
                if self.weights.get(label, 0) > 0:
                    raise RequestError(
                        f"version {label} runs {existing.commit[:12]} and gets traffic; "
                        "shift traffic away before staging another commit under its label"
                    )
                await self.retire(label)
            port = _free_port()
            argv = render_command(
                command, port=port, version=label, workdir=tree.path, python=sys.executable
            )
            env = self._child_env(label, port, {str(k): str(v) for k, v in extra_env.items()})
            log_path = self.paths.logs / f"{label}.log"
            proc = await VersionProcess.spawn(
                label, argv, cwd=tree.path, env=env, log=log_path, port=port
            )
            await proc.wait_ready(timeout_s)
            self.router.add_upstream(label, "127.0.0.1", port)
            record = VersionRecord(
                label=label, ref=ref, commit=tree.commit, port=port, pid=proc.pid, argv=argv,
                workdir=str(tree.path), log=str(log_path), started_at=proc.started_at,
            )  # fmt: skip
            self.records[label], self.processes[label] = record, proc
            watcher = asyncio.get_running_loop().create_task(self._watch(proc))
            self._watchers.add(watcher)  # the loop keeps only weak references to tasks
            watcher.add_done_callback(self._watchers.discard)
            self._save()
            self.operations.record("stage", label)
            log.info("staged %s (%s @ %s) on port %s", label, ref, tree.commit[:12], port)
            return record.model_dump(mode="json")

    async def set_weights(self, weights: dict[str, Any]) -> dict[str, Any]:
        """Validate and apply a traffic split atomically; the new state."""
        checked: dict[str, int] = {}
        for label, value in weights.items():
            if label not in self.records:
                raise RequestError(f"unknown version {label!r}", 404)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise RequestError(f"weight of {label} must be an integer 0..100", 400)
            if value > 0 and self.records[label].status != "running":
                raise RequestError(f"version {label} is not running; cannot send it traffic")
            checked[label] = value
        if sum(checked.values()) != 100:
            raise RequestError(f"weights must sum to 100, not {sum(checked.values())}", 400)
        try:
            self.router.set_weights(checked)
        except ValueError as exc:  # e.g. a version being retired right now
            raise RequestError(str(exc)) from exc
        changed = _nonzero(checked) != _nonzero(self.weights)
        self.weights = checked
        self._save()
        self.operations.record("weights", weights=dict(checked), changed=changed)
        log.info("weights now %s", checked)
        return self.snapshot()

    async def retire(self, label: str) -> dict[str, Any]:
        """Drain and stop a version without traffic weight."""
        if label not in self.records:
            raise RequestError(f"unknown version {label!r}", 404)
        if self.weights.get(label, 0) > 0:
            raise RequestError(f"version {label} still gets {self.weights[label]}% of traffic")
        drained = await self.router.remove_upstream(label, self.drain_timeout_s)
        proc = self.processes.pop(label)
        exit_code = await proc.stop(self.stop_timeout_s)
        self.records.pop(label, None)
        self.weights.pop(label, None)
        self._save()
        self.operations.record("retire", label)
        log.info("retired %s (drained: %s, exit code %s)", label, drained, exit_code)
        return {"label": label, "drained": drained, "exit_code": exit_code}

    def operations_since(self, seq: int) -> dict[str, Any]:
        """The changes this environment applied after operation `seq` (see `_oplog`)."""
        return self.operations.since(seq)

    def metrics(self, label: str, since: float) -> dict[str, Any]:
        window = self.router.metrics.window(label, since)
        return {
            "label": label,
            "requests": window.requests,
            "errors": window.errors,
            "connection_failures": window.connection_failures,
            "latencies_ms": window.latencies_ms,
        }

    async def _watch(self, proc: VersionProcess) -> None:
        code = await proc.wait()
        record = self.records.get(proc.label)
        if self._stop.is_set():
            return  # shutting down: the state file is about to go
        if self.processes.get(proc.label) is proc and record is not None:
            log.warning("version %s exited with code %s", proc.label, code)
            self.records[proc.label] = record.model_copy(
                update={"status": "exited", "exit_code": code}
            )
            self._save()

    def _child_env(self, label: str, port: int, extra: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        original = env.pop(ORIGINAL_PYTHONPATH, None)
        if original is not None:
            env.pop("PYTHONPATH", None)
            if original:
                env["PYTHONPATH"] = original
        env.update({"HOTFIX_FLAGS_FILE": str(self.paths.flags), "PYTHONUNBUFFERED": "1"})
        env.update(extra)
        env.update({"PORT": str(port), "HOTFIX_VERSION": label})
        return env

    def _record(self) -> EnvironmentRecord:
        return EnvironmentRecord(
            pid=os.getpid(),
            production_port=self._production_port,
            control_port=self._control_port,
            repo=str(self.repo),
            started_at=self._started_at,
            updated_at=time.time(),
            weights=dict(self.weights),
            versions=dict(self.records),
        )

    def _save(self) -> None:
        write_state(self.paths, self._record())


def _nonzero(weights: dict[str, int]) -> dict[str, int]:
    return {label: value for label, value in weights.items() if value}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the daemon process."""
    parser = argparse.ArgumentParser(description="hotfix local environment daemon")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True, help="production port")
    parser.add_argument("--repo", type=Path, required=True, help="git repository of versions")
    parser.add_argument("--start-command", default="{python} app.py --port {port}")
    parser.add_argument("--startup-timeout", type=float, default=20.0)
    parser.add_argument("--drain-timeout", type=float, default=10.0)
    parser.add_argument("--stop-timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    environment = Environment(
        StatePaths(args.state_dir.resolve()),
        args.port,
        args.repo.resolve(),
        start_command=args.start_command,
        startup_timeout_s=args.startup_timeout,
        drain_timeout_s=args.drain_timeout,
        stop_timeout_s=args.stop_timeout,
    )
    return asyncio.run(environment.run())


if __name__ == "__main__":
    raise SystemExit(main())
