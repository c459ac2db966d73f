"""Scenario files: validation with useful errors, documented fields, workspace config."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from evals.scenario import SCENARIOS_DIR, Expect, Scenario, ScenarioError, load_scenarios
from evals.workspace import BASE_CONFIG, merge, to_toml

README = (SCENARIOS_DIR.parent / "README.md").read_text(encoding="utf-8")


def test_every_bundled_scenario_is_valid_and_the_suite_has_at_least_thirty() -> None:
    scenarios = load_scenarios()
    assert len(scenarios) >= 30
    for scenario in scenarios:
        path = scenario.cassette_path()
        assert path is None or path.is_file(), f"{scenario.name}: missing cassette {path}"


def test_a_scenario_with_an_unknown_field_is_refused_with_its_file_and_key(
    tmp_path: Path,
) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\ndescription: x\nexpected: {}\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: expected: unknown key"):
        load_scenarios(tmp_path)


def test_a_scripted_driver_without_turns_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("name: s\ndescription: x\ndriver: scripted\n")
    with pytest.raises(ScenarioError, match="driver scripted needs `turns`"):
        load_scenarios(tmp_path)


def test_duplicate_and_unknown_scenario_names_are_errors(tmp_path: Path) -> None:
    for file in ("a.yaml", "b.json"):
        (tmp_path / file).write_text('{"name": "same", "description": "x"}')
    with pytest.raises(ScenarioError, match="duplicate scenario name 'same'"):
        load_scenarios(tmp_path)
    with pytest.raises(ScenarioError, match="unknown scenario"):
        load_scenarios(names=["no-such-scenario"])


def test_readme_documents_every_scenario_and_expect_field() -> None:
    fields = set(Scenario.model_fields) - {"source"} | set(Expect.model_fields)
    missing = sorted(f for f in fields if f"`{f}`" not in README)
    assert missing == []


def test_workspace_config_is_valid_toml_with_the_scenario_merged_over_the_base() -> None:
    override = {
        "deploy": {"strategy": {"auto_rollback": False}, "local": {"env": {"A": "1"}}},
        "problems": {"commands": [{"name": "t", "command": "false"}]},
    }
    merged = merge(BASE_CONFIG, override)
    parsed = tomllib.loads(to_toml(merged))
    assert parsed == merged
    assert parsed["deploy"]["strategy"]["blue_green"] == {"bake_s": 10.0}
