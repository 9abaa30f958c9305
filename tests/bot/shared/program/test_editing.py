"""Editing the program data from code: one entry changes and nothing else, every edit is checked by the loader
before it is written, writes are atomic, and a running KnowledgeStore serves the change without a restart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.shared.program import editing
from bot.shared.program.editing import EditRefused, FileEdit
from bot.shared.program.knowledge import ProgramDataError, load_knowledge
from bot.shared.program.store import KnowledgeStore
from tests.conftest import ROOT

NEW_FACT = {"id": "office_hours", "en": 'The program office answers "partner" calls on weekdays, 9:00-17:30.',
            "zh": "计划办公室工作日 9:00-17:30 接听合伙人来电。", "sources": ["staff-001"],
            "asked": {"en": ["when can I call the program office?"], "zh": ["几点可以给计划办公室打电话？"]}}


def test_changing_a_fact_rewrites_its_entry_and_nothing_else(data_copy: Path) -> None:
    before = (data_copy / "facts" / "benefits.yml").read_text(encoding="utf-8")
    fact = editing.fact_data(data_copy, "benefits", "market")
    assert fact is not None and fact["sources"] == ["mingpao"]
    fact["en"] = "Market opportunities around the National Games: AI: smart venues # not a comment"
    fact["asked"]["zh"].append("全运会有什么商机？")
    edit = editing.fact_edit(data_copy, "benefits", fact, existing=True)
    assert edit.before == before
    old, new = before.splitlines(), edit.after.splitlines()
    start = old.index("  - id: market")
    end = old.index("  - id: events")
    assert new[:start] == old[:start] and new[-(len(old) - end):] == old[end:]  # the header comment, other facts
    knowledge = editing.validate(data_copy, [edit])
    market = next(f for f in knowledge.facts["benefits"] if f.id == "market")
    assert market.text.en == fact["en"] and "全运会有什么商机？" in market.asked["zh"]
    assert (data_copy / "facts" / "benefits.yml").read_text(encoding="utf-8") == before  # validate writes nothing


def test_a_new_fact_with_a_new_source_loads_like_any_other(data_copy: Path) -> None:
    knowledge = load_knowledge(data_copy)
    key = editing.next_source_key(knowledge)
    assert key == "staff-001"
    edits = [editing.source_edit(data_copy, key, "Program office (phone)", "2026-03-01"),
             editing.fact_edit(data_copy, "application", NEW_FACT, existing=False)]
    knowledge = editing.validate(data_copy, edits)
    assert knowledge.sources[key].cite() == "Program office (phone) (2026-03-01)"
    assert next(f for f in knowledge.facts["application"] if f.id == "office_hours").text.zh == NEW_FACT["zh"]
    assert yaml.safe_load(edits[0].after)["sources"]["seeds/000"]["date"] == "2025-02-10"  # the others kept


@pytest.mark.parametrize("change, problem", [
    ({"zh": "Weekdays only."}, "the Chinese text has no Chinese characters"),
    ({"sources": ["nowhere"]}, "unknown source(s) nowhere"),
    ({"id": "market"}, "fact id 'market' is also in facts/application.yml"),
])
def test_the_loader_refuses_what_it_would_refuse_in_a_file(data_copy: Path, change: dict, problem: str) -> None:
    fact = {**NEW_FACT, "sources": ["mingpao"], **change}
    edit = editing.fact_edit(data_copy, "application", fact, existing=False)
    with pytest.raises(ProgramDataError, match=re.escape(problem)):
        editing.validate(data_copy, [edit])


@pytest.mark.parametrize("args, code", [
    (("Bad Id", "en", "中文", ["a"], ["a"]), "bad_id"),
    (("ok_id", "", "中文", ["a"], ["a"]), "missing_en"),
    (("ok_id", "en", "english", ["a"], ["a"]), "zh_not_chinese"),
    (("ok_id", "en", "中文", [], ["a"]), "no_source"),
    (("ok_id", "en", "中文", ["b"], ["a"]), "unknown_source"),
])
def test_form_checks_name_the_problem(args: tuple, code: str) -> None:
    with pytest.raises(EditRefused) as refused:
        editing.check_fact_fields(*args)
    assert refused.value.code == code


def test_source_dates_and_titles_are_checked() -> None:
    for title, date, code in (("", "2025", "source_title_needed"), ("x", "March 2025", "source_date_format"),
                              ("x", "2025-3-1", "source_date_format")):
        with pytest.raises(EditRefused) as refused:
            editing.check_source(title, date)
        assert refused.value.code == code
    editing.check_source("Guangzhou Daily", "2025-02")


def test_nlu_examples_go_to_a_file_of_their_own_that_training_reads(tmp_path: Path) -> None:
    nlu = tmp_path / "nlu"
    (nlu / "zh").mkdir(parents=True)
    (nlu / "zh" / "program.yml").write_text((ROOT / "nlu" / "zh" / "program.yml").read_text(encoding="utf-8"),
                                            encoding="utf-8")
    first = editing.example_edit(nlu, "zh", "benefits", "合伙人有没有免费的展位？")
    assert first.before is None and first.path == "zh/staff.yml"
    editing.apply({"nlu": nlu}, [first])
    second = editing.example_edit(nlu, "zh", "overview", "这个计划是谁发起的呀")
    editing.apply({"nlu": nlu}, [second])
    blocks = yaml.safe_load((nlu / "zh" / "staff.yml").read_text(encoding="utf-8"))["nlu"]
    assert [(b["intent"], b["metadata"]["topic"], b["examples"]) for b in blocks] == [
        ("ask_program", "benefits", "- 合伙人有没有免费的展位？\n"), ("ask_program", "overview", "- 这个计划是谁发起的呀\n")]
    assert editing.example_owner(nlu, "合伙人有没有免费的展位？") == "ask_program/benefits"
    shipped = next(line[6:] for line in (nlu / "zh" / "program.yml").read_text(encoding="utf-8").splitlines()
                   if line.startswith("    - "))
    assert editing.example_owner(nlu, shipped.upper()) is not None and editing.example_owner(nlu, "全新的问题") is None


@pytest.mark.parametrize("text, language, code", [
    ("  ", "en", "example_empty"), ("what is [this](topic)", "en", "example_chars"), ("/greet", "en", "example_chars"),
    ("what about fees", "zh", "example_not_chinese"), ("x" * 501, "en", "example_long"),
])
def test_examples_are_checked(text: str, language: str, code: str) -> None:
    with pytest.raises(EditRefused) as refused:
        editing.check_example(text, language)
    assert refused.value.code == code


def test_a_running_store_serves_the_change_and_a_revert_puts_every_byte_back(data_copy: Path) -> None:
    store = KnowledgeStore(data_copy, check_interval=0)
    assert "office_hours" not in {f.id for f in store.current().facts["application"]}
    edits = [editing.source_edit(data_copy, "staff-001", "Program office", "2026"),
             editing.fact_edit(data_copy, "application", NEW_FACT, existing=False)]
    editing.validate(data_copy, edits)
    roots = {"data": data_copy}
    editing.apply(roots, edits)
    assert "office_hours" in {f.id for f in store.current().facts["application"]}  # no restart
    assert editing.stale(roots, edits) == ["sources.yml", "facts/application.yml"]  # applied: no longer "before"
    back = [e.reverse() for e in reversed(edits)]
    assert editing.stale(roots, back) == []
    editing.apply(roots, back)
    assert [editing.current(roots, e) for e in edits] == [e.before for e in edits]
    assert "office_hours" not in {f.id for f in store.current().facts["application"]}


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "facts.yml"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    editing.write_atomically(target, "new")
    assert target.read_text(encoding="utf-8") == "new" and oct(target.stat().st_mode & 0o777) == "0o640"
    assert [p.name for p in tmp_path.iterdir()] == ["facts.yml"]
    editing.write_atomically(target, None)
    assert not target.exists()
    edit = FileEdit("data", "x.yml", None, "a")
    assert FileEdit.from_dict(edit.to_dict()) == edit and edit.reverse() == FileEdit("data", "x.yml", "a", None)
