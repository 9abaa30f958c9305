"""The typed reader the action server and the Rasa add-ons use (both interpreters)."""

from __future__ import annotations

import pytest

from bot.shared.config import ConfigError, env_bool, env_float, env_int, env_str


def test_values_parse_or_fail_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("SOME_FLAG", "on")
    monkeypatch.setenv("LEASE", "2.5")
    monkeypatch.setenv("REDIS_DB", "zero")
    assert env_bool("SOME_FLAG", False) is True and env_float("LEASE", 4.0) == 2.5
    assert env_str("UNSET_VARIABLE_X", "default") == "default" and env_int("UNSET_VARIABLE_X", 7) == 7
    with pytest.raises(ConfigError, match="REDIS_DB='zero'"):
        env_int("REDIS_DB", 0)
    with pytest.raises(ConfigError, match="LEASE='2.5': must be at least 3"):
        env_float("LEASE", 4.0, minimum=3)
    monkeypatch.setenv("SOME_FLAG", "perhaps")
    with pytest.raises(ConfigError, match="SOME_FLAG"):
        env_bool("SOME_FLAG", False)
