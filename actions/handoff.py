"""What ends a form: sending a lead or hand-off to the outbox, refusal, stopping, and erasure on request.

The user never waits on the intake service: a submission is a write to the Redis outbox and the delivery
worker does the rest. Only when Redis itself is down does the action post directly, with a short timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import redis
import requests
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import language_of
from actions.forms import answers_of, clear_form, contact_text, screening
from actions.funnel import record
from bot.leads.outbox import Outbox
from bot.program.screening import Screening
from bot.redis_conn import redis_from_env

logger = logging.getLogger(__name__)

CHANNEL_PREFIXES = {"web-": "web", "telegram-": "telegram"}  # sender ids the web gateway and the bridge use
MAX_TURNS, MAX_TURN_CHARS = 300, 4000  # the intake's transcript limits
DIRECT_POST_TIMEOUT = 3.0
ERASURE_WAIT_SECONDS = 4.0


def channel_of(tracker: Tracker) -> str:
    for prefix, channel in CHANNEL_PREFIXES.items():
        if tracker.sender_id.startswith(prefix):
            return channel
    return tracker.get_latest_input_channel() or "rest"


def transcript(tracker: Tracker, s: Screening, language: str) -> List[Dict[str, Any]]:
    """The conversation as the staff console shows it; a pressed button appears as its title."""
    turns = []
    for event in tracker.events:
        if event.get("event") not in ("user", "bot") or not event.get("text"):
            continue
        text = event["text"]
        if event["event"] == "user" and text.startswith("/"):
            text = _button_title(text, s, language)
        turns.append({"sender": event["event"], "text": text[:MAX_TURN_CHARS], "timestamp": float(event.get("timestamp") or 0)})
    return turns[-MAX_TURNS:]


def _button_title(payload: str, s: Screening, language: str) -> str:
    _, _, entities = payload.partition("{")
    try:
        choice = json.loads("{" + entities).get("choice", "") if entities else ""
    except ValueError:
        return payload
    for options in s.rules.options.values():
        if choice in options:
            return options[choice].get(language)
    for band in s.rules.employee_bands:
        if band.key == choice:
            return band.label.get(language)
    words = {"yes": "button_yes", "no": "button_no", "send": "button_send", "edit": "button_edit",
             "cancel": "button_cancel", "skip": "button_skip"}
    return s.data.message(words[choice], language) if choice in words else payload


def intake_body(kind: str, tracker: Tracker, s: Screening, answers: Dict[str, Any], language: str) -> Dict[str, Any]:
    state = tracker.get_slot("form_state") or {}
    consent_at = datetime.fromtimestamp(float(state.get("consent_at") or time.time()), tz=timezone.utc)
    person = answers.get("contact_person") or answers.get("org_name")
    profile = s.profile_data(answers) if s.profile_complete(answers) else None
    return {
        "kind": kind,
        "conversation_id": tracker.sender_id,
        "channel": channel_of(tracker),
        "language": language,
        "profile": profile,
        "contact": {"person": person, "email": answers.get("email"), "phone": answers.get("phone") or None},
        "consent": {"given": True, "notice_version": s.data.notice.version, "given_at": consent_at.isoformat()},
        "transcript": transcript(tracker, s, language),
        "note": answers.get("handoff_note") if kind == "handoff" else None,
    }


def hand_over(kind: str, conversation_id: str, body: Dict[str, Any]) -> Optional[str]:
    """Queue the job in the outbox (or, with Redis down, post it directly); the reference, or None on failure."""
    try:
        return Outbox(redis_from_env()).put(kind, conversation_id, body).id
    except redis.RedisError as error:
        logger.error("outbox unreachable (%s); posting the %s directly", error.__class__.__name__, kind)
    job_id = f"{kind}-direct-{int(time.time() * 1000)}"
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
    """A direct call to /api/leads with the intake key and a short timeout (only when the outbox is down)."""
    headers = {"X-API-Key": os.environ.get("INTAKE_API_KEY", ""), **kwargs.pop("headers", {})}
    url = f"{os.environ.get('INTAKE_URL', 'http://127.0.0.1:8000')}/api/leads"
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
        if answers.get("handoff_wanted") is False:
            language = language_of(tracker)
            dispatcher.utter_message(text=screening().data.message("handoff_declined", language,
                                                                   contact=contact_text(language)))
            return [SlotSet("handoff_wanted", None), SlotSet("handoff_note", None), SlotSet("requested_slot", None)]
        return await submit("handoff", dispatcher, tracker)


async def submit(kind: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    s = screening()
    language = language_of(tracker)
    answers = answers_of(tracker)
    message = s.data.message
    if answers.get("consent") is False:
        dispatcher.utter_message(text=message("consent_refused", language, contact=contact_text(language)))
        return clear_form()
    if answers.get("confirmed") == "cancel":
        dispatcher.utter_message(text=message("cancelled", language))
        return clear_form()
    if kind == "lead" and not (s.profile_complete(answers) and s.assessment(answers).qualified):
        return clear_form()  # the assessment, already shown, said why; no contact details were taken
    if answers.get("confirmed") != "send" or answers.get("consent") is not True:
        return clear_form()
    body = intake_body(kind, tracker, s, answers, language)
    job_id = await asyncio.to_thread(hand_over, kind, tracker.sender_id, body)
    if job_id is None:
        dispatcher.utter_message(text=message("submit_failed", language, contact=contact_text(language)))
        return [SlotSet("confirmed", None), SlotSet("requested_slot", None)]  # answers kept for a retry
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


class ActionStartScreening(Action):
    """Base for the actions that open the screening form (apply, ask_recommendation)."""

    action_name = ""

    def name(self) -> str:
        return self.action_name

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        language = language_of(tracker)
        data = screening().data
        if tracker.active_loop.get("name") == "screening_form":
            dispatcher.utter_message(text=data.message("resume", language))
        else:
            dispatcher.utter_message(text=data.message("start", language))
            record("screening_started", tracker, language)
        return [SlotSet("language", language)]


class ActionApply(ActionStartScreening):
    action_name = "action_apply"


class ActionRecommendation(ActionStartScreening):
    action_name = "action_recommendation"
