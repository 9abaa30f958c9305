"""One settings object for the web app: a bad value stops start-up naming the variable, never a silent default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.settings import ConfigError, settings
from tests.conftest import ROOT


def test_a_number_that_does_not_parse_is_an_error_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE", "2O")
    with pytest.raises(ConfigError, match="CHAT_RATE_PER_MINUTE='2O'"):
        settings()


def test_on_means_true_rather_than_the_default(monkeypatch) -> None:
    monkeypatch.setenv("STAFF_COOKIE_SECURE", "on")
    assert settings().staff_cookie_secure is True
    monkeypatch.setenv("STAFF_COOKIE_SECURE", "maybe")
    with pytest.raises(ConfigError, match="STAFF_COOKIE_SECURE"):
        settings()


def test_values_are_checked_beyond_their_type(monkeypatch) -> None:
    for name, value in [("REDIS_PORT", "70000"), ("STAFF_TIMEZONE", "Mars/Olympus"), ("CHAT_RASA_RETRY_DELAYS", "1,-2"),
                        ("TELEGRAM_MODE", "carrier-pigeon"), ("CHAT_RASA_TIMEOUT_SECONDS", "0"),
                        ("RETENTION_INTERVAL_SECONDS", "daily"), ("RETENTION_INTERVAL_SECONDS", "10")]:
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=name):
            settings()
        monkeypatch.delenv(name)


def test_a_secret_is_never_echoed_in_the_error(monkeypatch) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_PORT", "not-a-port")
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE", "x")
    monkeypatch.setenv("INTAKE_API_KEY", "super-secret-key")
    with pytest.raises(ConfigError) as error:
        settings()
    assert "super-secret-key" not in str(error.value) and "TELEGRAM_WEBHOOK_PORT" in str(error.value)


def test_lists_and_defaults(monkeypatch) -> None:
    monkeypatch.setenv("CHAT_ALLOWED_ORIGINS", "https://a.example/, https://b.example")
    monkeypatch.setenv("CHAT_RASA_RETRY_DELAYS", "")
    config = settings()
    assert config.chat_allowed_origins == ["https://a.example", "https://b.example"]
    assert config.chat_rasa_retry_delays == ()  # empty: no second attempt


def test_the_app_refuses_to_start_with_a_bad_value() -> None:
    env = {**os.environ, "CHAT_RATE_PER_MINUTE": "2O", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", "import bot.main"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "CHAT_RATE_PER_MINUTE='2O'" in result.stderr
    assert "Traceback" not in result.stderr  # one clear line, not a stack trace


def test_the_wechat_channel_is_off_by_default_and_checked_when_on(monkeypatch) -> None:
    for name in ("WECHAT_TOKEN", "WECHAT_AES_KEY", "WECHAT_APP_ID", "WECHAT_APP_SECRET"):
        monkeypatch.setenv(name, "")
    assert settings().wechat_enabled is False  # and production does not ask for its secrets (test_secrets.py)
    monkeypatch.setenv("WECHAT_TOKEN", "wxToken2024")
    with pytest.raises(ConfigError, match="WECHAT_APP_ID and WECHAT_APP_SECRET"):
        settings()  # slow answers would have no way out
    monkeypatch.setenv("WECHAT_APP_ID", "wx49f0ab532d5d035a")
    monkeypatch.setenv("WECHAT_APP_SECRET", "0123456789abcdef0123456789abcdef")
    assert settings().wechat_enabled is True
    for name, value in [("WECHAT_TOKEN", "has space"), ("WECHAT_TOKEN", "x" * 33), ("WECHAT_AES_KEY", "short"),
                        ("WECHAT_AES_KEY", "!" * 43), ("WECHAT_REPLY_SECONDS", "5")]:
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=name) as refused:
            settings()
        assert "has space" not in str(refused.value) and "!!!" not in str(refused.value)  # secrets are not echoed
        monkeypatch.setenv(name, {"WECHAT_TOKEN": "wxToken2024", "WECHAT_REPLY_SECONDS": "4"}.get(name, ""))
    monkeypatch.setenv("WECHAT_AES_KEY", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR")
    assert settings().wechat_aes_key.startswith("kWx")
