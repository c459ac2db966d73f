"""Feature flag: no deploy at all — switch a flag, verify production, switch back on failure.

The code is already in production behind a flag; the "hotfix" is turning the flag on, or
off as a kill switch (`[deploy.strategy.feature_flag] value = false`). Flags live in the
target when it manages them (`get_flag`/`set_flag`), else in a JSON file the service reads
(`{"new-checkout": true}`), written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tools.base import ToolError
from tools.deploy.steps import Details, EngineRefusal
from tools.deploy.strategies.base import DeploymentOutcome, PlanContext, passed
from tools.deploy.target import TargetError

if TYPE_CHECKING:
    from tools.deploy.engine import DeploymentEngine
    from tools.deploy.settings import StrategySettings
    from tools.deploy.target import Target, VersionSpec


class FlagStore(Protocol):
    """Reads and writes boolean feature flags."""

    async def get(self, name: str) -> bool | None:
        """The flag's value; None when unset or when the store cannot read it."""
        ...

    async def set(self, name: str, value: bool) -> bool | None:
        """Set the flag; its previous value (None when it was unset or is unknown)."""
        ...


@runtime_checkable
class FlagTarget(Protocol):
    """A target that manages feature flags itself (`get_flag` is optional)."""

    async def set_flag(self, name: str, value: bool) -> bool | None: ...


class TargetFlags:
    """Flags kept by the target."""

    def __init__(self, target: FlagTarget) -> None:
        self._target = target

    async def get(self, name: str) -> bool | None:
        reader = getattr(self._target, "get_flag", None)
        return None if reader is None else await reader(name)

    async def set(self, name: str, value: bool) -> bool | None:
        return await self._target.set_flag(name, value)


class FileFlags:
    """Flags in a JSON object file; each write replaces the file atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise OSError(f"{self.path} does not hold a JSON object of flags")
        return data  # pyright: ignore[reportUnknownVariableType]

    async def get(self, name: str) -> bool | None:
        value = self._read().get(name)
        return None if value is None else bool(value)

    async def set(self, name: str, value: bool) -> bool | None:
        current = self._read()
        data = {**current, name: value}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".flags-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)  # readers see the old file or the new one, never half
        previous = current.get(name)
        return None if previous is None else bool(previous)


def flag_store_for(target: Target, file: Path | None) -> FlagStore | None:
    """A flags file when configured, else the target's own flags, else None."""
    if file is not None:
        return FileFlags(file)
    if isinstance(target, FlagTarget):
        return TargetFlags(target)
    return None


async def switch_flag(engine: DeploymentEngine, name: str, value: bool) -> Details:
    """Journaled flag switch (`flag:<name>:on|off`); the value before is kept for rollback."""
    engine.require_open("switch a flag")
    label, sid = f"flag:{name}", f"flag:{name}:{'on' if value else 'off'}"
    if (done := engine.state.completed.get(sid)) is not None:
        return done
    if label in engine.state.failed:
        raise EngineRefusal(f"{label} failed in this run: {engine.state.failed[label]}")
    store = engine.flag_store()
    # Recorded before the switch when the store can read it; else taken from the switch.
    before = await store.get(name)
    started = {"label": label, "name": name, "before": before, "value": value}

    async def action() -> Details:
        return {"previous": await store.set(name, value)}

    async def reconcile() -> Details | None:
        return {} if await store.get(name) == value else None

    try:
        return await engine.steps.run(sid, "flag", started, action, reconcile=reconcile)
    except (TargetError, OSError) as exc:
        await engine.handle_failure(label)
        raise ToolError(f"switching {name} failed: {exc}; {engine.after_failure()}") from exc


def flag_name(spec: VersionSpec, settings: StrategySettings) -> str:
    """The configured flag, else the `version_ref` the caller gave."""
    return settings.feature_flag.name or spec.ref


class FeatureFlagStrategy:
    """Switch a flag, verify production, keep it or switch it back."""

    name = "feature-flag"

    def label_for(self, spec: VersionSpec, settings: StrategySettings) -> str:
        return f"flag:{flag_name(spec, settings)}"

    async def unsupported(self, engine: DeploymentEngine) -> str | None:
        try:
            engine.flag_store()
        except EngineRefusal as exc:
            return exc.reason
        return None

    def plan_steps(self, ctx: PlanContext) -> list[str]:
        flag = ctx.label.removeprefix("flag:")
        value = "on" if ctx.settings.feature_flag.value else "off"
        return [
            f"record the current value of flag {flag}, then switch it {value}",
            "health check + smoke tests through the production URL",
            "pass: keep the flag; fail: switch it back at once and verify production health",
        ]

    async def run(self, engine: DeploymentEngine, spec: VersionSpec) -> DeploymentOutcome:
        name = flag_name(spec, engine.settings)
        label = f"flag:{name}"
        await switch_flag(engine, name, engine.settings.feature_flag.value)
        if passed(await engine.verify(label, where="production")):
            await engine.promote(label)
        return engine.outcome(label, self.name)
