"""What every answering action shares: language, categories in the message, sending replies."""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.funnel import record, record_unanswered
from actions.retrieval import RETRIEVAL_THRESHOLD, SURE, index_for
from bot.shared.program import CATEGORY_KEYS, default_store
from bot.shared.program.answers import Answer, Composer, unknown_topics
from bot.shared.program.contact import StaffContact
from bot.shared.program.knowledge import TOPIC_INTENT, Knowledge
from bot.shared.program.language import detect_language

logger = logging.getLogger(__name__)

# Words that point back at the category named earlier ("what do they get?").
_BACK_REFERENCE = re.compile(
    r"\b(they|them|their|it|its|this category|that category|this one|that one)\b"
    r"|他们|它们|这类|该类|这个类别|那个类别|这一类|那一类"
)


def language_of(tracker: Tracker) -> str:
    """The language of the last message with words, else the one remembered, else English."""
    return detect_language(tracker.latest_message.get("text")) or tracker.get_slot("language") or "en"


def category_in_message(tracker: Tracker) -> Optional[str]:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "partner_category" and entity.get("value") in CATEGORY_KEYS:
            return entity["value"]
    return None


def topic_of(tracker: Tracker) -> Optional[str]:
    """The program topic asked: a button's `topic` entity, else the NLU's pick (components/linear_intents.py)."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "topic" and isinstance(entity.get("value"), str):
            return entity["value"]
    if (tracker.latest_message.get("intent") or {}).get("name") != TOPIC_INTENT:
        return None
    name = (tracker.latest_message.get("topic") or {}).get("name")
    return name if isinstance(name, str) else None


def topic_ranking(tracker: Tracker) -> List[Dict[str, Any]]:
    """The NLU's likeliest topics, best first ([{name, confidence}]), for asking back."""
    return list((tracker.latest_message.get("topic") or {}).get("ranking") or [])


def category_for_question(tracker: Tracker) -> Optional[str]:
    """The category a question is about: named in it, or referred back to ("they")."""
    named = category_in_message(tracker)
    if named:
        return named
    text = (tracker.latest_message.get("text") or "").lower()
    remembered = tracker.get_slot("partner_category")
    if remembered in CATEGORY_KEYS and _BACK_REFERENCE.search(text):
        return remembered
    return None


class AnswerAction(Action):
    """Base: build an Answer with a Composer, send it, remember language/offer/topic."""

    action_name = ""
    # Questions that may touch what the sources do not hold (deadlines, fees, ...).
    checks_unknowns = False

    def name(self) -> str:
        return self.action_name

    @staticmethod
    def knowledge() -> Knowledge:
        return default_store.current()

    def checks_unknowns_for(self, tracker: Tracker, topic: Optional[str]) -> bool:
        return self.checks_unknowns

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        raise NotImplementedError

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        language = language_of(tracker)
        contact = StaffContact.from_env()
        knowledge = self.knowledge()
        composer = Composer(knowledge, language, contact)
        answer = None
        if self.checks_unknowns_for(tracker, topic_of(tracker)):
            topics = unknown_topics(knowledge, tracker.latest_message.get("text") or "", contact)
            if topics:
                answer = composer.unknown(topics)
                logger.info("unanswerable question: intent=%s topics=%s", self.action_name, ",".join(answer.unknown))
                record_unanswered(tracker, language, "unknown_topic", list(answer.unknown))
        if answer is None:
            answer = self.retrieved(composer, tracker) or self.build(composer, tracker)
            if answer.fallback:
                record_unanswered(tracker, language, "fallback")
        record("conversation", tracker, language)
        extra = self.after(answer, tracker, language)
        for reply in answer.replies:
            buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
            dispatcher.utter_message(text=reply.text, buttons=buttons or None)
        events: List[EventType] = [SlotSet("language", language), SlotSet("offer", answer.offer)]
        if answer.topic:
            events.append(SlotSet("topic", answer.topic))
        return events + extra

    # How close a question must come to a fact for this action to answer with it (None: no lookup).
    retrieval_threshold: Optional[float] = None

    def retrieves(self, tracker: Tracker) -> bool:
        """Whether a question this action answers is first looked up in the fact base (actions/retrieval.py)."""
        return self.retrieval_threshold is not None

    def retrieved(self, composer: Composer, tracker: Tracker) -> Optional[Answer]:
        """The facts that answer the question, when this action looks them up and they match well enough."""
        text = tracker.latest_message.get("text") or ""
        if not self.retrieves(tracker) or not text.strip() or text.startswith("/"):
            return None
        hits = index_for(composer.kb).answer(text, threshold=self.retrieval_threshold or RETRIEVAL_THRESHOLD)
        if not hits:
            return None
        return composer.retrieved([h.fact for h in hits], sure=hits[0].score >= SURE)

    def after(self, answer: Answer, tracker: Tracker, language: str) -> List[EventType]:
        """A subclass's last word on the answer (more replies, more events) before it is sent."""
        return []
