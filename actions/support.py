"""Hand-offs to program staff."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.base import AnswerAction
from bot.program.answers import Answer, Composer


class ActionRequestHuman(AnswerAction):
    action_name = "action_request_human"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.request_human()


class ActionRequestDataDeletion(AnswerAction):
    action_name = "action_request_data_deletion"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.data_deletion()
