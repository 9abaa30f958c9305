"""The web app's /api/wechat against a fake Rasa and a fake WeChat API (both on loopback), and the real Redis."""

from __future__ import annotations

import os
from typing import Dict, Iterator, Optional

import pytest
from fastapi.testclient import TestClient

from bot.main import create_app
from tests import redis_env
from tests.fakes import wechat_api as wx
from tests.fakes.rasa import FakeRasa
from tests.fakes.server import ServerThread

REDIS_DB = int(os.environ.get("TEST_REDIS_DB", os.environ.get("REDIS_DB", "15")))
TOKEN = "wxTestToken2024"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"  # 43 characters, as the account's settings show it
APP_ID = "wx49f0ab532d5d035a"
APP_SECRET = "0123456789abcdef0123456789abcdef"


def clean_redis() -> None:
    r = redis_env.client(REDIS_DB)
    keys = [*r.scan_iter(match="gzcp:wechat:*"), *r.scan_iter(match="gzcp:chat:lang:wechat-*")]
    if keys:
        r.delete(*keys)


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    with ServerThread(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def wechat() -> Iterator[wx.FakeWeChatAPI]:
    fake = wx.FakeWeChatAPI(APP_ID, APP_SECRET)
    with ServerThread(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def wechat_env(monkeypatch, rasa: FakeRasa, wechat: wx.FakeWeChatAPI) -> FakeRasa:
    monkeypatch.setenv("RASA_URL", rasa.url)  # type: ignore[attr-defined]
    monkeypatch.delenv("RASA_URLS", raising=False)
    monkeypatch.setenv("RASA_AUTH_TOKEN", rasa.token)
    monkeypatch.setenv("CHAT_RASA_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("CHAT_RASA_RETRY_DELAYS", "0.01,0.02")
    redis_env.use_db(monkeypatch, REDIS_DB)
    monkeypatch.setenv("WECHAT_TOKEN", TOKEN)
    monkeypatch.setenv("WECHAT_AES_KEY", AES_KEY)
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("WECHAT_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("WECHAT_API_BASE_URL", wechat.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("WECHAT_REPLY_SECONDS", "2")
    clean_redis()
    return rasa


@pytest.fixture
def client(wechat_env) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client
    clean_redis()


def post(client: TestClient, xml: str, params: Optional[Dict[str, str]] = None, **kwargs):
    """A plain-mode delivery, signed as WeChat signs it."""
    return client.post("/api/wechat", params=params or wx.query(TOKEN), content=xml.encode("utf-8"),
                       headers={"Content-Type": "text/xml"}, **kwargs)


def post_safe(client: TestClient, xml: str):
    params, body = wx.envelope(xml, TOKEN, AES_KEY, APP_ID)
    return client.post("/api/wechat", params=params, content=body.encode("utf-8"), headers={"Content-Type": "text/xml"})


def reply(response) -> str:
    """The text of a passive reply ("" for an empty one), decrypted when it is a safe-mode one."""
    assert response.status_code == 200, response.text
    return wx.reply_fields(response.text, TOKEN, AES_KEY, APP_ID).get("Content", "")
