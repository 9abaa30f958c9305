import re

import pytest

from bot.shared.program.language import detect_language, keyword_pattern, keyword_regex


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What is the program?", "en"),
        ("城市合伙人计划是什么", "zh"),
        ("city dreamer有什么权益", "zh"),
        ("我想apply", "zh"),
        ('/ask_program{"topic": "benefits", "partner_category": "city_dreamer"}', None),
        ("12345", None),
        # An answer of an email, a phone number, a number or a name keeps the conversation's language.
        ("li.wei@example.cn", None),
        ("+86 138 0013 8000", None),
        ("Li Wei", None),
        ("Siemens AG", None),
        ("OK", None),
        ("WHO ARE CITY AMBASSADORS FOR???", "en"),
        ("pls send the requirements to bob@example.com", "en"),
        ("super partner benefits?", "en"),
        ("", None),
        (None, None),
    ],
)
def test_detect_language(text, language) -> None:
    assert detect_language(text) == language


KEYWORDS = ["ai", "software", "it services", "electric vehicle", "人工智能", "汽车"]


@pytest.mark.parametrize(
    "text",
    ["ai", "AIs and robots", "said", "software houses", "softwares", "it services", "an it service", "electric vehicles",
     "electric vehicle-maker", "hybrid-electric vehicle", "aide", "我们做人工智能", "汽车零部件", "car", "", "ai2"],
)
def test_one_keyword_pattern_matches_as_its_keywords_one_by_one(text: str) -> None:
    """The combined pattern (one word-boundary check for all Latin keywords) finds what each keyword's own finds."""
    alone = any(re.search(keyword_regex(word), text.lower()) for word in KEYWORDS)
    assert bool(keyword_pattern(KEYWORDS).search(text.lower())) == alone


def test_no_keywords_match_nothing() -> None:
    assert keyword_pattern([]).search("anything") is None
