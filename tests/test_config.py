from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, HotfixConfig, load_config


def test_defaults_apply_without_a_config_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config == HotfixConfig()
    assert config.model.id.startswith("claude-sonnet")


def test_hotfix_toml_is_read_and_validated(tmp_path: Path) -> None:
    (tmp_path / "hotfix.toml").write_text('[limits]\nmax_turns = 7\n[gate]\nallow = ["codebase"]\n')
    config = load_config(tmp_path)
    assert config.limits.max_turns == 7
    assert config.gate.allow == ["codebase"]
    assert config.source is not None and config.source.endswith("hotfix.toml")


def test_pyproject_tool_hotfix_section_is_used(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.hotfix.limits]\nmax_tool_calls = 9\n')
    assert load_config(tmp_path).limits.max_tool_calls == 9


def test_a_wrong_type_names_the_key_and_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "hotfix.toml").write_text('[limits]\nmax_turns = "many"\n')
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert "limits.max_turns" in str(error.value)
    assert "integer" in str(error.value)


def test_an_unknown_key_is_reported_not_ignored(tmp_path: Path) -> None:
    (tmp_path / "hotfix.toml").write_text('[limits]\nmax_turn = 3\n')
    with pytest.raises(ConfigError, match=r"limits\.max_turn: unknown key"):
        load_config(tmp_path)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "hotfix.toml").write_text("[limits\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path)
