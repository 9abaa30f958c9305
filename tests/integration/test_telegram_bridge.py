"""`python -m bot.telegram` as it runs in production (polling), against a fake Telegram Bot API on loopback
and the real Rasa and action servers (the `stack` fixture). Nothing reaches the internet."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from typing import Iterator

import httpx
import pytest

from bot.shared.redis_conn import conversation_keys, env_for_db
from bot.telegram.bridge import sender_of
from bot.telegram.keyboards import REF_PREFIX
from tests.conftest import ROOT
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.server import ServerThread
from tests.integration.conftest import Stack

TOKEN = "987654:INTEGRATION-token"


@pytest.fixture(scope="module")
def bot_api() -> Iterator[FakeBotAPI]:
    fake = FakeBotAPI(TOKEN)
    with ServerThread(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def bridge(stack: Stack, bot_api: FakeBotAPI, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("telegram") / "bridge.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": f"{bot_api.url}/bot",  # type: ignore[attr-defined]  # PTB-style, as the staff alerts use it
        "TELEGRAM_MODE": "polling",
        "RASA_URL": stack.rasa_url,
        "RASA_AUTH_TOKEN": stack.token,
        **env_for_db(os.environ, int(os.environ.get("REDIS_DB", "15"))),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.telegram"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    try:
        bot_api.wait_for(lambda: any(c["method"] == "setMyCommands" for c in bot_api.calls), timeout=30)
        yield str(log)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_chinese_user_starts_asks_and_presses_a_button(stack: Stack, bot_api: FakeBotAPI, bridge: str) -> None:
    me = random.randint(10**6, 10**9)
    bot_api.message(me, "/start", language_code="zh-hans")
    greeting = bot_api.wait_for_messages(me, 1)
    assert "城市合伙人" in greeting[0]["text"]

    bot_api.message(me, "合伙人有哪些权益？")
    # The answer and its buttons may arrive as separate messages: wait for the keyboard that follows the answer.
    def answer_with_keyboard() -> list:
        sent = bot_api.sent(me)
        start = next((i for i, m in enumerate(sent) if "广交会" in m["text"]), None)
        return [] if start is None else [m for m in sent[start:] if m.get("reply_markup")]

    keyboards = [m["reply_markup"]["inline_keyboard"] for m in bot_api.wait_for(answer_with_keyboard)]
    assert keyboards, "the assistant's buttons did not become an inline keyboard"
    button = keyboards[-1][0][0]
    assert len(button["callback_data"].encode()) <= 64

    count = len(bot_api.sent(me))
    bot_api.press(me, button["callback_data"], message_id=1, language_code="zh-hans")
    after = bot_api.wait_for(lambda: len(bot_api.sent(me)) > count and bot_api.sent(me))
    assert any("\u4e00" <= ch <= "\u9fff" for ch in after[-1]["text"]), after[-1]["text"]  # still Chinese

    # Rasa knows the conversation under the telegram- sender id (the actions derive the channel from it), whose
    # rest is derived from the chat id: the chat id itself never reaches Rasa.
    url = f"{stack.rasa_url}/conversations/{sender_of(me)}/tracker"
    tracker = httpx.get(url, params={"token": stack.token}, timeout=10).json()
    texts = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
    assert texts[:2] == ["/greet", "合伙人有哪些权益？"] and texts[2] == pressed_payload(stack, me, button["callback_data"])
    assert tracker["slots"]["language"] == "zh"


def pressed_payload(stack: Stack, chat_id: int, callback_data: str) -> str:
    """The Rasa payload a button stands for: itself, or (too long for Telegram's 64 bytes) kept in Redis under
    the conversation's own key (erased with it)."""
    if callback_data.startswith("/"):
        return callback_data
    assert callback_data.startswith(REF_PREFIX), callback_data
    stored = stack.redis.hget(conversation_keys(sender_of(chat_id)).buttons, callback_data[len(REF_PREFIX):])
    assert stored, "a long payload was not kept in Redis"
    return stored.decode()


def test_english_user_reset_and_language(stack: Stack, bot_api: FakeBotAPI, bridge: str) -> None:
    me = random.randint(10**6, 10**9)
    bot_api.message(me, "what is the city partner program?")
    first = bot_api.wait_for_messages(me, 1)
    assert "Guangzhou" in " ".join(m["text"] for m in first)
    bot_api.message(me, "/language zh")
    bot_api.wait_for(lambda: any("中文" in m["text"] for m in bot_api.sent(me)))
    bot_api.message(me, "/reset")
    bot_api.wait_for(lambda: any("重新开始" in m["text"] for m in bot_api.sent(me)))
    url = f"{stack.rasa_url}/conversations/{sender_of(me)}/tracker"
    tracker = httpx.get(url, params={"token": stack.token}, timeout=10).json()
    assert [e for e in tracker["events"] if e.get("event") == "user"] == []  # restarted: nothing said since
    assert tracker["slots"]["language"] == "zh"  # but the chosen language stays


def test_the_bridge_log_carries_no_token_and_no_message_text(bridge: str, bot_api: FakeBotAPI) -> None:
    bot_api.wait_for(lambda: len(bot_api.sent()) >= 3)
    log = open(bridge, encoding="utf-8").read()
    assert "polling mode" in log
    assert TOKEN not in log and "合伙人有哪些权益" not in log and "city partner program?" not in log
