"""The NLU data honours its contract: every intent covered in both languages, the held-out set
really held out, every category mention annotated and normalisable."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.shared.program import load_knowledge
from bot.shared.program.categories import CategoryMatcher
from bot.shared.program.knowledge import TOPIC_INTENT
from tests.conftest import ROOT

ANNOTATION = re.compile(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})")
MINIMUM = {"en": 25, "zh": 15}


def examples(paths) -> dict:
    found: dict = {}
    for path in paths:
        for block in yaml.safe_load(Path(path).read_text(encoding="utf-8"))["nlu"]:
            if "intent" in block:
                lines = [line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")]
                topic = (block.get("metadata") or {}).get("topic")  # a program topic: ask_program/<topic>
                found.setdefault(f"{block['intent']}/{topic}" if topic else block["intent"], []).extend(lines)
    return found


def plain(line: str) -> str:
    return ANNOTATION.sub(r"\1", line).strip().lower()


DOMAIN_INTENTS = yaml.safe_load((ROOT / "domain.yml").read_text())["intents"]
# Every intent of the domain, the topics' intent once per topic of topics.yml.
LABELS = [i for i in DOMAIN_INTENTS if i != TOPIC_INTENT] + [f"{TOPIC_INTENT}/{t}" for t in load_knowledge().topics]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_intent_and_topic_has_enough_examples_in_each_language(lang: str) -> None:
    data = examples(sorted((ROOT / "nlu" / lang).glob("*.yml")))
    counts = {label: len(data.get(label, [])) for label in LABELS}
    assert all(n >= MINIMUM[lang] for n in counts.values()), counts
    assert set(data) <= set(LABELS), sorted(set(data) - set(LABELS))  # no intent or topic the assistant lacks


def test_chinese_examples_are_chinese() -> None:
    data = examples(sorted((ROOT / "nlu" / "zh").glob("*.yml")))
    for intent, lines in data.items():
        for line in lines:
            assert re.search(r"[\u4e00-\u9fff]", line), (intent, line)


@pytest.mark.parametrize("held_out", ["heldout_*.yml", "everyday_*.yml"])
def test_held_out_sets_are_not_in_the_training_data(held_out: str) -> None:
    train = {plain(x) for lines in examples(sorted((ROOT / "nlu").glob("*/*.yml"))).values() for x in lines}
    held = {plain(x) for lines in examples(sorted((ROOT / "tests/eval").glob(held_out))).values() for x in lines}
    assert len(held) >= 300 and not (train & held), sorted(train & held)[:20]


def test_the_everyday_set_has_at_least_150_messages_per_language_and_only_known_labels() -> None:
    for lang in ("en", "zh"):
        data = examples([ROOT / f"tests/eval/everyday_{lang}.yml"])
        assert sum(len(v) for v in data.values()) >= 150 and set(data) <= set(LABELS), lang


def test_fact_questions_are_not_the_facts_own_examples() -> None:
    asked = {plain(q) for facts in load_knowledge().facts.values() for f in facts for qs in f.asked.values() for q in qs}
    for lang in ("en", "zh"):
        questions = {plain(q["q"]) for q in yaml.safe_load((ROOT / f"tests/eval/facts_{lang}.yml").read_text())["questions"]}
        assert len(questions) >= 100 and not (questions & asked), sorted(questions & asked)[:10]


def test_no_example_is_labelled_with_two_intents() -> None:
    seen = Counter()
    owner: dict = {}
    for intent, lines in examples(sorted((ROOT / "nlu").glob("*/*.yml"))).items():
        for line in lines:
            key = plain(line)
            seen[key] += 1
            assert owner.setdefault(key, intent) == intent, f"{line!r}: {owner[key]} and {intent}"


def test_every_annotated_category_normalises_to_a_key() -> None:
    matcher = CategoryMatcher(load_knowledge())
    for path in sorted((ROOT / "nlu").glob("*/*.yml")) + sorted((ROOT / "tests/eval").glob("heldout_*.yml")):
        for span, _ in ANNOTATION.findall(path.read_text(encoding="utf-8")):
            assert matcher.normalize(span), f"{path.name}: {span!r} names no category"
