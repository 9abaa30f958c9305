"""Grounded retrieval: a question the topics do not cover is answered from the sourced facts, with their
sources, or not at all (Python 3.10; the figures on a whole question set are in `make eval`)."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionClarify, ActionOutOfScope
from actions.program import ActionAnswerTopic
from actions.retrieval import index_for
from bot.shared.program import default_store
from tests.actions.conftest import make_tracker, topic_tracker


async def reply(action, tracker) -> str:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, tracker, {})
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def test_the_index_finds_the_fact_in_either_language_and_ignores_contact_details() -> None:
    index = index_for(default_store.current())
    assert index.search("who is guangzhou's largest trading partner?")[0].fact.id == "us_largest_partner"
    assert index.search("广州最大的贸易伙伴是哪个国家")[0].fact.id == "us_largest_partner"
    with_email = index.search("largest trade partner of guangzhou? write to me at bob@example.com")[0]
    assert with_email.fact.id == "us_largest_partner"
    assert index.answer("what's the weather like today?") == [] and index.answer("讲个笑话") == []


async def test_a_question_no_intent_matched_is_answered_from_the_facts_with_sources() -> None:
    text = await reply(ActionClarify(), make_tracker("how much trade does guangzhou do with the US?", "nlu_fallback"))
    assert "United States" in text and "Sources:" in text and "Did you mean" not in text


async def test_without_a_fact_close_enough_the_assistant_asks_back_as_before() -> None:
    text = await reply(ActionClarify(), make_tracker("hmm partner stuff?", "nlu_fallback"))
    assert "Did you mean one of these?" in text


async def test_off_topic_stays_off_topic_and_a_broad_topic_answers_with_the_best_facts() -> None:
    assert "only help with" in await reply(ActionOutOfScope(), make_tracker("what's the weather like?", "out_of_scope"))
    text = await reply(ActionAnswerTopic(), topic_tracker("广交会每年有多少采购商？", "guangzhou"))
    assert "广交会" in text and "来源：" in text
