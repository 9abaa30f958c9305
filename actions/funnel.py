"""Recording the conversation funnel from actions: a Redis hiccup never costs the user an answer."""

from __future__ import annotations

import logging
from typing import Optional

import redis
from rasa_sdk import Tracker

from bot.shared.funnel import Funnel
from bot.shared.redis_conn import redis_from_env

logger = logging.getLogger(__name__)
_funnel: Optional[Funnel] = None


def funnel() -> Funnel:
    global _funnel
    if _funnel is None:
        _funnel = Funnel(redis_from_env(socket_timeout=0.5, socket_connect_timeout=0.5))
    return _funnel


def record(stage: str, tracker: Tracker, language: str, category: Optional[str] = None) -> None:
    try:
        funnel().record(stage, tracker.sender_id, language=language, category=category)
    except redis.RedisError as error:
        logger.warning("funnel not recorded (%s): %s", stage, error.__class__.__name__)


def record_unanswered(tracker: Tracker, language: str, reason: str, topics: Optional[list] = None) -> None:
    try:
        funnel().record_unanswered(tracker.latest_message.get("text") or "", language=language, reason=reason,
                                   topics=topics, conversation_id=tracker.sender_id)
    except redis.RedisError as error:
        logger.warning("unanswered question not recorded: %s", error.__class__.__name__)
