"""Hand-offs to program staff."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.base import AnswerAction
from bot.shared.program.answers import Answer, Composer


class ActionRequestHuman(AnswerAction):
    action_name = "action_request_human"
    # "What's your office address?" gets the contact, and a plain word that the address is unknown.
    checks_unknowns = True

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.request_human()
