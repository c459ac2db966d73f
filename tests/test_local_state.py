"""The local target's persistent state, settings, command templates and metrics buffer."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from tools.deploy.target import TargetError
from tools.deploy.targets.local._metrics import MetricsStore
from tools.deploy.targets.local.settings import LocalTargetConfig
from tools.deploy.targets.local.state import (
    EnvironmentRecord,
    StatePaths,
    VersionRecord,
    new_token,
    read_state,
    read_token,
    write_state,
)
from tools.deploy.targets.local.supervisor import render_command


def _record() -> EnvironmentRecord:
    version = VersionRecord(
        label="blue", ref="v1.4.2", commit="abc", port=4001, pid=42, argv=["python", "app.py"],
        workdir="/w", log="/l", started_at=1.0,
    )  # fmt: skip
    return EnvironmentRecord(
        pid=7, production_port=8080, control_port=9000, repo="/repo", started_at=1.0,
        updated_at=2.0, weights={"blue": 100}, versions={"blue": version},
    )  # fmt: skip


def test_state_round_trips_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path / "state")
    write_state(paths, _record())
    write_state(paths, _record().model_copy(update={"weights": {"blue": 0}}))
    loaded = read_state(paths)
    assert loaded is not None
    assert loaded.weights == {"blue": 0}
    assert loaded.versions["blue"].url == "http://127.0.0.1:4001"
    assert [p.name for p in paths.root.iterdir()] == ["state.json"]


def test_unreadable_state_reads_as_no_environment(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path)
    assert read_state(paths) is None
    paths.state.write_text("{not json")
    assert read_state(paths) is None


def test_control_token_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path)
    first = new_token(paths)
    second = new_token(paths)
    assert first != second and len(second) >= 32
    assert read_token(paths) == second
    assert stat.S_IMODE(paths.token.stat().st_mode) == 0o600


def test_start_command_placeholders_are_filled_per_argument() -> None:
    argv = render_command(
        "{python} app.py --port {port} --name '{version} build'",
        port=4100, version="green", workdir=Path("/w t"), python="/usr/bin/python3",
    )  # fmt: skip
    assert argv == ["/usr/bin/python3", "app.py", "--port", "4100", "--name", "green build"]


def test_unknown_placeholder_in_start_command_is_a_config_error() -> None:
    with pytest.raises(TargetError, match="bad placeholder"):
        render_command("run {host}", port=1, version="v", workdir=Path("w"), python="p")
    with pytest.raises(ValidationError, match="bad placeholder"):
        LocalTargetConfig(start_command="run --on {host}")


def test_relative_state_dir_is_resolved_against_the_workspace(tmp_path: Path) -> None:
    config = LocalTargetConfig.model_validate({"production_port": 9090, "state_dir": ".h/l"})
    assert config.state_path(tmp_path) == (tmp_path / ".h" / "l").resolve()
    with pytest.raises(ValidationError):
        LocalTargetConfig.model_validate({"production_port": 0})
    with pytest.raises(ValidationError):
        LocalTargetConfig.model_validate({"unknown_key": 1})


def test_metrics_window_holds_only_samples_since_the_given_time() -> None:
    store = MetricsStore()
    for at, status in ((10.0, 200), (20.0, 500), (30.0, 0), (40.0, 200)):
        store.record("blue", status, latency_ms=at / 10, at=at)
    window = store.window("blue", since=20.0)
    assert (window.requests, window.errors, window.connection_failures) == (3, 2, 1)
    assert window.latencies_ms == [2.0, 3.0, 4.0]
    assert store.totals("blue").requests == 4
    assert store.window("green", since=0).requests == 0


def test_metrics_ring_buffer_forgets_the_oldest_samples() -> None:
    store = MetricsStore(max_samples_per_version=3)
    for at in range(5):
        store.record("blue", 200, 1.0, at=float(at))
    assert store.window("blue", since=0).requests == 3
    assert store.totals("blue").requests == 5
    assert store.window("blue", since=0).percentile(0.5) == 1.0
