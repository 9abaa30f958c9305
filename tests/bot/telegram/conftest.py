"""The real python-telegram-bot Application against a fake Bot API and a fake Rasa, both on loopback."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, AsyncIterator, Callable, Iterator

import pytest
from telegram.ext import Application

from bot.telegram.bridge import _post_init, _post_shutdown, build_application
from bot.telegram.config import TelegramSettings
from tests import redis_env
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.rasa import FakeRasa
from tests.fakes.server import ServerThread

TOKEN = "123456:TEST-token"
REDIS_DB = os.environ.get("TEST_REDIS_DB", "15")


@pytest.fixture
def bot_api() -> Iterator[FakeBotAPI]:
    fake = FakeBotAPI(TOKEN)
    with ServerThread(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    with ServerThread(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
async def telegram_app(monkeypatch, bot_api: FakeBotAPI, rasa: FakeRasa) -> AsyncIterator[Application]:
    monkeypatch.setenv("RASA_URL", rasa.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("RASA_AUTH_TOKEN", rasa.token)
    redis_env.use_db(monkeypatch, int(REDIS_DB))
    settings = TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": bot_api.url})  # type: ignore[attr-defined]
    application = build_application(settings)
    await application.initialize()
    await _post_init(application)
    await application.start()
    await application.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await _post_shutdown(application)
        await application.shutdown()
        r = redis_env.client(int(REDIS_DB))
        keys = list(r.scan_iter(match="gzcp:chat:lang:telegram-*")) + list(r.scan_iter(match="gzcp:telegram:*"))
        if keys:
            r.delete(*keys)


async def eventually(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Wait without blocking the loop PTB runs on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting for the bridge")
