"""The screening and hand-off forms in Rasa: reading answers, asking questions, and what ends them.

The decisions (which question, how an answer reads, what to show) live in bot/shared/program/screening.py;
this module connects them to Rasa's form loop. Each form has one validation action that reads the
latest message itself (every form slot has a `custom` mapping), so it can tell an answer from a
question asked mid-form: for a question it returns no events, Rasa's form rejects, a rule answers the
question and the form asks again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import language_of, topic_of
from actions.funnel import record
from bot.shared.program import default_store
from bot.shared.program.answers import Composer, Reply
from bot.shared.program.contact import StaffContact
from bot.shared.program.knowledge import TOPIC_INTENT
from bot.shared.program.screening import Screening, form_slots
from bot.shared.program.screening_data import default_screening

logger = logging.getLogger(__name__)

FORMS = ("screening_form", "handoff_form")
# Intents that end or leave a form whatever is being asked (rules in stories/forms.yml take them).
CONTROL_INTENTS = ("stop", "goodbye", "request_human", "request_data_deletion")
# Questions about the program: answered mid-form when the message reads as a question.
# (A program topic interrupts when topics.yml says it may: `interrupts_screening`.)
QUESTION_INTENTS = (TOPIC_INTENT, "ask_capabilities", "ask_recommendation", "bot_challenge", "out_of_scope", "apply")
INTERRUPTING_INTENTS = CONTROL_INTENTS + QUESTION_INTENTS
CONTROL_CONFIDENCE = 0.7
QUESTION_CONFIDENCE = 0.5
# A message the form cannot read as an answer and that has no question form is still taken as a question
# when the NLU is sure of one of these; otherwise it is re-asked with the reason (never a loop of asides).
UNMARKED_QUESTION_INTENTS = (TOPIC_INTENT, "ask_capabilities", "bot_challenge")
UNMARKED_QUESTION_CONFIDENCE = 0.8
HELP_AFTER_FAILURES = 2
# Free-text answers are taken as answers unless they read as a question.
_QUESTION = re.compile(
    r"[?？]|^(what|how|which|who|when|where|why|can|could|do|does|did|is|are|will|would|should|may|tell me)\b"
    r"|吗|呢|什么|怎么|怎样|如何|哪|为什么|是否|能否|能不能|可不可以|有没有",
    re.I,
)
_SKIPPED_EVENTS = ("slot", "bot", "active_loop", "user_featurization", "loop_interrupted")


def screening() -> Screening:
    return Screening(default_screening())


def answers_of(tracker: Tracker) -> Dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in form_slots()}


def choice_of(message: Dict[str, Any]) -> Optional[str]:
    for entity in message.get("entities") or []:
        if entity.get("entity") == "choice" and isinstance(entity.get("value"), str):
            return entity["value"]
    return None


def fresh_input(tracker: Tracker) -> bool:
    """True when the form runs on a new user message (not on activation or on return after a question)."""
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return True
        # Rasa hands the validation a tracker that already ends with the form's own action event.
        if kind == "action" and event.get("name") not in ("action_extract_slots",) + FORMS:
            return False
    return False


def clear_form(extra: Optional[Dict[str, Any]] = None) -> List[EventType]:
    """Forget every answer (after sending, refusing or stopping): the next screening starts clean."""
    events = [SlotSet(slot, None) for slot in form_slots()]
    events += [SlotSet("form_state", None), SlotSet("requested_slot", None)]
    return events + [SlotSet(k, v) for k, v in (extra or {}).items()]


def send(dispatcher: CollectingDispatcher, prompt: Reply) -> None:
    buttons = [{"title": b.title, "payload": b.payload} for b in prompt.buttons]
    dispatcher.utter_message(text=prompt.text, buttons=buttons or None)


def contact_text(language: str) -> str:
    """The staff contact as every other answer gives it (from configuration, never invented)."""
    return Composer(default_store.current(), language, StaffContact.from_env()).contact_details()


class ValidateForm(Action):
    """Reads the answer to the question just asked, plus answers given unasked, and picks the next question."""

    form = ""

    def name(self) -> str:
        return f"validate_{self.form}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        s = screening()
        language = language_of(tracker)
        answers = answers_of(tracker)
        state: Dict[str, Any] = dict(tracker.get_slot("form_state") or {})
        asked = tracker.get_slot("requested_slot")
        events: List[EventType] = [SlotSet("language", language)]
        if asked in s.questions and fresh_input(tracker):
            updates = self.read(s, dispatcher, tracker, asked, answers, state, language)
            if updates is None:
                return []  # not an answer: the form rejects, a rule takes the message, the form asks again
            answers.update(updates)
            events += [SlotSet(k, v) for k, v in updates.items()]
        if self.form == "screening_form" and s.profile_complete(answers):
            self.show_assessment(s, dispatcher, tracker, answers, state, language)
        events.append(SlotSet("form_state", state))
        events.append(SlotSet("requested_slot", s.next_question(self.form, answers)))
        return events

    def read(self, s: Screening, dispatcher: CollectingDispatcher, tracker: Tracker, asked: str,
             answers: Dict[str, Any], state: Dict[str, Any], language: str) -> Optional[Dict[str, Any]]:
        message = tracker.latest_message
        text = (message.get("text") or "").strip()
        choice = choice_of(message)
        intent = (message.get("intent") or {}).get("name")
        confidence = float((message.get("intent") or {}).get("confidence") or 0.0)
        reading = s.read(asked, text, choice, intent)
        topic = default_store.current().topics.get(topic_of(tracker) or "")
        if intent == TOPIC_INTENT and topic is not None and not topic.interrupts_screening:
            intent = None  # this topic is not taken up mid-form: the message is read as an answer
        if intent == "apply" and self.form == "screening_form":
            intent = None  # "we want to join" while joining: an answer, or a re-ask, never a restart
        if choice is None and self.interrupts(s.answers_no(asked), text, intent, confidence, reading.ok):
            return None
        updates: Dict[str, Any] = {}
        failures = state.setdefault("failures", {})
        if reading.ok:
            failures.pop(asked, None)
            kind = s.questions[asked].kind
            if kind == "confirm" and str(reading.value).startswith("edit"):
                target = str(reading.value).partition(":")[2]
                state["editing"] = not target
                if target in s.questions:
                    updates[target] = None  # asked again next
            else:
                updates[asked] = reading.value
                state.pop("editing", None)
                if kind == "consent" and reading.value is True:
                    state["consent_at"] = time.time()
        unasked = s.unasked_answers(text, asked, {**answers, **updates}) if choice is None else {}
        for key, value in unasked.items():
            if answers.get(key) is not None:
                dispatcher.utter_message(text=s.data.message(
                    "corrected", language, field=s.label(key, answers, language), value=s.display(key, value, language)))
            updates[key] = value
        if not reading.ok and not unasked:
            failures[asked] = failures.get(asked, 0) + 1
            invalid = reading.invalid
            key = invalid.reason if invalid else "invalid_choice"
            dispatcher.utter_message(text=s.data.message(key, language, **dict(invalid.values if invalid else ())))
            if failures[asked] >= HELP_AFTER_FAILURES:
                dispatcher.utter_message(text=s.data.message("help", language, contact=contact_text(language)))
            logger.info("form %s: answer to %s not understood (attempt %d)", self.form, asked, failures[asked])
            updates[asked] = None  # a slot event, so the form re-asks rather than rejecting
        return updates

    @staticmethod
    def interrupts(no_is_an_answer: bool, text: str, intent: Optional[str], confidence: float, understood: bool) -> bool:
        """Whether the message is a question or a request to leave rather than an answer."""
        if intent in CONTROL_INTENTS and confidence >= CONTROL_CONFIDENCE:
            # "No" to the consent question is an answer, not a wish to stop.
            return not (understood and no_is_an_answer)
        if intent in QUESTION_INTENTS and confidence >= QUESTION_CONFIDENCE and _QUESTION.search(text):
            return True
        return (not understood and intent in UNMARKED_QUESTION_INTENTS
                and confidence >= UNMARKED_QUESTION_CONFIDENCE)

    def show_assessment(self, s: Screening, dispatcher: CollectingDispatcher, tracker: Tracker,
                        answers: Dict[str, Any], state: Dict[str, Any], language: str) -> None:
        """Tell the user the outcome once per version of their profile (again after a correction)."""
        profile = s.profile_data(answers)
        marker = hashlib.sha256(json.dumps(profile, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
        if state.get("assessed") == marker:
            return
        state["assessed"] = marker
        assessment = s.assessment(answers)
        dispatcher.utter_message(text=s.assessment_text(assessment, language, contact_text(language)))
        record("screening_completed", tracker, language, assessment.category)
        if assessment.qualified:
            record("qualified", tracker, language, assessment.category)
        logger.info("screening assessed: category=%s qualified=%s score=%d",
                    assessment.category, assessment.qualified, assessment.score)


class ValidateScreeningForm(ValidateForm):
    form = "screening_form"


class ValidateHandoffForm(ValidateForm):
    form = "handoff_form"


class AskQuestion(Action):
    """`action_ask_<question>`: the question in the user's language, with its buttons."""

    question = ""

    def name(self) -> str:
        return f"action_ask_{self.question}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        s = screening()
        language = language_of(tracker)
        answers = answers_of(tracker)
        state = tracker.get_slot("form_state") or {}
        if s.questions[self.question].kind == "confirm" and state.get("editing"):
            form = "handoff_form" if tracker.active_loop.get("name") == "handoff_form" else "screening_form"
            send(dispatcher, s.edit_prompt(answers, language, form))
        else:
            send(dispatcher, s.prompt(self.question, answers, language))
        return []


# One asking action per question of screening.yml, named as Rasa's forms look them up (action_ask_<slot>).
for _question in default_screening().questions:
    _name = "AskQuestion_" + _question
    globals()[_name] = type(_name, (AskQuestion,), {"question": _question})
