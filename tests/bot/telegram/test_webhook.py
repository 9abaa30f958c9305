"""Webhook mode: only requests with Telegram's secret-token header get in; configuration is checked."""

from __future__ import annotations

import httpx
import pytest

from bot.telegram.bridge import _post_init, _post_shutdown, build_application
from bot.telegram.config import ConfigError, TelegramSettings
from bot.telegram.webhook import SECRET_HEADER, webhook_app
from tests import redis_env
from tests.bot.telegram.conftest import TOKEN, eventually
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.rasa import FakeRasa

SECRET = "s3cret-Token_1"


def update(chat: int, text: str) -> dict:
    return {
        "update_id": 1,
        "message": {
            "message_id": 5,
            "date": 0,
            "chat": {"id": chat, "type": "private"},
            "text": text,
            "from": {"id": chat, "is_bot": False, "first_name": "T"},
        },
    }


async def test_updates_need_the_secret_token(monkeypatch, bot_api: FakeBotAPI, rasa: FakeRasa) -> None:
    monkeypatch.setenv("RASA_URL", rasa.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("RASA_AUTH_TOKEN", rasa.token)
    redis_env.use_db(monkeypatch, 15)
    settings = TelegramSettings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": bot_api.url,  # type: ignore[attr-defined]
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram/hook",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
        }
    )
    application = build_application(settings)
    await application.initialize()
    await _post_init(application)
    await application.start()
    try:
        transport = httpx.ASGITransport(app=webhook_app(application, SECRET, settings.webhook_path))
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
            assert (await client.post("/telegram/hook", json=update(1, "hi"))).status_code == 403
            wrong = await client.post("/telegram/hook", json=update(1, "hi"), headers={SECRET_HEADER: "nope"})
            assert wrong.status_code == 403
            bad = await client.post("/telegram/hook", content=b"{not json", headers={SECRET_HEADER: SECRET})
            assert bad.status_code == 400
            ok = await client.post("/telegram/hook", json=update(31337, "hello"), headers={SECRET_HEADER: SECRET})
            assert ok.status_code == 200
        sent = await eventually(lambda: bot_api.sent(31337))
        assert sent[0]["text"] == "echo: hello" and rasa.messages() == ["hello"]  # the refused ones never reached Rasa
    finally:
        await application.stop()
        await _post_shutdown(application)
        await application.shutdown()


@pytest.mark.parametrize(
    "env, problem",
    [
        ({}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_MODE": "carrier-pigeon"}, "TELEGRAM_MODE"),
        ({"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_MODE": "webhook"}, "TELEGRAM_WEBHOOK_URL"),
        ({"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_URL": "http://insecure/x"}, "https"),
        ({"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_URL": "https://h/x"}, "SECRET"),
        (
            {
                "TELEGRAM_BOT_TOKEN": "1:x",
                "TELEGRAM_MODE": "webhook",
                "TELEGRAM_WEBHOOK_URL": "https://h/x",
                "TELEGRAM_WEBHOOK_SECRET": "has space",
            },
            "SECRET",
        ),
    ],
)
def test_bad_configuration_is_refused_with_a_reason(env: dict, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        TelegramSettings.from_env(env)


def test_polling_is_the_default() -> None:
    settings = TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:x"})
    assert settings.mode == "polling" and settings.api_base_url is None


def test_bot_api_url_as_server_root_or_ptb_style() -> None:
    root = TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/"})
    ptb = TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot"})
    expected = ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")
    assert root.bot_api_urls() == ptb.bot_api_urls() == expected
