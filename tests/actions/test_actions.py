"""Every custom action, run as the action server runs it: real Tracker, real dispatcher."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import yaml
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

import actions
from actions.conversation import ActionAffirm, ActionClarify, ActionDeny, ActionGreet, ActionOutOfScope
from actions.program import ActionAnswerTopic, ActionInform
from actions.support import ActionRequestHuman
from bot.shared.transcript import WHOLE_SESSION_ACTIONS
from tests.actions.conftest import category, make_tracker, topic_button, topic_tracker
from tests.conftest import ROOT


async def run(action: Action, tracker, dispatcher: CollectingDispatcher):
    events = await action.run(dispatcher, tracker, {})
    text = "\n".join(m.get("text") or "" for m in dispatcher.messages)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return text, slots


def concrete_actions() -> list:
    """Every action class the action server registers under a real name (bases have empty or partial names)."""
    found = set()
    for module in pkgutil.iter_modules(actions.__path__):
        for _, cls in inspect.getmembers(importlib.import_module(f"actions.{module.name}"), inspect.isclass):
            if issubclass(cls, Action) and cls.__module__.startswith("actions."):
                name = cls().name()
                if name and not name.endswith("_"):
                    found.add(cls)
    return sorted(found, key=lambda c: c().name())


def all_actions() -> list:
    """The actions that answer a message (not the forms' machinery)."""
    return [cls for cls in concrete_actions() if getattr(cls, "action_name", "")]


def test_every_domain_action_is_implemented_and_every_action_is_in_the_domain() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    assert sorted(cls().name() for cls in concrete_actions()) == sorted(domain["actions"])


def test_the_actions_that_send_a_lead_with_its_transcript_get_the_whole_session() -> None:
    senders = {cls().name() for cls in concrete_actions() if "submit(" in inspect.getsource(cls.run)}
    assert senders and senders == WHOLE_SESSION_ACTIONS  # rasa_addons.tracker_store sends them every event


@pytest.mark.parametrize("cls", all_actions(), ids=lambda c: c.action_name)
@pytest.mark.parametrize(("text", "lang"), [("hello there, a question", "en"), ("你好，我想问一下", "zh")])
async def test_every_action_answers_in_the_language_of_the_message(cls, text, lang, dispatcher) -> None:
    reply, slots = await run(cls(), make_tracker(text, "greet"), dispatcher)
    assert reply.strip(), f"{cls.action_name} sent nothing"
    assert slots["language"] == lang
    has_chinese = any("\u4e00" <= ch <= "\u9fff" for ch in reply)
    assert has_chinese == (lang == "zh")


async def test_greeting_in_english(dispatcher) -> None:
    text, _ = await run(ActionGreet(), make_tracker("hi", "greet"), dispatcher)
    assert "City Partner program" in text


async def test_button_payload_keeps_the_language_of_the_conversation(dispatcher) -> None:
    tracker = make_tracker(
        '/ask_program{"topic":"benefits","partner_category":"city_dreamer"}', "ask_program",
        [topic_button("benefits"), category("city_dreamer")], {"language": "zh"}
    )
    text, slots = await run(ActionAnswerTopic(), tracker, dispatcher)
    assert "城市梦想家" in text and slots["language"] == "zh"


async def test_benefits_without_category_cover_all_and_offer_buttons(dispatcher) -> None:
    text, slots = await run(ActionAnswerTopic(), topic_tracker("what are the benefits?", "benefits"), dispatcher)
    assert "Canton Fair" in text and slots["topic"] == "benefits"
    buttons = [b["payload"] for m in dispatcher.messages for b in (m.get("buttons") or [])]
    assert len([p for p in buttons if p.startswith('/ask_program{"topic":"benefits","partner_category"')]) == 4


async def test_what_about_follow_up_answers_the_remembered_topic(dispatcher) -> None:
    tracker = make_tracker("what about city dreamers?", "inform", [category("city_dreamer")], {"topic": "benefits"})
    text, _ = await run(ActionInform(), tracker, dispatcher)
    assert "City dreamers" in text and "Canton Fair" in text


async def test_follow_up_after_eligibility_answers_eligibility_in_chinese(dispatcher) -> None:
    tracker = make_tracker("那城市推广大使呢", "inform", [category("city_ambassador")], {"topic": "eligibility"})
    text, _ = await run(ActionInform(), tracker, dispatcher)
    assert "城市推广大使的对象" in text and "科技领军人才" in text


async def test_they_refers_back_to_the_category_named_before(dispatcher) -> None:
    tracker = topic_tracker("and what do they get?", "benefits", [], {"partner_category": "super_partner"})
    text, _ = await run(ActionAnswerTopic(), tracker, dispatcher)
    assert "Super partners" in text


async def test_eligibility_for_one_category(dispatcher) -> None:
    tracker = topic_tracker("who can be a strategic partner", "eligibility", [category("strategic_partner")])
    text, slots = await run(ActionAnswerTopic(), tracker, dispatcher)
    assert "Fortune Global 500" in text and slots["topic"] == "eligibility"


async def test_category_info_in_chinese(dispatcher) -> None:
    tracker = topic_tracker("介绍一下超级合伙人", "category_info", [category("super_partner")])
    text, _ = await run(ActionAnswerTopic(), tracker, dispatcher)
    assert "超级合伙人" in text and "单项冠军" in text


@pytest.mark.parametrize(
    ("topic", "text", "expected"),
    [
        ("overview", "what is this program", "8 February 2025"),
        ("categories", "what categories are there", "City ambassadors"),
        ("partners", "who joined already", "XPeng"),
        ("guangzhou", "what industries does guangzhou focus on", "IAB"),
        ("application", "how do I apply", "3 March 2025"),
    ],
)
async def test_topics_are_answered_from_the_program_data(topic, text, expected, dispatcher) -> None:
    reply, _ = await run(ActionAnswerTopic(), topic_tracker(text, topic), dispatcher)
    assert expected in reply


@pytest.mark.parametrize(
    ("cls", "text", "expected"),
    [
        (ActionRequestHuman, "can I talk to a person", "staff@example.org"),
        (ActionOutOfScope, "what's the weather", "only help with Guangzhou's City Partner program"),
    ],
)
async def test_answers_come_from_the_program_data(cls, text, expected, dispatcher) -> None:
    reply, _ = await run(cls(), make_tracker(text, "x"), dispatcher)
    assert expected in reply


@pytest.mark.parametrize(
    ("tracker", "expected"),
    [
        (topic_tracker("what's the deadline for applications?", "application"), "I don't know application deadlines"),
        (topic_tracker("申请费用是多少", "application"), "费用或最低出资要求"),
        (topic_tracker("what's the status of my application", "application"), "status of a particular application"),
        (make_tracker("is there a fee to join?", "out_of_scope"), "I don't know fees"),
    ],
)
async def test_what_the_facts_do_not_hold_gets_i_dont_know_and_the_staff_contact(tracker, expected, dispatcher) -> None:
    cls = ActionAnswerTopic if tracker.latest_message["intent"]["name"] == "ask_program" else ActionOutOfScope
    reply, _ = await run(cls(), tracker, dispatcher)
    assert expected in reply and ("staff@example.org" in reply)


async def test_no_contact_configured_is_said_plainly(monkeypatch, dispatcher) -> None:
    monkeypatch.delenv("PROGRAM_CONTACT_EMAIL")
    reply, _ = await run(ActionRequestHuman(), make_tracker("contact?", "request_human"), dispatcher)
    assert "not been configured" in reply


async def test_clarify_offers_buttons_from_the_ranking(dispatcher) -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "ask_program", "confidence": 0.3},
        {"name": "apply", "confidence": 0.2},
    ]
    tracker = make_tracker("hmm partner stuff?", "nlu_fallback", ranking=ranking)
    guesses = [{"name": "eligibility", "confidence": 0.6}, {"name": "benefits", "confidence": 0.4}]
    tracker.latest_message["topic"] = {"name": "eligibility", "confidence": 0.6, "ranking": guesses}
    await run(ActionClarify(), tracker, dispatcher)
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert payloads == ['/ask_program{"topic":"eligibility"}', '/ask_program{"topic":"benefits"}', "/apply", "/request_human"]


async def test_yes_takes_up_the_offer_and_no_declines_it(dispatcher) -> None:
    text, slots = await run(ActionAffirm(), make_tracker("yes please", "affirm", slots={"offer": "recommendation"}), dispatcher)
    assert "depends on who you are" in text and slots["offer"] is None
    other = CollectingDispatcher()
    text, _ = await run(ActionDeny(), make_tracker("no", "deny", slots={"offer": "categories"}), other)
    assert "anything else" in text
