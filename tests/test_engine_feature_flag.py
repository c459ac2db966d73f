"""Feature-flag "deployments": switch, verify, keep or switch back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fakes import MemoryTarget, make_rig

from tools.deploy.settings import FeatureFlagSettings, StrategySettings
from tools.deploy.strategies.feature_flag import FileFlags, TargetFlags
from tools.deploy.target import VersionSpec


def flag_settings(name: str, value: bool, file: str | None = None) -> StrategySettings:
    return StrategySettings(feature_flag=FeatureFlagSettings(name=name, value=value, file=file))


def test_switching_a_flag_on_is_verified_and_kept(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, settings=flag_settings("new-checkout", True))

    outcome = asyncio.run(rig.engine.deploy(VersionSpec("x", "main"), "feature-flag"))

    assert outcome.status == "deployed"
    assert outcome.version == "flag:new-checkout"
    assert outcome.previous_version == "flag:new-checkout=off"
    assert rig.target.flags == {"new-checkout": True}
    assert rig.target.count("stage") == 0 and rig.target.count("set_weights") == 0
    assert [s for s in rig.steps() if s[0].startswith("flag:")] == [
        ("flag:new-checkout:on", "started"),
        ("flag:new-checkout:on", "finished"),
    ]


def test_kill_switch_turns_a_flag_off(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, settings=flag_settings("recommendations", False))
    rig.target.flags["recommendations"] = True

    outcome = asyncio.run(rig.engine.deploy(VersionSpec("x", "main"), "flag"))

    assert outcome.status == "deployed"
    assert rig.target.flags == {"recommendations": False}


def test_a_flag_that_breaks_production_is_switched_back(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, settings=flag_settings("new-checkout", True))
    rig.target.script_flag("new-checkout", True, healthy=False)

    outcome = asyncio.run(rig.engine.deploy(VersionSpec("x", "main"), "feature-flag"))

    assert outcome.status == "rolled_back"
    assert rig.target.flags == {"new-checkout": False}
    assert rig.target.ops == [
        ("set_flag", ("new-checkout", True)),
        ("set_flag", ("new-checkout", False)),
    ]
    assert outcome.rollback_verified is True
    assert outcome.time_to_rollback_s == 0.0


def test_flags_file_is_written_atomically_when_the_target_has_no_flags(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"other": True}))
    settings = flag_settings("new-checkout", True)
    rig = make_rig(tmp_path, settings=settings, flags=FileFlags(path))

    outcome = asyncio.run(rig.engine.deploy(VersionSpec("x", "main"), "feature-flag"))

    assert outcome.status == "deployed"
    assert json.loads(path.read_text()) == {"other": True, "new-checkout": True}
    assert rig.target.flags == {}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".flags-")]


def test_flag_name_defaults_to_the_version_ref(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    outcome = asyncio.run(rig.engine.deploy(VersionSpec("x", "dark-mode"), "feature-flag"))

    assert outcome.version == "flag:dark-mode"
    assert rig.target.flags == {"dark-mode": True}


class SetOnlyFlags:
    """A target-side flag API that can set flags but not read them (like the local target)."""

    def __init__(self, target: MemoryTarget) -> None:
        self.target = target

    async def set_flag(self, name: str, value: bool) -> bool | None:
        return await self.target.set_flag(name, value)


def test_switch_back_uses_the_previous_value_reported_by_a_write_only_flag_api(
    tmp_path: Path,
) -> None:
    target = MemoryTarget()
    target.flags["search-v2"] = True
    target.script_flag("search-v2", False, healthy=False)
    flags = TargetFlags(SetOnlyFlags(target))
    rig = make_rig(tmp_path, target=target, settings=flag_settings("search-v2", False), flags=flags)

    outcome = asyncio.run(rig.engine.deploy(VersionSpec("x", "main"), "feature-flag"))

    assert outcome.status == "rolled_back"
    assert target.flags == {"search-v2": True}
