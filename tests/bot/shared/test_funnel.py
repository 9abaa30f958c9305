"""The funnel keeps no conversation id in clear, and an erasure or the retention job removes the
unanswered questions it should (real Redis, a key prefix of its own)."""

from __future__ import annotations

import os
import time
import uuid
from typing import Iterator

import pytest
import redis

from bot.shared.funnel import Funnel, conversation_hash


@pytest.fixture
def funnel() -> Iterator[Funnel]:
    client = redis.Redis(host=os.environ.get("REDIS_HOST", "127.0.0.1"), port=int(os.environ.get("REDIS_PORT", "6379")),
                         db=int(os.environ.get("TEST_REDIS_DB", "15")), decode_responses=True)
    prefix = f"gzcptest{uuid.uuid4().hex[:8]}"
    yield Funnel(client, prefix)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def everything(funnel: Funnel) -> str:
    """Every value under the funnel's keys, as one text to search."""
    out = []
    for key in funnel.redis.scan_iter(match=f"{funnel.prefix}:*"):
        kind = funnel.redis.type(key)
        out.append(key)
        out.extend(funnel.redis.smembers(key) if kind == "set" else funnel.redis.lrange(key, 0, -1) if kind == "list"
                   else funnel.redis.hgetall(key).keys() if kind == "hash" else [])
    return "\n".join(out)


def test_no_conversation_id_is_kept_in_clear(funnel: Funnel) -> None:
    assert funnel.record("conversation", "web-5f0c1d2e", language="en")
    assert not funnel.record("conversation", "web-5f0c1d2e", language="en")  # still counted once a day
    funnel.record_unanswered("what is the fee?", language="en", reason="unknown_topic", conversation_id="web-5f0c1d2e")
    assert funnel.counts()["conversation"]["total"] == 1
    assert "web-5f0c1d2e" not in everything(funnel) and conversation_hash("web-5f0c1d2e") in everything(funnel)


def test_erasure_removes_that_conversations_questions_only(funnel: Funnel) -> None:
    for n in range(3):
        funnel.record_unanswered(f"mine {n}, I am Li Hua", language="en", reason="fallback", conversation_id="telegram-aa")
        funnel.record_unanswered(f"theirs {n}", language="en", reason="fallback", conversation_id="web-bb")
    funnel.record_unanswered("unlinked", language="zh", reason="fallback")
    assert funnel.forget("telegram-aa") == 3
    assert [q["text"] for q in funnel.unanswered()] == ["unlinked", "theirs 2", "theirs 1", "theirs 0"]
    assert "Li Hua" not in everything(funnel)
    assert funnel.forget("telegram-aa") == 0  # idempotent
    assert "conversation" not in funnel.unanswered()[0]  # staff see the words, not the link


def test_retention_drops_questions_older_than_the_period(funnel: Funnel) -> None:
    funnel.record_unanswered("old", language="en", reason="fallback", conversation_id="web-old")
    cut = time.time() + 0.001
    time.sleep(0.01)
    funnel.record_unanswered("new", language="en", reason="fallback", conversation_id="web-new")
    assert funnel.purge_unanswered(cut) == 1
    assert [q["text"] for q in funnel.unanswered()] == ["new"]
