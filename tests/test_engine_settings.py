"""Strategy settings: defaults, the plain-string form, and what is rejected."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tools.deploy.settings import CanarySettings, StrategySettings, normalize_strategy


def test_defaults_are_blue_green_with_automatic_rollback_and_canary_10_50_100() -> None:
    settings = StrategySettings()

    assert settings.default == "blue-green"
    assert settings.canary.steps == [10, 50, 100]
    assert settings.auto_rollback is True and settings.allow_marginal is False


def test_a_plain_strategy_name_is_accepted_like_deploy_strategy_in_hotfix_toml() -> None:
    assert StrategySettings.model_validate("Canary").default == "canary"
    assert StrategySettings.model_validate({"default": "blue_green"}).default == "blue-green"
    assert normalize_strategy("flag") == "feature-flag"


@pytest.mark.parametrize("steps", [[10, 50], [50, 10, 100], [0, 100], [10, 10, 100]])
def test_canary_steps_must_increase_to_exactly_100(steps: list[int]) -> None:
    with pytest.raises(ValidationError):
        CanarySettings(steps=steps)


def test_unknown_strategy_and_unknown_keys_are_errors() -> None:
    with pytest.raises(ValidationError):
        StrategySettings.model_validate("big-bang")
    with pytest.raises(ValidationError):
        StrategySettings.model_validate({"auto_rolback": False})
