"""Answers to questions about the program: one action for every topic in topics.yml."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType

from actions.base import AnswerAction, category_for_question, category_in_message, topic_of, topic_ranking
from actions.forms import contact_text, screening
from actions.handoff import prefill
from actions.retrieval import RETRIEVAL_THRESHOLD
from bot.shared.program.answers import Answer, Composer


class ActionAnswerTopic(AnswerAction):
    """`ask_program/<topic>` (typed) or `/ask_program{"topic": ...}` (a button): the topic's answer."""

    action_name = "action_answer_topic"

    retrieval_threshold = RETRIEVAL_THRESHOLD

    def retrieves(self, tracker: Tracker) -> bool:  # a broad topic (topics.yml `retrieves`): the best facts first
        topic = self.knowledge().topics.get(topic_of(tracker) or "")
        return topic is not None and topic.retrieves

    def checks_unknowns_for(self, tracker: Tracker, topic: Optional[str]) -> bool:
        knowledge = self.knowledge()
        return topic is not None and topic in knowledge.topics and knowledge.topics[topic].checks_unknowns

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        topic = topic_of(tracker)
        if topic not in composer.kb.topics:  # a stale button or a removed topic: ask back rather than guess
            return composer.clarify(tracker.latest_message.get("intent_ranking") or [], topic_ranking(tracker))
        return composer.topic(topic, category_for_question(tracker))

    def after(self, answer: Answer, tracker: Tracker, language: str) -> List[EventType]:
        """A question that also says who the user is ("can individuals join? I'm an investor"): which category
        fits them, and the screening offered (topics with `indicates` in topics.yml)."""
        topic = self.knowledge().topics.get(topic_of(tracker) or "")
        if topic is None or not topic.indicates:
            return []
        s = screening()
        answers = s.describe(tracker.latest_message.get("text") or "")
        reply = s.indication(answers, language, contact_text(language)) if answers else None
        if reply is None:
            return []
        answer.replies.append(reply)
        answer.offer = "screening"
        return prefill(answers, s)


class ActionInform(AnswerAction):
    """A bare category or "what about …?" answers the last category question for that category."""

    action_name = "action_inform"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        category = category_in_message(tracker)
        if category is None:
            return composer.recommendation()
        return composer.about_category(category, tracker.get_slot("topic"))
