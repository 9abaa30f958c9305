"""Small talk, scope, clarification and yes/no handling."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AnswerAction, language_of, topic_ranking
from actions.forms import screening
from actions.handoff import ActionRecommendation, open_screening
from actions.retrieval import RETRIEVAL_THRESHOLD, SURE
from bot.shared.program.answers import Answer, Composer


class ActionGreet(AnswerAction):
    action_name = "action_greet"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.simple("greet")

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        # "hi, 40 ppl robotics startup here, can we join?" is more than a hello.
        return await said_who_they_are(dispatcher, tracker) or await super().run(dispatcher, tracker, domain)


class ActionGoodbye(AnswerAction):
    action_name = "action_goodbye"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.simple("goodbye")


class ActionThank(AnswerAction):
    action_name = "action_thank"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.simple("thank")


class ActionBotChallenge(AnswerAction):
    action_name = "action_bot_challenge"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.simple("bot_challenge")


class ActionCapabilities(AnswerAction):
    action_name = "action_capabilities"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.capabilities()


async def said_who_they_are(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """An opener the NLU could not place but that says who the user is ("I lead the China practice of a big
    accounting firm and want to see how we can join"): answered like "which category fits us?" rather than
    turned away. None when the message says nothing about who they are, or a form is under way."""
    if tracker.active_loop.get("name") or not screening().describe(tracker.latest_message.get("text") or ""):
        return None
    return await ActionRecommendation().run(dispatcher, tracker, {})


class ActionOutOfScope(AnswerAction):
    action_name = "action_out_of_scope"
    # "What's the fee?" may be misread as off-topic; it still deserves "I don't know" + staff.
    checks_unknowns = True
    retrieval_threshold = SURE  # "how big is the Canton Fair?" is not off-topic after all, if it matches well

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.out_of_scope()

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        return await said_who_they_are(dispatcher, tracker) or await super().run(dispatcher, tracker, domain)


class ActionClarify(AnswerAction):
    """Low-confidence input: ask back with the likeliest topics as buttons."""

    action_name = "action_clarify"
    checks_unknowns = True
    retrieval_threshold = RETRIEVAL_THRESHOLD  # a question no intent matched may still be in the facts

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.clarify(tracker.latest_message.get("intent_ranking") or [], topic_ranking(tracker))

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        return await said_who_they_are(dispatcher, tracker) or await super().run(dispatcher, tracker, domain)


class ActionAffirm(AnswerAction):
    action_name = "action_affirm"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.offered(tracker.get_slot("offer"))

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        if tracker.get_slot("offer") != "screening" or tracker.active_loop.get("name"):
            return await super().run(dispatcher, tracker, domain)
        # "Yes" to the offered screening: it opens with what the user already said, and the form takes over.
        events = open_screening(dispatcher, tracker, screening(), language_of(tracker))
        return events + [SlotSet("offer", None), FollowupAction("screening_form")]


class ActionDeny(AnswerAction):
    action_name = "action_deny"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.simple("deny")
