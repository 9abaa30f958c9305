"""Conversations over Rasa's REST webhook with the real Rasa server, action server and Redis."""

from __future__ import annotations

import json
import uuid

import httpx

from bot.shared.redis_conn import conversation_keys
from tests.integration.conftest import CONTACT_EMAIL, Stack


def texts(replies: list) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def test_english_conversation_remembers_the_topic_and_hands_off_unknowns(stack: Stack) -> None:
    me = f"it-en-{uuid.uuid4().hex[:8]}"
    assert "City Partner program" in texts(stack.say(me, "hello"))

    benefits = stack.say(me, "what benefits do partners get?")
    assert "Canton Fair" in texts(benefits)
    payloads = [b["payload"] for r in benefits for b in r.get("buttons", [])]
    assert any("city_dreamer" in p for p in payloads)

    follow_up = texts(stack.say(me, "what about city dreamers?"))
    assert "City dreamers" in follow_up and "agreed case by case" in follow_up

    unknown = texts(stack.say(me, "what is the deadline to apply?"))
    assert "I don't know" in unknown and CONTACT_EMAIL in unknown

    assert CONTACT_EMAIL in texts(stack.say(me, "can I speak to a human please"))


def test_chinese_conversation_answers_in_chinese_and_keeps_it_for_buttons(stack: Stack) -> None:
    me = f"it-zh-{uuid.uuid4().hex[:8]}"
    assert "城市合伙人" in texts(stack.say(me, "你好"))

    eligibility = texts(stack.say(me, "加入需要什么条件？"))
    for name in ("战略合作伙伴", "超级合伙人", "城市梦想家", "城市推广大使"):
        assert name in eligibility

    follow_up = texts(stack.say(me, "那城市推广大使呢"))
    assert "城市推广大使" in follow_up and "科技领军人才" in follow_up

    button = texts(stack.say(me, '/ask_program{"topic": "benefits", "partner_category": "super_partner"}'))
    assert "超级合伙人" in button and "广交会" in button

    unknown = texts(stack.say(me, "申请费用是多少？"))
    assert "费用" in unknown and CONTACT_EMAIL in unknown


def test_conversation_is_kept_in_redis_and_the_http_api_needs_the_token(stack: Stack) -> None:
    me = f"it-store-{uuid.uuid4().hex[:8]}"
    stack.say(me, "what is the city partner program?")
    keys = [k.decode() for k in stack.redis.scan_iter(match=f"*{me}*")]
    assert conversation_keys(me).tracker in keys, "the tracker was not written to Redis"
    stored = [json.loads(item) for item in stack.redis.lrange(conversation_keys(me).tracker, 0, -1)]  # events, in order
    assert any(e.get("event") == "user" for e in stored)

    url = f"{stack.rasa_url}/conversations/{me}/tracker"
    assert httpx.get(url, timeout=10).status_code == 401
    tracker = httpx.get(url, params={"token": stack.token}, timeout=10).json()
    assert tracker["slots"]["language"] == "en"
    stack.redis.delete(*keys)
