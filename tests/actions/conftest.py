"""Real rasa_sdk Tracker and CollectingDispatcher objects for action tests."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher


def make_tracker(
    text: str,
    intent: str,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    ranking: Optional[List[Dict[str, Any]]] = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
    }
    events = [{"event": "user", "text": text, "parse_data": latest}]
    return Tracker("test-user", dict(slots or {}), latest, events, False, None, {}, "action_listen")


def topic_tracker(
    text: str,
    topic: str,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """A program question the NLU read as `ask_program` about `topic` (components/linear_intents.py)."""
    tracker = make_tracker(text, "ask_program", entities, slots)
    tracker.latest_message["topic"] = {"name": topic, "confidence": 0.9, "ranking": [{"name": topic, "confidence": 0.9}]}
    return tracker


def topic_button(topic: str) -> Dict[str, Any]:
    """The `topic` entity a topic button sends (/ask_program{"topic": ...})."""
    return {"entity": "topic", "value": topic, "start": 0, "end": 1}


def category(value: str) -> Dict[str, Any]:
    return {"entity": "partner_category", "value": value, "start": 0, "end": 1}


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(autouse=True)
def staff_contact(monkeypatch) -> None:
    monkeypatch.setenv("PROGRAM_CONTACT_EMAIL", "staff@example.org")
    monkeypatch.delenv("PROGRAM_CONTACT_PHONE", raising=False)
    monkeypatch.delenv("PROGRAM_CONTACT_URL", raising=False)
