import pytest

from bot.shared.program.language import detect_language


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
