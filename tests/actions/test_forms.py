"""The forms' actions with real rasa_sdk trackers: reading answers, re-asking, corrections, questions
mid-form, consent, sending to the outbox (real Redis, a test database) and erasure."""

from __future__ import annotations

import os
import uuid
from typing import Any, Dict, Iterator, List, Optional

import pytest
import redis
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import INTERRUPTING_INTENTS, AskQuestion, ValidateHandoffForm, ValidateScreeningForm
from actions.handoff import ActionApply, ActionRequestDataDeletion, ActionScreeningStop, ActionScreeningSubmit
from bot.shared.channels import channel_of
from bot.shared.outbox import Outbox
from bot.shared.program.screening import form_slots
from tests import redis_env
from tests.conftest import ROOT

FORM_SLOTS = form_slots()

REDIS_DB = os.environ.get("TEST_REDIS_DB", "13")
QUALIFIED = {"org_type": "enterprise", "org_name": "Acme Robotics", "country": "China", "credentials": ["china_top_500"],
             "employees": 5000, "industry": "industrial robots", "guangzhou_presence": "present",
             "contribution": "a research centre"}
BEFORE_PRESENCE = {k: v for k, v in QUALIFIED.items() if k not in ("guangzhou_presence", "contribution")}


@pytest.fixture(autouse=True)
def test_redis(monkeypatch) -> Iterator[redis.Redis]:
    redis_env.use_db(monkeypatch, int(REDIS_DB))
    monkeypatch.setenv("INTAKE_URL", "http://127.0.0.1:9")  # nothing listens: the direct fallback must not be used
    client = redis_env.client(int(REDIS_DB), decode_responses=True)
    yield client


def tracker(text: str, intent: str = "inform", slots: Optional[Dict[str, Any]] = None, requested: Optional[str] = None,
            choice: Optional[str] = None, confidence: float = 0.95, fresh: bool = True, sender: str = "",
            active_loop: str = "screening_form") -> Tracker:
    """`intent` may be `ask_program/<topic>`: a program question about that topic."""
    entities = [{"entity": "choice", "value": choice}] if choice else []
    intent, _, topic = intent.partition("/")
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities,
              "intent_ranking": [{"name": intent, "confidence": confidence}]}
    if topic:
        latest["topic"] = {"name": topic, "confidence": 1.0, "ranking": [{"name": topic, "confidence": 1.0}]}
    events: List[Dict[str, Any]] = [{"event": "user", "text": text, "parse_data": latest, "timestamp": 1.0}]
    events.append({"event": "action", "name": "action_extract_slots" if fresh else "action_answer_topic"})
    values = {**(slots or {}), "requested_slot": requested}
    return Tracker(sender or f"test-{uuid.uuid4()}", values, latest, events, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


async def validate(t: Tracker, form=ValidateScreeningForm):
    dispatcher = CollectingDispatcher()
    events = await form().run(dispatcher, t, {})
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return slots, [m.get("text") or "" for m in dispatcher.messages], events


async def test_an_answer_is_stored_and_the_next_question_requested() -> None:
    slots, texts, _ = await validate(tracker("We are a law firm", requested="org_type"))
    assert slots["org_type"] == "professional_services" and slots["requested_slot"] == "org_name" and texts == []


async def test_a_button_answer_and_an_unasked_credential() -> None:
    slots, _, _ = await validate(tracker('/inform{"choice":"enterprise"}', requested="org_type", choice="enterprise"))
    assert slots["org_type"] == "enterprise"
    slots, _, _ = await validate(tracker("We are a Fortune 500 firm", requested="org_type"))
    assert slots["credentials"] == ["fortune_global_500"]


async def test_a_bad_email_is_re_asked_with_a_reason_then_help_after_two_failures() -> None:
    answers = {**QUALIFIED, "contact_person": "Wang Fang"}
    slots, texts, _ = await validate(tracker("wang at acme", slots=answers, requested="email"))
    assert slots["email"] is None and slots["requested_slot"] == "email"
    assert any("valid email" in t for t in texts) and not any("trouble" in t for t in texts)
    state = slots["form_state"]
    slots, texts, _ = await validate(tracker("wang@acme", slots={**answers, "form_state": state}, requested="email"))
    assert any("valid email" in t for t in texts) and any("trouble" in t for t in texts)
    assert any("email staff@example.org" in t for t in texts)  # the contact as every answer gives it


async def test_a_bad_phone_is_re_asked_in_chinese() -> None:
    answers = {**QUALIFIED, "contact_person": "王芳", "email": "wf@example.cn"}
    slots, texts, _ = await validate(tracker("电话是12345", slots={**answers, "language": "zh"}, requested="phone"))
    assert slots["phone"] is None and any("电话号码" in t for t in texts)


async def test_a_program_question_mid_form_is_not_taken_as_an_answer() -> None:
    slots, texts, events = await validate(tracker("what benefits do super partners get?", "ask_program/benefits",
                                                  requested="org_name"))
    assert events == [] and texts == []  # the form rejects; the rule answers; the form asks again


async def test_a_name_that_happens_to_look_like_a_topic_is_still_a_name() -> None:
    slots, _, _ = await validate(tracker("Guangzhou Robotics Ltd", "ask_program/guangzhou", confidence=0.8,
                                         slots={"org_type": "enterprise"}, requested="org_name"))
    assert slots["org_name"] == "Guangzhou Robotics Ltd"


async def test_an_answer_misread_as_joining_is_still_an_answer_and_never_loops() -> None:
    slots, _, _ = await validate(tracker("yes, we run a JV assembly plant in Huadu", "apply", confidence=0.9,
                                         slots=BEFORE_PRESENCE, requested="guangzhou_presence"))
    assert slots["guangzhou_presence"] == "present"
    slots, texts, events = await validate(tracker("hmm the usual", "apply", confidence=0.9,
                                                  slots=BEFORE_PRESENCE, requested="guangzhou_presence"))
    assert events and slots["requested_slot"] == "guangzhou_presence" and texts  # re-asked with the reason


async def test_an_unreadable_answer_is_a_question_only_when_the_nlu_is_sure() -> None:
    _, _, events = await validate(tracker("benefits for super partners", "ask_program/benefits", confidence=0.9,
                                          slots=BEFORE_PRESENCE, requested="guangzhou_presence"))
    assert events == []
    slots, _, _ = await validate(tracker("benefits for super partners", "ask_program/benefits", confidence=0.6,
                                         slots=BEFORE_PRESENCE, requested="guangzhou_presence"))
    assert slots["requested_slot"] == "guangzhou_presence" and slots["guangzhou_presence"] is None


async def test_stop_leaves_but_no_to_consent_is_an_answer() -> None:
    _, _, events = await validate(tracker("stop", "stop", requested="org_name"))
    assert events == []
    answers = {**QUALIFIED, "contact_person": "A B", "email": "a@example.com", "phone": ""}
    slots, _, _ = await validate(tracker("no", "deny", slots=answers, requested="consent"))
    assert slots["consent"] is False and slots["requested_slot"] is None


async def test_a_correction_mid_form_updates_the_earlier_answer_and_says_so() -> None:
    answers = {**QUALIFIED, "contact_person": "A B", "email": "old@example.com"}
    slots, texts, _ = await validate(tracker("actually our email is new@example.com", slots=answers, requested="phone"))
    assert slots["email"] == "new@example.com" and any("new@example.com" in t for t in texts)
    assert slots["requested_slot"] == "phone"


async def test_the_assessment_is_shown_once_when_the_profile_is_complete() -> None:
    answers = {k: v for k, v in QUALIFIED.items() if k != "contribution"}
    slots, texts, _ = await validate(tracker("a research centre", slots=answers, requested="contribution"))
    assert any("Super partner" in t for t in texts) and slots["requested_slot"] == "contact_person"
    _, texts, _ = await validate(tracker("Wang Fang", slots={**QUALIFIED, "form_state": slots["form_state"]},
                                         requested="contact_person"))
    assert not any("assessment" in t for t in texts)


async def test_edit_from_the_summary_asks_that_question_again() -> None:
    answers = {**QUALIFIED, "contact_person": "A B", "email": "a@example.com", "phone": "", "consent": True}
    slots, _, _ = await validate(tracker("change the email", slots=answers, requested="confirmed"))
    assert slots["email"] is None and slots["requested_slot"] == "email"


async def test_on_return_after_a_question_the_old_message_is_not_read_again() -> None:
    slots, texts, _ = await validate(tracker("what is a super partner?", "ask_program/category_info", requested="org_name",
                                             fresh=False, slots={"org_type": "enterprise"}))
    assert "org_name" not in slots and slots["requested_slot"] == "org_name" and texts == []


async def test_the_summary_is_the_confirmation_question() -> None:
    answers = {**QUALIFIED, "contact_person": "A B", "email": "a@example.com", "phone": "", "consent": True}
    ask = next(cls for cls in AskQuestion.__subclasses__() if cls.question == "confirmed")
    dispatcher = CollectingDispatcher()
    await ask().run(dispatcher, tracker("yes", "affirm", slots=answers, requested="confirmed"), {})
    message = dispatcher.messages[0]
    assert "Acme Robotics" in message["text"] and "a@example.com" in message["text"]
    assert [b["payload"] for b in message["buttons"]][0] == '/inform{"choice":"send"}'


def outbox_jobs(client: redis.Redis, sender: str) -> list:
    return [j for j in Outbox(client).pending() if j.conversation_id == sender]


async def test_a_confirmed_consented_lead_goes_to_the_outbox_and_the_answers_are_cleared(test_redis) -> None:
    sender = f"web-{uuid.uuid4()}"
    answers = {**QUALIFIED, "contact_person": "A B", "email": "a@example.com", "phone": "+8613800138000",
               "consent": True, "confirmed": "send", "form_state": {"consent_at": 1700000000.0}}
    dispatcher = CollectingDispatcher()
    events = await ActionScreeningSubmit().run(dispatcher, tracker("send", slots=answers, sender=sender), {})
    jobs = outbox_jobs(test_redis, sender)
    try:
        assert len(jobs) == 1
        body = jobs[0].body
        assert body["kind"] == "lead" and body["channel"] == "web" and body["contact"]["email"] == "a@example.com"
        assert body["consent"]["notice_version"] and body["consent"]["given_at"].startswith("2023-11-14")
        assert body["profile"]["name"] == "Acme Robotics" and body["transcript"][0]["text"] == "send"
        reply = dispatcher.messages[0]["text"]
        assert "{reference}" not in reply and jobs[0].id.replace("-", "")[-8:].upper() in reply
        cleared = {e["name"] for e in events if e.get("event") == "slot" and e["value"] is None}
        assert set(FORM_SLOTS) <= cleared
    finally:
        Outbox(test_redis).erase(sender)


async def test_the_same_turn_handled_again_hands_the_lead_in_once(test_redis) -> None:
    """A turn refused after the submit ran (rasa_addons.turn_guard) comes back with the same message id."""
    sender = f"web-{uuid.uuid4()}"
    answers = {**QUALIFIED, "contact_person": "A B", "email": "a@example.com", "phone": "+8613800138000",
               "consent": True, "confirmed": "send", "form_state": {"consent_at": 1700000000.0}}
    replies = []
    try:
        for _ in range(2):
            t = tracker("send", slots=answers, sender=sender)
            t.latest_message["message_id"] = "turn-0123456789abcdef"
            dispatcher = CollectingDispatcher()
            await ActionScreeningSubmit().run(dispatcher, t, {})
            replies.append(dispatcher.messages[0]["text"])
        jobs = outbox_jobs(test_redis, sender)
        assert [job.id for job in jobs] == ["lead-turn-0123456789abcdef"] and replies[0] == replies[1]
    finally:
        Outbox(test_redis).erase(sender)


@pytest.mark.parametrize("extra, expected",
                         [({"consent": False}, "Without your consent"), ({"confirmed": "cancel"}, "Cancelled")])
async def test_no_consent_or_cancel_sends_nothing(test_redis, extra, expected) -> None:
    sender = f"test-{uuid.uuid4()}"
    answers = {**QUALIFIED, "contact_person": "A B", "email": "a@example.com", "phone": "", "consent": True,
               "confirmed": "send", **extra}
    dispatcher = CollectingDispatcher()
    await ActionScreeningSubmit().run(dispatcher, tracker("no", slots=answers, sender=sender), {})
    assert outbox_jobs(test_redis, sender) == [] and expected in dispatcher.messages[0]["text"]


async def test_an_unqualified_profile_sends_nothing(test_redis) -> None:
    sender = f"test-{uuid.uuid4()}"
    answers = {"org_type": "individual", "org_name": "Li", "country": "China", "field": "other", "achievement": "none",
               "promotion": "", "guangzhou_presence": "none", "contribution": "a job", "confirmed": "send", "consent": True}
    await ActionScreeningSubmit().run(CollectingDispatcher(), tracker("x", slots=answers, sender=sender), {})
    assert outbox_jobs(test_redis, sender) == []


async def test_stop_clears_every_answer() -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionScreeningStop().run(dispatcher, tracker("停止", "stop", slots=QUALIFIED), {})
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events) and "已停止" in dispatcher.messages[0]["text"]
    assert all(e["value"] is None for e in events if e.get("event") == "slot" and e["name"] in FORM_SLOTS)


async def test_deletion_without_a_worker_says_it_is_queued_and_drops_queued_leads(test_redis) -> None:
    sender = f"test-{uuid.uuid4()}"
    outbox = Outbox(test_redis)
    outbox.put("lead", sender, {"x": 1})
    dispatcher = CollectingDispatcher()
    await ActionRequestDataDeletion().run(dispatcher, tracker("delete my data", "request_data_deletion", sender=sender), {})
    assert "recorded" in dispatcher.messages[0]["text"]
    assert [j.kind for j in outbox_jobs(test_redis, sender)] == ["erase"]
    for job in outbox_jobs(test_redis, sender):
        outbox.done(job)


async def test_apply_starts_or_resumes() -> None:
    dispatcher = CollectingDispatcher()
    await ActionApply().run(dispatcher, tracker("we want to join", "apply", active_loop=""), {})
    assert "few short questions" in dispatcher.messages[0]["text"]
    dispatcher = CollectingDispatcher()
    await ActionApply().run(dispatcher, tracker("we want to join", "apply"), {})
    assert "continue" in dispatcher.messages[0]["text"]


def test_channel_comes_from_the_sender_id() -> None:
    assert channel_of(tracker("x", sender="telegram-42").sender_id) == "telegram"
    assert channel_of(tracker("x", sender="web-abc").sender_id) == "web"
    assert channel_of(tracker("x", sender="wechat-0a1b2c").sender_id) == "wechat"  # the WeChat channel's leads


async def test_handoff_form_starts_with_the_offer() -> None:
    slots, _, _ = await validate(tracker("yes", "affirm", requested="handoff_wanted", active_loop="handoff_form"),
                                 ValidateHandoffForm)
    assert slots["handoff_wanted"] is True and slots["requested_slot"] == "handoff_note"


def test_every_interrupting_intent_has_a_rule_in_each_form() -> None:
    rules = yaml.safe_load((ROOT / "stories/forms.yml").read_text())["rules"]
    covered = {(r["condition"][0]["active_loop"], r["steps"][0]["intent"]) for r in rules
               if r.get("condition") and "intent" in r["steps"][0]}
    missing = [(form, i) for form in ("screening_form", "handoff_form") for i in INTERRUPTING_INTENTS
               if (form, i) not in covered]
    assert missing == []


def test_every_form_slot_is_in_the_domain() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    assert set(FORM_SLOTS) | {"form_state"} <= set(domain["slots"])
    assert all(f"action_ask_{slot}" in domain["actions"] for slot in FORM_SLOTS)
    assert os.environ.get("REDIS_DB") == REDIS_DB
