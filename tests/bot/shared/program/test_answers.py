from __future__ import annotations

import json

import pytest

from bot.shared.program import load_knowledge
from bot.shared.program.answers import Composer, unknown_topics
from bot.shared.program.contact import StaffContact

KB = load_knowledge()
CONTACT = StaffContact(email="staff@example.org")


def compose(lang: str = "en", contact: StaffContact = CONTACT) -> Composer:
    return Composer(KB, lang, contact)


def all_text(answer) -> str:
    return "\n".join(r.text for r in answer.replies)


def test_overview_states_the_launch_and_cites_sources_in_each_language() -> None:
    en = all_text(compose("en").topic("overview"))
    zh = all_text(compose("zh").topic("overview"))
    assert "8 February 2025" in en and "Sources:" in en and "People's Daily Online" in en
    assert "2025年2月8日" in zh and "来源：" in zh


def test_categories_list_all_four_with_localised_names_and_buttons() -> None:
    answer = compose("zh").topic("categories")
    text = all_text(answer)
    for name in ("战略合作伙伴", "超级合伙人", "城市梦想家", "城市推广大使"):
        assert name in text
    payloads = [b.payload for b in answer.replies[0].buttons]
    assert '/ask_program{"topic":"category_info","partner_category":"city_dreamer"}' in payloads
    assert answer.offer == "recommendation"


def test_benefits_without_category_answer_for_all_and_offer_each_category() -> None:
    answer = compose("en").topic("benefits")
    assert "Canton Fair" in all_text(answer)
    buttons = answer.replies[-1].buttons
    assert [json.loads(b.payload[b.payload.index("{") :])["partner_category"] for b in buttons] == list(KB.categories)
    assert answer.topic == "benefits"


def test_benefits_of_one_category_never_invent_a_package() -> None:
    text = all_text(compose("en").topic("benefits", "city_dreamer"))
    assert "City dreamers" in text and "agreed case by case" in text


def test_eligibility_of_one_category_states_who_it_is_for() -> None:
    text = all_text(compose("en").topic("eligibility", "super_partner"))
    assert "little giant" in text and "law, accounting" in text
    zh = all_text(compose("zh").topic("eligibility", "super_partner"))
    assert "超级合伙人" in zh and "小巨人" in zh


@pytest.mark.parametrize(
    ("topic", "expected"),
    [("benefits", "Canton Fair"), ("eligibility", "micro, small and medium"), (None, "micro, small and medium")],
)
def test_follow_up_answers_the_remembered_topic(topic, expected) -> None:
    assert expected in all_text(compose("en").about_category("city_dreamer", topic))


def test_contact_comes_from_configuration_only() -> None:
    assert "staff@example.org" in all_text(compose("en").request_human())
    assert "not been configured" in all_text(compose("en", StaffContact()).request_human())
    text = all_text(compose("zh", StaffContact(email="a@b.org", phone="+86 20 1234 5678")).request_human())
    assert "邮箱 a@b.org" in text and "电话 +86 20 1234 5678" in text


@pytest.mark.parametrize(
    ("question", "keys"),
    [
        ("What is the deadline to apply?", ["deadline"]),
        ("Is there a membership fee?", ["fees"]),
        ("申请截止日期是什么时候", ["deadline"]),
        ("加入要交钱吗", ["fees"]),
        ("what's the status of my application", ["status"]),
        ("我们的申请进度怎么样了", ["status"]),
        ("where is your office address", ["office"]),
        ("what do partners get?", []),
        ("how much revenue do we need", []),
        ('/ask_program{"topic": "application"}', []),
    ],
)
def test_unknown_topics_are_detected(question: str, keys: list) -> None:
    assert [t.key for t in unknown_topics(KB, question, CONTACT)] == keys


def test_phone_is_unknown_only_until_staff_configure_one() -> None:
    assert [t.key for t in unknown_topics(KB, "office phone number?", CONTACT)] == ["phone"]
    assert unknown_topics(KB, "office phone number?", StaffContact(phone="+86 20 1")) == []


def test_unknown_answer_says_so_and_hands_off() -> None:
    topics = unknown_topics(KB, "what are the fees", CONTACT)
    text = all_text(compose("en").unknown(topics))
    assert "I don't know fees or minimum contributions" in text and "staff@example.org" in text
    assert "费用或最低出资要求" in all_text(compose("zh").unknown(topics))


def test_clarify_offers_the_likeliest_topics_and_a_way_to_staff() -> None:
    ranking = [{"name": "nlu_fallback"}, {"name": "ask_program"}, {"name": "inform"}, {"name": "apply"}]
    topics = [{"name": "benefits", "confidence": 0.7}, {"name": "eligibility", "confidence": 0.2}, {"name": "overview"}]
    buttons = compose("en").clarify(ranking, topics).replies[0].buttons
    assert [b.payload for b in buttons] == [
        '/ask_program{"topic":"benefits"}', '/ask_program{"topic":"eligibility"}', "/apply", "/request_human"]


def test_every_topic_answers_in_both_languages_with_its_facts_and_sources() -> None:
    for key, topic in KB.topics.items():
        for lang in ("en", "zh"):
            text = all_text(compose(lang).topic(key))
            for message in topic.answer:
                if message.facts:
                    assert all(f.text.get(lang) in text for f in KB.section(message.facts)), (key, lang)
                    assert ("来源：" if lang == "zh" else "Sources:") in text, (key, lang)


def test_yes_takes_up_the_offer() -> None:
    assert "four partner categories" in all_text(compose("en").offered("categories"))
    assert "What would you like to know" in all_text(compose("en").offered(None))
