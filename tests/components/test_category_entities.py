from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from components.category_entities import CategoryEntityNormalizer

NORMALIZER = CategoryEntityNormalizer({})


def entities(text: str, found: list) -> list:
    message = Message(data={"text": text, "entities": found})
    NORMALIZER.process([message])
    return [(e["entity"], e["value"]) for e in message.get("entities")]


def span(text: str, part: str) -> dict:
    start = text.index(part)
    return {"entity": "partner_category", "start": start, "end": start + len(part), "value": part, "extractor": "DIETClassifier"}


def test_spans_get_normalised_values() -> None:
    text = "what do city dreamrs get"
    assert entities(text, [span(text, "city dreamrs")]) == [("partner_category", "city_dreamer")]


def test_a_whitespace_or_junk_span_is_dropped() -> None:
    text = "tell me more please"
    assert entities(text, [span(text, " "), span(text, "more")]) == []


def test_missed_category_names_are_added_from_the_text() -> None:
    assert entities("那城市推广大使呢", []) == [("partner_category", "city_ambassador")]


def test_other_entities_pass_through_untouched() -> None:
    other = {"entity": "email", "start": 0, "end": 3, "value": "a@b"}
    assert entities("a@b", [other]) == [("email", "a@b")]
