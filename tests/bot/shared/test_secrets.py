"""APP_ENV=production refuses development, empty and short secrets, and a Redis without a password."""

from __future__ import annotations

import pytest

from bot.shared.secrets import SECRETS, development_secrets, redis_problem, refuse_development_secrets, secret_problem

GOOD = "k" * 32


def production_env(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    for name in SECRETS:
        monkeypatch.setenv(name, GOOD)
    monkeypatch.setenv("REDIS_URL", "rediss://app:s3cret-pass@redis.internal:6380/0")
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("value, problem", [
    ("", "is empty"), ("dev-only-rasa-token", "development value"), ("short-but-real", "shorter than"),
    ("please-change-me-before-going-live", "development value"),
])
def test_a_weak_secret_is_named_without_its_value(value: str, problem: str) -> None:
    found = secret_problem("RASA_AUTH_TOKEN", value)
    assert found is not None and problem in found and "RASA_AUTH_TOKEN" in found
    assert not value or value not in found


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    production_env(monkeypatch)
    assert development_secrets() == []
    refuse_development_secrets("test")  # no exit


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_production_refuses_each_development_secret(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    production_env(monkeypatch, **{name: "dev-only-something-long-enough"})
    with pytest.raises(SystemExit, match=name) as stopped:
        refuse_development_secrets("web app")
    assert "dev-only-something" not in str(stopped.value)
    assert stopped.value.code == 78  # EX_CONFIG: the process runner does not restart it


@pytest.mark.parametrize("url", ["", "redis://127.0.0.1:6379/0", "redis://user@host:6379/0", "http://:p@host"])
def test_production_refuses_a_redis_without_a_password(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    production_env(monkeypatch, REDIS_URL=url)
    with pytest.raises(SystemExit, match="REDIS_URL"):
        refuse_development_secrets("web app")
    assert redis_problem("redis://:pw@host:6379/0") is None and redis_problem("rediss://u:pw@host:6380/1") is None


def test_development_runs_on_the_example_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("RASA_AUTH_TOKEN", "dev-only-rasa-token")
    refuse_development_secrets("test")  # no exit


def test_production_checks_the_wechat_secrets_only_while_the_channel_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    production_env(monkeypatch, WECHAT_TOKEN="", WECHAT_APP_SECRET="")
    assert development_secrets() == []  # WeChat not configured: production starts
    production_env(monkeypatch, WECHAT_TOKEN="wxShortToken", WECHAT_APP_SECRET="")
    problems = " ".join(development_secrets())
    assert "WECHAT_TOKEN is shorter than" in problems and "WECHAT_APP_SECRET is empty" in problems
    assert "wxShortToken" not in problems
    production_env(monkeypatch, WECHAT_TOKEN="wxToken0123456789abcdef01", WECHAT_APP_SECRET="0123456789abcdef0123456789abcdef")
    assert development_secrets() == []
