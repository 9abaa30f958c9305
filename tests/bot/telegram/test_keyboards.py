"""The assistant's buttons as inline keyboards within Telegram's 64-byte callback_data."""

from __future__ import annotations

import os
import uuid

import pytest
from telegram import InlineKeyboardMarkup

from bot.chat.store import async_redis_from_env
from bot.shared.redis_conn import conversation_keys
from bot.shared.replies import Button
from bot.telegram.keyboards import BUTTON_TTL, CALLBACK_LIMIT, PayloadStore, keyboard
from tests import redis_env

LONG = '/inform{"choice":"fortune_global_500","note":"' + "x" * 40 + '"}'
ME = "telegram-test-keyboards"


@pytest.fixture
async def redis_client(monkeypatch):
    redis_env.use_db(monkeypatch, int(os.environ.get("TEST_REDIS_DB", "15")))
    client = async_redis_from_env()
    yield client
    await client.aclose()


async def test_short_payloads_travel_as_they_are_long_ones_as_a_short_id(redis_client) -> None:
    store = PayloadStore(redis_client)
    buttons = [Button("Benefits", '/ask_program{"topic": "benefits"}'), Button("Fortune Global 500", LONG), Button("是", "yes")]
    markup = await keyboard(buttons, store, ME)
    assert isinstance(markup, InlineKeyboardMarkup)
    data = [row[0].callback_data for row in markup.inline_keyboard]
    assert [row[0].text for row in markup.inline_keyboard] == ["Benefits", "Fortune Global 500", "是"]
    assert data[0] == '/ask_program{"topic": "benefits"}'
    assert all(len(d.encode()) <= CALLBACK_LIMIT for d in data)
    assert data[1].startswith("p:") and data[2].startswith("p:")  # not a "/" payload: never taken as-is
    assert [await store.payload(d, ME) for d in data] == ['/ask_program{"topic": "benefits"}', LONG, "yes"]


async def test_another_bridge_process_resolves_the_id_through_redis(redis_client) -> None:
    payload = f'/inform{{"choice":"{uuid.uuid4().hex}{uuid.uuid4().hex}"}}'
    data = await PayloadStore(redis_client).callback_data(payload, ME)
    assert await PayloadStore(redis_client).payload(data, ME) == payload  # fresh LRU: Redis answered
    assert await PayloadStore(redis_client).payload(data, "telegram-someone-else") is None  # per conversation


async def test_a_conversations_buttons_live_under_its_own_key_and_go_with_it(redis_client) -> None:
    conversation = f"telegram-{uuid.uuid4().hex}"
    data = await PayloadStore(redis_client).callback_data(LONG, conversation)
    key = conversation_keys(conversation).buttons
    assert await redis_client.hget(key, data[2:]) == LONG and 0 < await redis_client.ttl(key) <= BUTTON_TTL
    await redis_client.delete(*conversation_keys(conversation).all)  # what erasure deletes
    assert await PayloadStore(redis_client).payload(data, conversation) is None


async def test_without_redis_the_lru_still_works_and_unknown_ids_are_none(monkeypatch) -> None:
    redis_env.use_dead_redis(monkeypatch)
    client = async_redis_from_env()
    store = PayloadStore(client, capacity=2)
    ids = [await store.callback_data(f'/inform{{"n":"{i}{"z" * 60}"}}', ME) for i in range(3)]
    assert await store.payload(ids[2], ME) is not None
    assert await store.payload(ids[0], ME) is None  # pushed out of the LRU, and Redis is down
    assert await store.payload("p:doesnotexist", ME) is None and await store.payload("garbage", ME) is None
    await client.aclose()


async def test_no_buttons_no_keyboard() -> None:
    assert await keyboard([], PayloadStore(None), ME) is None
