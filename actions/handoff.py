"""What ends a form: sending a lead or hand-off to the outbox, refusal, stopping, and erasure on request.

The user never waits on the intake service: a submission is a write to the Redis outbox and the delivery
worker does the rest. Only when Redis itself is down does the action post directly, with a short timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, List, Optional

import redis
import requests
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import language_of
from actions.forms import answers_of, clear_form, contact_text, screening, send
from actions.funnel import record
from bot.shared.config import env_str
from bot.shared.outbox import Outbox
from bot.shared.program import default_store, handover
from bot.shared.program.answers import Composer
from bot.shared.program.contact import StaffContact
from bot.shared.program.screening import Screening
from bot.shared.redis_conn import redis_from_env
from bot.shared.replies import Button, Reply

logger = logging.getLogger(__name__)

DIRECT_POST_TIMEOUT = 3.0
ERASURE_WAIT_SECONDS = 4.0


def lead_body(kind: str, tracker: Tracker, s: Screening, answers: Dict[str, Any], language: str) -> Dict[str, Any]:
    """The intake body for this conversation's lead or hand-off (bot.shared.program.handover)."""
    state = tracker.get_slot("form_state") or {}
    return handover.lead_body(s, kind=kind, conversation_id=tracker.sender_id, language=language, answers=answers,
                              consent_at=state.get("consent_at"), events=tracker.events)


def hand_over(kind: str, conversation_id: str, body: Dict[str, Any], job_id: Optional[str] = None) -> Optional[str]:
    """Queue the job in the outbox (or, with Redis down, post it directly); the reference, or None on failure.
    `job_id` (the turn's): a turn handled again after it was refused queues nothing new."""
    try:
        return Outbox(redis_from_env()).put(kind, conversation_id, body, job_id=job_id).id
    except redis.RedisError as error:
        logger.error("outbox unreachable (%s); posting the %s directly", error.__class__.__name__, kind)
    job_id = job_id or f"{kind}-direct-{int(time.time() * 1000)}"
    try:
        response = intake_request("POST", json=body, headers={"Idempotency-Key": job_id})
    except requests.RequestException as error:
        logger.error("direct post failed too (%s): nothing stored", error.__class__.__name__)
        return None
    if response.status_code in (200, 201):
        return job_id
    logger.error("direct post refused: HTTP %d", response.status_code)
    return None


def intake_request(method: str, **kwargs: Any) -> requests.Response:
    """A direct call to /api/leads with the key of its scope and a short timeout (only when the outbox is down):
    INTAKE_API_KEY creates, INTAKE_ADMIN_KEY erases (a deployment may withhold it from the action server)."""
    key = env_str("INTAKE_API_KEY") if method.upper() == "POST" else env_str("INTAKE_ADMIN_KEY")
    headers = {"X-API-Key": key, **kwargs.pop("headers", {})}
    url = f"{env_str('INTAKE_URL', 'http://127.0.0.1:8000')}/api/leads"
    return requests.request(method, url, headers=headers, timeout=DIRECT_POST_TIMEOUT, **kwargs)


def reference(job_id: str) -> str:
    return job_id.replace("-", "")[-8:].upper()


class ActionScreeningSubmit(Action):
    """After the screening form: send a qualified, consented and confirmed lead; otherwise store nothing."""

    def name(self) -> str:
        return "action_screening_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        return await submit("lead", dispatcher, tracker)


class ActionHandoffSubmit(Action):
    def name(self) -> str:
        return "action_handoff_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        answers = answers_of(tracker)
        s = screening()
        if s.handoff_wanted(answers) is False:
            language = language_of(tracker)
            dispatcher.utter_message(text=s.data.message("handoff_declined", language, contact=contact_text(language)))
            asked = [SlotSet(q.name, None) for q in s.questions.values() if q.stage == "handoff"]
            return asked + [SlotSet("requested_slot", None)]
        return await submit("handoff", dispatcher, tracker)


async def submit(kind: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    s = screening()
    language = language_of(tracker)
    answers = answers_of(tracker)
    message = s.data.message
    if s.consent(answers) is False:
        dispatcher.utter_message(text=message("consent_refused", language, contact=contact_text(language)))
        return clear_form()
    if s.confirmation(answers) == "cancel":
        dispatcher.utter_message(text=message("cancelled", language))
        return clear_form()
    if kind == "lead" and not s.passes_on(answers):
        return clear_form()  # the assessment, already shown, said why; no contact details were taken
    if s.confirmation(answers) != "send" or s.consent(answers) is not True:
        return clear_form()
    body = lead_body(kind, tracker, s, answers, language)
    # The job's id (the intake's Idempotency-Key) from the gateway's turn id: a turn refused after this action
    # ran (rasa_addons.turn_guard) is sent again with the same id, and must not hand the lead in twice.
    turn = (tracker.latest_message or {}).get("message_id")
    job_id = await asyncio.to_thread(hand_over, kind, tracker.sender_id, body, f"{kind}-{turn}" if turn else None)
    if job_id is None:
        dispatcher.utter_message(text=message("submit_failed", language, contact=contact_text(language)))
        confirm = s.data.of_kind("confirm")
        return [SlotSet(confirm.name if confirm else "confirmed", None), SlotSet("requested_slot", None)]  # kept for a retry
    logger.info("%s handed over as %s (channel %s)", kind, job_id, body["channel"])
    key = "submitted" if kind == "lead" else "handoff_submitted"
    dispatcher.utter_message(text=message(key, language, reference=reference(job_id)))
    return clear_form()


class ActionScreeningStop(Action):
    """"Stop" (or goodbye) during a form: leave it and forget the answers."""

    def name(self) -> str:
        return "action_screening_stop"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        language = language_of(tracker)
        dispatcher.utter_message(text=screening().data.message("stopped", language))
        return [ActiveLoop(None)] + clear_form({"language": language})


class ActionRequestDataDeletion(Action):
    """Erase what this conversation left: queued jobs at once, stored leads and hand-offs, the conversation."""

    def name(self) -> str:
        return "action_request_data_deletion"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        language = language_of(tracker)
        message = screening().data.message
        result = await asyncio.to_thread(erase, tracker.sender_id)
        if result is None:
            dispatcher.utter_message(text=message("deletion_pending", language))
        else:
            dispatcher.utter_message(text=message("deleted", language, count=result))
        return [ActiveLoop(None)] + clear_form({"language": language})


def erase(conversation_id: str) -> Optional[int]:
    """How many stored records were deleted, or None when the deletion is queued but not yet done."""
    try:
        outbox = Outbox(redis_from_env(socket_timeout=ERASURE_WAIT_SECONDS + 2))
        job = outbox.erase(conversation_id)
        result = outbox.wait_result(job.id, ERASURE_WAIT_SECONDS)
    except redis.RedisError as error:
        logger.error("erasure could not be queued (%s); deleting directly", error.__class__.__name__)
        try:
            response = intake_request("DELETE", params={"conversation_id": conversation_id})
            return int(response.json()["deleted"]) if response.status_code == 200 else None
        except (requests.RequestException, ValueError, KeyError):
            return None
    logger.info("erasure requested; %s", "done" if result is not None else "queued")
    return int(result["deleted"]) if result is not None else None


def described(tracker: Tracker, s: Screening) -> Dict[str, Any]:
    """The answers this message gives about who the user is, on top of those already noted."""
    return {**{k: v for k, v in answers_of(tracker).items() if v is not None},
            **s.describe(tracker.latest_message.get("text") or "")}


def prefill(answers: Dict[str, Any], s: Screening) -> List[EventType]:
    return [SlotSet(q, v) for q, v in answers.items() if q in s.questions and s.questions[q].stage == "profile"]


def open_screening(dispatcher: CollectingDispatcher, tracker: Tracker, s: Screening, language: str) -> List[EventType]:
    """The screening's first words: what it is, and the answers already known from what the user said."""
    answers = described(tracker, s)
    dispatcher.utter_message(text=s.data.message("start", language))
    known = {q: v for q, v in answers.items() if q in s.profile_questions(answers)}
    if known:
        dispatcher.utter_message(text=s.data.message("noted", language, noted=s.noted(known, language)))
    record("screening_started", tracker, language)
    return [SlotSet("language", language)] + prefill(known, s)


class ActionApply(Action):
    """"We'd like to join" (saying who they are, or not): the screening opens, with what they said filled in."""

    def name(self) -> str:
        return "action_apply"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        language = language_of(tracker)
        s = screening()
        if tracker.active_loop.get("name") == "screening_form":
            dispatcher.utter_message(text=s.data.message("resume", language))
            return [SlotSet("language", language)]
        return open_screening(dispatcher, tracker, s, language)


class ActionRecommendation(Action):
    """"Which category fits us?": answered at once from what they said (eligibility rules, with reasons), or
    with what decides it; then the screening is offered to confirm it and pass the details on."""

    def name(self) -> str:
        return "action_recommendation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        language = language_of(tracker)
        s = screening()
        if tracker.active_loop.get("name") == "screening_form":  # the questions under way are how it is found
            dispatcher.utter_message(text=s.data.message("recommendation_in_form", language))
            return [SlotSet("language", language)]
        answers = described(tracker, s)
        reply = s.indication(answers, language, contact_text(language)) or recommendation_offer(s, language)
        send(dispatcher, reply)
        record("conversation", tracker, language)
        return [SlotSet("language", language), SlotSet("offer", "screening")] + prefill(answers, s)


def recommendation_offer(s: Screening, language: str) -> Reply:
    """What decides the category, and the offer of the screening (nothing said about who they are yet)."""
    answer = Composer(default_store.current(), language, StaffContact.from_env()).recommendation()
    text = "\n".join(r.text for r in answer.replies) + "\n" + s.data.message("indication_offer", language)
    buttons = (Button(s.data.message("button_check", language), "/apply"), Button(s.data.message("button_no", language), "/deny"))
    return Reply(text, buttons)
