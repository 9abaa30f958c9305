from __future__ import annotations

import pytest

from bot.shared.program import load_knowledge
from bot.shared.program.categories import CategoryMatcher

MATCHER = CategoryMatcher(load_knowledge())


@pytest.mark.parametrize(
    ("span", "key"),
    [
        ("city dreamers", "city_dreamer"),
        ("City Dreamer", "city_dreamer"),
        ("city dreamrs", "city_dreamer"),
        ("梦想家", "city_dreamer"),
        ("Super Partenr", "super_partner"),
        ("super", "super_partner"),
        ("超级合伙人", "super_partner"),
        ("stratigic partner", "strategic_partner"),
        ("战略伙伴", "strategic_partner"),
        ("city ambasador", "city_ambassador"),
        ("推广大使", "city_ambassador"),
        ("城市大使", "city_ambassador"),
    ],
)
def test_spans_normalise_to_the_four_keys(span: str, key: str) -> None:
    assert MATCHER.normalize(span) == key


@pytest.mark.parametrize("span", [" ", "", "城市合伙人", "partner", "program", "the"])
def test_spans_that_name_no_category_are_rejected(span: str) -> None:
    assert MATCHER.normalize(span) is None


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("what about city dreamers?", ["city_dreamer"]),
        ("那城市推广大使呢", ["city_ambassador"]),
        ("super partners vs strategic partners", ["super_partner", "strategic_partner"]),
        ("city dreamer有什么权益", ["city_dreamer"]),
        ("we are a citydreamer", ["city_dreamer"]),
        ("I am super interested in the city partner program", []),
        ("广州城市合伙人计划", []),
    ],
)
def test_category_names_are_found_in_free_text(text: str, keys: list) -> None:
    assert [m.key for m in MATCHER.find(text)] == keys


@pytest.mark.parametrize(
    ("span", "text", "key"),
    [
        ("super", "thnks, super useful", None),
        ("super", "what about the super ones?", "super_partner"),
        ("super", "super?", "super_partner"),
        ("strategic", "is strategic the right tier for us", "strategic_partner"),
        ("战略", "战略这一类呢", "strategic_partner"),
        ("超级", "超级好用", None),
        ("city dreamers", "thanks, city dreamers it is", "city_dreamer"),
    ],
)
def test_short_forms_need_a_category_context(span: str, text: str, key) -> None:
    assert MATCHER.normalize(span, text) == key
