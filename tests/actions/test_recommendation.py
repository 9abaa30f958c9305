"""Who the user says they are, read at once: a recommendation with reasons, the screening offered, and the
screening opening with those answers filled in (Python 3.10, real Tracker and dispatcher)."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionAffirm, ActionClarify, ActionGreet, ActionOutOfScope
from actions.handoff import ActionApply, ActionRecommendation
from actions.program import ActionAnswerTopic
from tests.actions.conftest import make_tracker, topic_tracker


async def run(action, tracker) -> tuple:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return [m for m in dispatcher.messages], slots, events


def text(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


async def test_a_self_description_gets_the_category_at_once_and_the_screening_offered() -> None:
    messages, slots, _ = await run(ActionRecommendation(), make_tracker(
        "We're a national 'little giant' manufacturer — which category is ours?", "ask_recommendation"))
    assert "Super partner" in text(messages) and "little giant" in text(messages)
    assert [b["payload"] for b in messages[-1]["buttons"]] == ["/apply", "/deny"]
    assert slots["org_type"] == "enterprise" and slots["credentials"] == ["little_giant"] and slots["offer"] == "screening"


async def test_mixed_chinese_and_english_is_read_too() -> None:
    messages, slots, _ = await run(ActionRecommendation(), make_tracker(
        "我们是 Fortune Global 500 company，属于哪个 category？", "ask_recommendation"))
    assert "战略合作伙伴" in text(messages) and slots["language"] == "zh"


async def test_without_a_description_the_answer_says_what_decides_and_offers_the_screening() -> None:
    messages, slots, _ = await run(ActionRecommendation(), make_tracker("which category fits me?", "ask_recommendation"))
    assert "depends on who you are" in text(messages) and slots["offer"] == "screening" and "org_type" not in slots


async def test_yes_opens_the_screening_with_what_was_said_filled_in() -> None:
    tracker = make_tracker("yes", "affirm", slots={"offer": "screening", "org_type": "enterprise",
                                                   "credentials": ["little_giant"]})
    messages, slots, events = await run(ActionAffirm(), tracker)
    assert "few short questions" in text(messages) and "little giant" in text(messages)  # noted, correctable
    assert any(e["event"] == "followup" and e["name"] == "screening_form" for e in events) and slots["offer"] is None


async def test_joining_with_who_they_are_opens_the_screening_prefilled() -> None:
    messages, slots, _ = await run(ActionApply(), make_tracker(
        "I'm a marathon champion and would love to promote Guangzhou", "apply", slots={}))
    assert slots["org_type"] == "individual" and slots["field"] == "sports"
    assert slots["achievement"] == "internationally_renowned" and "Individual" in text(messages)


async def test_an_eligibility_question_that_says_who_is_asking_gets_their_category_too() -> None:
    messages, slots, _ = await run(ActionAnswerTopic(), topic_tracker(
        "Can individuals become partners? I'm an investor", "eligibility"))
    assert "Who can join" in text(messages) and "From what you said" in text(messages)
    assert slots["offer"] == "screening" and slots["org_type"] == "individual" and slots["field"] == "investment"


async def test_an_opener_the_nlu_cannot_place_but_that_says_who_they_are_is_never_turned_away() -> None:
    opener = "Hi there, I lead the China practice of a big accounting firm and want to see how we can join."
    for action, intent in ((ActionOutOfScope(), "out_of_scope"), (ActionClarify(), "nlu_fallback")):
        messages, slots, _ = await run(action, make_tracker(opener, intent))
        assert "From what you said" in text(messages) and "only help with" not in text(messages)
        assert slots["org_type"] == "professional_services" and slots["offer"] == "screening"


async def test_an_off_topic_message_is_still_off_topic() -> None:
    messages, slots, _ = await run(ActionOutOfScope(), make_tracker("what's the weather like tomorrow", "out_of_scope"))
    assert "only help with" in text(messages) and "org_type" not in slots


async def test_a_greeting_that_says_who_they_are_is_more_than_a_hello() -> None:
    messages, slots, _ = await run(ActionGreet(), make_tracker(
        "hello! small drone company from Shenzhen here, 30 staff, could we take part?", "greet"))
    assert "From what you said" in text(messages) and slots["offer"] == "screening"
    messages, slots, _ = await run(ActionGreet(), make_tracker("hello there!", "greet"))
    assert "From what you said" not in text(messages) and slots.get("offer") is None


async def test_asking_about_a_category_while_saying_who_they_are_gets_the_indication_too() -> None:
    tracker = topic_tracker("我是做书法的，可以申请城市推广大使吗", "category_info")
    tracker.latest_message["entities"] = [{"entity": "partner_category", "value": "city_ambassador"}]
    messages, slots, _ = await run(ActionAnswerTopic(), tracker)
    assert "城市推广大使" in text(messages) and slots["offer"] == "screening" and slots["field"] == "culture"
