"""`LocalTarget`: the `Target` protocol over the local environment daemon.

Every call goes through the daemon's control API, so the target object holds no state of its
own: a `LocalTarget` built in another process (`hotfix rollback RUN`) drives the same
environment. The daemon is started on first use and keeps running after this process ends.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tools.deploy.target import StagedVersion, TargetError, TargetState, VersionMetrics, VersionSpec
from tools.deploy.targets.local.control import ControlClient
from tools.deploy.targets.local.lifecycle import ensure_environment, shutdown_environment
from tools.deploy.targets.local.settings import LocalTargetConfig
from tools.deploy.targets.local.state import StatePaths, write_atomic
from tools.deploy.targets.local.worktrees import check_label, repo_root


class LocalTarget:
    """Versions as local processes in git worktrees, behind a router on the production port.

    Args:
        config: The `[deploy.local]` settings.
        workspace: The service's repository (or a directory inside it); relative state
            directories are resolved against it.
    """

    name = "local"

    def __init__(self, config: LocalTargetConfig | None = None, *, workspace: Path) -> None:
        self.config = config or LocalTargetConfig()
        self.workspace = workspace.resolve()
        self.state_dir = self.config.state_path(self.workspace)
        self._client = ControlClient(self.state_dir, timeout_s=15.0)
        self._ready = False

    @property
    def production_url(self) -> str:
        return f"http://127.0.0.1:{self.config.production_port}"

    async def ensure(self) -> dict[str, Any]:
        """Start the environment daemon unless it already runs; its state."""
        status = await asyncio.to_thread(self._ensure)
        self._ready = True
        return status

    def _ensure(self) -> dict[str, Any]:
        cfg = self.config
        return ensure_environment(
            self.state_dir,
            cfg.production_port,
            repo=repo_root(self.workspace),
            start_command=cfg.start_command,
            startup_timeout_s=cfg.startup_timeout_s,
            drain_timeout_s=cfg.drain_timeout_s,
            stop_timeout_s=cfg.stop_timeout_s,
        )

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if not self._ready:
            await self.ensure()
        return await asyncio.to_thread(getattr(self._client, method), *args, **kwargs)

    async def state(self) -> TargetState:
        """Versions running and the current traffic weights."""
        return _target_state(await self._call("state"), self.state_dir)

    async def stage(self, version: VersionSpec) -> StagedVersion:
        """Check `version.ref` out into its worktree and start it beside production.

        `version.artifact` is not used: the local target runs the checked-out source.

        Raises:
            TargetError: The ref is unknown, or the process exited or did not listen in
                time (the message has the end of its log).
        """
        check_label(version.label)
        record = await self._call(
            "stage",
            version.label,
            version.ref,
            env={**self.config.env, **version.env},  # in the request: argv is world-readable
            command=self.config.start_command,
            startup_timeout_s=self.config.startup_timeout_s,
        )
        return _staged(record)

    async def set_weights(self, weights: dict[str, int]) -> TargetState:
        """Route production traffic by percent (integers 0..100 summing to 100), atomically."""
        # Callers may pass anything (JSON, a model's arguments), whatever the annotation says.
        for label, value in dict[str, object](weights).items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise TargetError(f"weight of {label} must be an integer 0..100, not {value!r}")
        if sum(weights.values()) != 100:
            raise TargetError(f"weights must sum to 100, not {sum(weights.values())}: {weights}")
        return _target_state(await self._call("set_weights", dict(weights)), self.state_dir)

    async def retire(self, label: str) -> None:
        """Stop a version without traffic once its in-flight requests have finished."""
        timeout = self.config.drain_timeout_s + self.config.stop_timeout_s + 30.0
        await self._call("retire", label, timeout_s=timeout)

    async def metrics(self, label: str, since: float) -> VersionMetrics:
        """Requests, errors and latencies the router saw for `label` since `since`."""
        data = await self._call("metrics", label, since)
        return VersionMetrics(
            label=label,
            requests=int(data["requests"]),
            errors=int(data["errors"]),
            latencies_ms=[float(v) for v in data["latencies_ms"]],
        )

    async def get_flag(self, name: str) -> bool | None:
        """A feature flag's value in the environment's flags file; None when unset."""
        flags = await asyncio.to_thread(_read_flags, StatePaths(self.state_dir).flags)
        value = flags.get(name)
        return value if isinstance(value, bool) else None

    async def set_flag(self, name: str, value: bool) -> bool | None:
        """Set a feature flag in the environment's flags file; the previous value.

        Every version reads this file (`HOTFIX_FLAGS_FILE`) on each request.
        """
        path = StatePaths(self.state_dir).flags
        return await asyncio.to_thread(_write_flag, path, name, value)

    async def shutdown(self, timeout_s: float = 15.0) -> dict[str, Any]:
        """Stop the whole environment (versions, router, daemon)."""
        self._ready = False
        return await asyncio.to_thread(shutdown_environment, self.state_dir, timeout_s)


def _read_flags(path: Path) -> dict[str, Any]:
    try:
        flags = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return flags if isinstance(flags, dict) else {}


def _write_flag(path: Path, name: str, value: bool) -> bool | None:
    flags = _read_flags(path)
    previous = flags.get(name)
    flags[name] = value
    write_atomic(path, json.dumps(flags, indent=2, sort_keys=True) + "\n")
    return previous if isinstance(previous, bool) else None


def _staged(record: dict[str, Any]) -> StagedVersion:
    details = {
        key: record.get(key)
        for key in ("ref", "commit", "pid", "port", "workdir", "log", "status", "exit_code")
    }
    return StagedVersion(record["label"], f"http://127.0.0.1:{record['port']}", details)


def _target_state(data: dict[str, Any], state_dir: Path) -> TargetState:
    production_url = f"http://127.0.0.1:{data['production_port']}"
    versions = {label: _staged(rec) for label, rec in data["versions"].items()}
    return TargetState(
        production_url=production_url,
        weights={k: int(v) for k, v in data["weights"].items()},
        versions=versions,
        details={
            "state_dir": str(state_dir),
            "daemon_pid": data["pid"],
            "control_port": data["control_port"],
            "repo": data["repo"],
            "stats_url": production_url + "/_hotfix/stats",
            "exited": sorted(k for k, v in versions.items() if v.details["status"] != "running"),
        },
    )
