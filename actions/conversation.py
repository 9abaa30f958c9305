"""Small talk, scope, clarification and yes/no handling."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.base import AnswerAction, topic_ranking
from bot.shared.program.answers import Answer, Composer


class ActionGreet(AnswerAction):
    action_name = "action_greet"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.simple("greet")


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


class ActionOutOfScope(AnswerAction):
    action_name = "action_out_of_scope"
    # "What's the fee?" may be misread as off-topic; it still deserves "I don't know" + staff.
    checks_unknowns = True

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.out_of_scope()


class ActionClarify(AnswerAction):
    """Low-confidence input: ask back with the likeliest topics as buttons."""

    action_name = "action_clarify"
    checks_unknowns = True

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.clarify(tracker.latest_message.get("intent_ranking") or [], topic_ranking(tracker))


class ActionAffirm(AnswerAction):
    action_name = "action_affirm"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.offered(tracker.get_slot("offer"))


class ActionDeny(AnswerAction):
    action_name = "action_deny"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.simple("deny")
