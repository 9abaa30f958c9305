"""The WeChat API client against the fake API server: access tokens shared through Redis by every process,
replaced once when WeChat refuses them, network failures tried again, Chinese sent as UTF-8."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import httpx
import pytest

from bot.wechat.api import WeChatAPI, WeChatAPIError
from tests import redis_env
from tests.bot.wechat.conftest import APP_ID, APP_SECRET, REDIS_DB, clean_redis
from tests.fakes import wechat_api as wx

OPENID = "o-api-user"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    clean_redis()
    async with httpx.AsyncClient(timeout=5) as client:
        yield client
    clean_redis()


@pytest.fixture
async def redis_client():
    client = redis_env.async_client(REDIS_DB, decode_responses=True)
    yield client
    await client.aclose()


def api(http: httpx.AsyncClient, redis_client, wechat: wx.FakeWeChatAPI, secret: str = APP_SECRET) -> WeChatAPI:
    return WeChatAPI(http, redis_client, APP_ID, secret, wechat.url)  # type: ignore[attr-defined]


async def test_one_token_is_fetched_and_shared_by_every_process(http, redis_client, wechat: wx.FakeWeChatAPI) -> None:
    processes = [api(http, redis_client, wechat) for _ in range(4)]  # four web app workers, one Redis
    tokens = await asyncio.gather(*(p.access_token() for p in processes for _ in range(3)))
    assert len(set(tokens)) == 1 and len(wechat.token_requests) == 1
    assert wechat.token_requests[0] == {"grant_type": "client_credential", "appid": APP_ID, "force_refresh": False}
    ttl = await redis_client.ttl(processes[0].key)
    assert 7200 - 300 - 5 <= ttl <= 7200 - 300  # dropped five minutes before WeChat's expiry


async def test_a_refused_token_is_replaced_once_and_the_message_sent(http, redis_client, wechat: wx.FakeWeChatAPI) -> None:
    first, second = api(http, redis_client, wechat), api(http, redis_client, wechat)
    await first.send_text(OPENID, "一")
    wechat.expire_tokens()  # WeChat answers 42001 from now on for the old one
    await first.send_text(OPENID, "二")
    await second.send_text(OPENID, "三")  # the other process uses the replacement, without fetching again
    assert wechat.sent(OPENID) == ["一", "二", "三"]
    assert [r["force_refresh"] for r in wechat.token_requests] == [False, True]


async def test_a_network_failure_is_tried_again(http, redis_client, wechat: wx.FakeWeChatAPI, monkeypatch) -> None:
    monkeypatch.setattr("bot.wechat.api.SEND_PAUSES", (0.01, 0.01))
    wechat.fail_next = 2
    await api(http, redis_client, wechat).send_text(OPENID, "终于")
    assert wechat.sent(OPENID) == ["终于"]
    wechat.fail_next = 3
    with pytest.raises(WeChatAPIError, match="unreachable"):
        await api(http, redis_client, wechat).send_text(OPENID, "放弃")


async def test_chinese_goes_as_utf8_not_escapes(http, redis_client, wechat: wx.FakeWeChatAPI) -> None:
    await api(http, redis_client, wechat).send_text(OPENID, "城市合伙人 — ok")
    assert wechat.sent(OPENID) == ["城市合伙人 — ok"] and wechat.refused == []


async def test_a_wrong_secret_and_another_error_are_reported(http, redis_client, wechat: wx.FakeWeChatAPI) -> None:
    with pytest.raises(WeChatAPIError, match="40125"):
        await api(http, redis_client, wechat, secret="wrong").send_text(OPENID, "x")
    with pytest.raises(WeChatAPIError, match="45002"):  # too long: WeChat's refusal, not tried again
        await api(http, redis_client, wechat).send_text(OPENID, "字" * 1000)
    assert wechat.messages == []


async def test_without_redis_each_process_keeps_its_own_token(http, wechat: wx.FakeWeChatAPI) -> None:
    dead = redis_env.aioredis.Redis.from_url(redis_env.DEAD_URL, socket_connect_timeout=0.2)
    client = api(http, dead, wechat)
    await client.send_text(OPENID, "一")
    await client.send_text(OPENID, "二")
    assert wechat.sent(OPENID) == ["一", "二"] and len(wechat.token_requests) == 1
    await dead.aclose()
