"""What a button payload is called, for a press whose button the transcript did not see: a topic's (topics.yml),
an intent's (messages.yml `intent_labels`) or a screening option's (eligibility.yml options, screening.yml)."""

from __future__ import annotations

import json
import re
from typing import Optional

from bot.shared.program.knowledge import TOPIC_INTENT
from bot.shared.program.screening import Screening
from bot.shared.program.screening_data import default_screening
from bot.shared.program.store import default_store

_PAYLOAD = re.compile(r"^/([A-Za-z0-9_]+)(\{.*\})?$", re.S)


def payload_label(payload: str, language: str) -> Optional[str]:
    match = _PAYLOAD.match(payload or "")
    if not match:
        return None
    try:
        entities = json.loads(match.group(2)) if match.group(2) else {}
    except ValueError:
        return None
    entities = entities if isinstance(entities, dict) else {}
    choice, topic = entities.get("choice"), entities.get("topic")
    if isinstance(choice, str):
        return Screening(default_screening()).choice_label(choice, language)
    kb = default_store.current()
    if match.group(1) == TOPIC_INTENT and isinstance(topic, str) and topic in kb.topics:
        category = kb.categories.get(entities.get("partner_category") or "")
        button = kb.topics[topic].category_button
        if category is not None and button is not None:
            return button.format(language, name=category.name.get(language))
        return kb.topics[topic].label.get(language)
    label = kb.intent_labels.get(match.group(1))
    return label.get(language) if label else None
