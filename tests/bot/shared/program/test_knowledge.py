from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.shared.program import CATEGORY_KEYS, KnowledgeStore, ProgramDataError, load_knowledge


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_data_loads_with_every_fact_sourced_and_bilingual() -> None:
    kb = load_knowledge()
    assert tuple(kb.categories) == CATEGORY_KEYS
    assert kb.categories["city_ambassador"].name.zh == "城市推广大使"
    assert kb.categories["super_partner"].name.zh == "超级合伙人"
    assert set(kb.facts) >= {"overview", "benefits", "application", "progress", "guangzhou"}
    for facts in kb.facts.values():
        assert facts
        for fact in facts:
            assert fact.sources and all(s in kb.sources for s in fact.sources)
            assert fact.text.en and fact.text.zh
    assert {t.key for t in kb.unknowns} >= {"deadline", "fees", "status", "office"}


def test_facts_carry_the_figures_of_program_facts_md() -> None:
    kb = load_knowledge()
    progress = " ".join(f.text.en for f in kb.section("progress"))
    assert "105 applications" in progress and "170" in progress and "JD.com" in progress
    assert any("8 February 2025" in f.text.en for f in kb.section("overview"))
    assert any("2025年2月8日" in f.text.zh for f in kb.section("overview"))


@pytest.mark.parametrize(
    ("filename", "old", "new", "expected"),
    [
        ("facts/overview.yml", "    sources: [seeds/000, huaxia]", "    sources: [nowhere]", "unknown source"),
        ("facts/benefits.yml", "    zh: 参与方式：赞助、公益捐赠、资源统筹对接。\n", "", "missing language"),
        ("categories.yml", "  - key: city_dreamer", "  - key: city_sleeper", "not one of"),
        ("categories.yml", "dreamer, dreamers,", "dreamer, dreamers, ambassador,", "also a synonym"),
        ("messages.yml", "zh: 关于{topic}，", "zh: 关于{subject}，", "different {placeholders}"),
        ("facts/guangzhou.yml", "facts:\n", "facts: [\n", "not valid YAML"),
        ("facts/progress.yml", "facts:", "fact:", "missing top-level key"),
        ("facts/trade.yml", "title: ", "heading: ", "missing top-level key 'title'"),
        ("topics.yml", "        facts: benefits\n", "        facts: benefit\n", "no facts section"),
        ("topics.yml", "buttons: [benefits, /ask_recommendation]", "buttons: [benefit]", "expected each_category"),
        ("topics.yml", "    offer: categories", "    offer: everything", "neither a topic"),
        ("topics.yml", "category_follow_up: category_info", "category_follow_up: overview", "category_follow_up"),
    ],
)
def test_a_broken_file_fails_loudly_naming_file_and_problem(
    data_copy: Path, filename: str, old: str, new: str, expected: str
) -> None:
    edit(data_copy / filename, old, new)
    with pytest.raises(ProgramDataError) as error:
        load_knowledge(data_copy)
    assert filename in str(error.value) or filename.startswith("facts/") and Path(filename).name in str(error.value)
    assert expected in str(error.value)


def test_a_missing_file_fails_loudly(data_copy: Path) -> None:
    (data_copy / "sources.yml").unlink()
    with pytest.raises(ProgramDataError, match="sources.yml: file is missing"):
        load_knowledge(data_copy)


def bump_mtime(path: Path) -> None:
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))


def test_store_picks_up_an_edited_fact_without_restart(data_copy: Path) -> None:
    store = KnowledgeStore(data_copy, check_interval=0)
    assert "105 applications" in store.current().section("progress")[0].text.en
    edit(data_copy / "facts/progress.yml", "105 applications", "106 applications")
    bump_mtime(data_copy / "facts/progress.yml")
    assert "106 applications" in store.current().section("progress")[0].text.en


def test_a_new_facts_section_is_found_and_served_without_restart(data_copy: Path) -> None:
    store = KnowledgeStore(data_copy, check_interval=0)
    assert "space_station" not in store.current().facts
    (data_copy / "facts/space_station.yml").write_text(
        "title: {en: Space, zh: 太空}\n"
        "facts:\n  - id: station_fact\n    en: A new fact.\n    zh: 一条新事实。\n    sources: [huaxia]\n", encoding="utf-8")
    assert store.current().section("space_station")[0].text.zh == "一条新事实。"


def test_store_keeps_the_last_good_version_when_an_edit_is_broken(data_copy: Path) -> None:
    store = KnowledgeStore(data_copy, check_interval=0)
    before = store.current()
    edit(data_copy / "facts/progress.yml", "    sources: [southern_finance]", "    sources: [bogus]")
    bump_mtime(data_copy / "facts/progress.yml")
    assert store.current() is before
    with pytest.raises(ProgramDataError):
        store.load()


TRADE_TOPIC = """
  trade:
    label: {en: "Guangzhou's trade", zh: "广州的外贸"}
    answer:
      - text: {en: "Guangzhou's trade:", zh: "广州的外贸："}
        facts: trade
    interrupts_screening: true
    checks_unknowns: true
"""


def test_a_new_topic_is_answered_from_its_data_alone(data_copy: Path) -> None:
    from bot.shared.program.answers import Composer
    from bot.shared.program.contact import StaffContact

    (data_copy / "facts/space_trade.yml").write_text(
        "title: {en: Trade, zh: 贸易}\n"
        "facts:\n  - id: space_trade_total\n    en: Trade grew.\n    zh: 外贸增长。\n    sources: [huaxia]\n",
        encoding="utf-8")
    with (data_copy / "topics.yml").open("a", encoding="utf-8") as topics:
        topics.write(TRADE_TOPIC.replace("facts: trade", "facts: space_trade"))
    kb = load_knowledge(data_copy)
    answer = Composer(kb, "zh", StaffContact()).topic("trade")
    assert answer.replies[0].text.startswith("广州的外贸：\n• 外贸增长。\n来源：")
