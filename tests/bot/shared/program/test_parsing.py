"""Free-text answers: head counts, RMB amounts, emails (email-validator) and phones (phonenumbers)."""

from __future__ import annotations

import pytest

from bot.shared.program.parsing import (
    OptionWords,
    chinese_number,
    clean_text,
    mentions_head_count,
    parse_email,
    parse_employees,
    parse_phone,
    parse_revenue,
)

BANDS = {"small": 0, "mid": 100_000_000, "big": 10_000_000_000}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("about 300 people", 300),
        ("3千人", 3000),
        ("1.2万", 12000),
        ("三百人", 300),
        ("两千五百名员工", 2500),
        ("一万二", 12000),
        ("two hundred", 200),
        ("a few hundred", 300),
        ("300-500 employees", 300),
        ("1,200", 1200),
        ("大约50人", 50),
        ("we have 300 people in 2 offices", 300),
        ("20k", 20000),
        ("no idea", None),
    ],
)
def test_head_counts(text: str, expected) -> None:
    assert parse_employees(text) == expected


def test_chinese_numerals() -> None:
    assert chinese_number("十") == 10
    assert chinese_number("十五") == 15
    assert chinese_number("三千零五") == 3005
    assert chinese_number("abc") is None


def test_a_number_counts_as_a_head_count_only_with_a_word_for_people() -> None:
    assert mentions_head_count("actually we have 500 employees")
    assert mentions_head_count("我们有3千人")
    assert not mentions_head_count("we were founded in 2015")


@pytest.mark.parametrize(
    "text, band",
    [("RMB 5 billion", "mid"), ("50亿元", "mid"), ("200亿", "big"), ("5000万", "small"), ("about 3 million yuan", "small")],
)
def test_revenue_bands_from_rmb_amounts(text: str, band: str) -> None:
    assert parse_revenue(text, BANDS) == (band, None)


@pytest.mark.parametrize("text", ["$2 billion", "EUR 300 million", "3亿美元", "big"])
def test_revenue_in_another_currency_or_without_an_amount_is_refused(text: str) -> None:
    band, invalid = parse_revenue(text, BANDS)
    assert band is None and invalid.reason == "invalid_revenue"


@pytest.mark.parametrize(
    "text, email",
    [
        ("anna@example.com", "anna@example.com"),
        ("actually our email is Bob@Example.COM.", "Bob@example.com"),
        ("我的邮箱是li@example.cn", "li@example.cn"),
    ],
)
def test_emails_are_found_and_normalised(text: str, email: str) -> None:
    assert parse_email(text) == (email, None)


@pytest.mark.parametrize("text", ["bob@", "bob.example.com", "a@b", "anna@example", "not an email"])
def test_bad_emails_are_refused_with_a_reason(text: str) -> None:
    value, invalid = parse_email(text)
    assert value is None and invalid.reason == "invalid_email"


@pytest.mark.parametrize(
    "text, e164",
    [
        ("+49 30 1234567", "+49301234567"),
        ("13800138000", "+8613800138000"),  # no country code: read as a mainland China number
        ("my phone is +86 138 0013 8000", "+8613800138000"),
        ("+1 415-555-0100", "+14155550100"),
        # Not in the library's ranges, but possible and written with the country code: staff can check it.
        ("+44 7700 900456", "+447700900456"),
        ("mine is +1 555 123 4567, thanks", "+15551234567"),
    ],
)
def test_phones_become_e164(text: str, e164: str) -> None:
    assert parse_phone(text) == (e164, None)


@pytest.mark.parametrize("text", ["12345", "call me", "+49 1", "138001380001234", "+86 123", "+1 555"])
def test_bad_phones_are_refused_with_a_reason(text: str) -> None:
    value, invalid = parse_phone(text)
    assert value is None and invalid.reason == "invalid_phone"


def test_option_words_prefer_the_longest_keyword() -> None:
    words = OptionWords({"enterprise": ["firm", "company"], "professional_services": ["law firm"]})
    assert words.best("we are a law firm") == "professional_services"
    assert words.best("a consulting company") == "enterprise"
    assert words.find("nothing here") == []


def test_text_answers_are_bounded_and_chinese_counts_double() -> None:
    assert clean_text("  Acme   Robotics ", 2, 120) == ("Acme Robotics", None)
    assert clean_text("张伟", 2, 120)[0] == "张伟"
    assert clean_text("x", 2, 120)[0] is None
    assert clean_text("a" * 200, 2, 120)[0] is None
    assert clean_text('/inform{"choice":"x"}', 2, 120)[0] is None
