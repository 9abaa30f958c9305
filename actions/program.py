"""Answers to questions about the program: one action for every topic in topics.yml."""

from __future__ import annotations

from typing import Optional

from rasa_sdk import Tracker

from actions.base import AnswerAction, category_for_question, category_in_message, topic_of, topic_ranking
from bot.shared.program.answers import Answer, Composer


class ActionAnswerTopic(AnswerAction):
    """`ask_program/<topic>` (typed) or `/ask_program{"topic": ...}` (a button): the topic's answer."""

    action_name = "action_answer_topic"

    def checks_unknowns_for(self, tracker: Tracker, topic: Optional[str]) -> bool:
        knowledge = self.knowledge()
        return topic is not None and topic in knowledge.topics and knowledge.topics[topic].checks_unknowns

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        topic = topic_of(tracker)
        if topic not in composer.kb.topics:  # a stale button or a removed topic: ask back rather than guess
            return composer.clarify(tracker.latest_message.get("intent_ranking") or [], topic_ranking(tracker))
        return composer.topic(topic, category_for_question(tracker))


class ActionInform(AnswerAction):
    """A bare category or "what about …?" answers the last category question for that category."""

    action_name = "action_inform"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        category = category_in_message(tracker)
        if category is None:
            return composer.recommendation()
        return composer.about_category(category, tracker.get_slot("topic"))
