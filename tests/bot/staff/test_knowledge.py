"""Knowledge staff can fix: from an unanswered question an editor adds or edits a fact, or adds an NLU example;
each change is validated like the data files, versioned (who, when, before, after), audited without its texts,
revertible, and served at once (facts) or queued for the next training (examples). Works on a copy of the data."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.shared.funnel import Funnel
from bot.shared.program.store import KnowledgeStore
from bot.staff import knowledge
from bot.staff.models import AuditEntry, KnowledgeChange
from tests.bot.staff.conftest import csrf_of, login, visible_text
from tests.conftest import ROOT

QUESTION = "When can I call the program office?"


@pytest.fixture
def kb(data_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The console edits a copy of the program data and of nlu/; the model in use was trained an hour ago."""
    store = KnowledgeStore(data_copy, check_interval=0)
    monkeypatch.setattr(knowledge, "default_store", store)
    nlu = tmp_path / "nlu"
    shutil.copytree(ROOT / "nlu", nlu, ignore=shutil.ignore_patterns("README.md"))
    model = tmp_path / "gzcp-model.tar.gz"
    model.write_bytes(b"model")
    os.utime(model, (time.time() - 3600, time.time() - 3600))
    monkeypatch.setenv("STAFF_NLU_DIR", str(nlu))
    monkeypatch.setenv("STAFF_MODEL_FILE", str(model))
    return SimpleNamespace(data=data_copy, nlu=nlu, store=store, model=model)


def _files(root: Path) -> Dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.yml"))}


def _unanswered(staff_env, text: str = QUESTION, language: str = "en") -> str:
    funnel = Funnel(staff_env)
    funnel.record_unanswered(text, language=language, reason="fallback", conversation_id="web-asker")
    return next(q["ref"] for q in funnel.unanswered() if q["text"] == text)


def _fact_form(csrf: str, ref: str = "", **changes: Any) -> Dict[str, Any]:
    form = {"csrf_token": csrf, "mode": "new", "section": "application", "fact_id": "office_hours",
            "en": "The program office takes calls on weekdays from 9:00 to 17:30.",
            "zh": "计划办公室工作日 9:00 至 17:30 接听来电。", "new_source_title": "Program office (phone)",
            "new_source_date": "2026-03-01", "question": ref, "add_question": "yes" if ref else ""}
    form.update(changes)
    return form


def test_an_unanswered_question_becomes_a_fact_the_assistant_serves(client: TestClient, kb, db, make_user,
                                                                    staff_env) -> None:
    ref = _unanswered(staff_env)
    editor = make_user("editor")
    login(client, editor.email)
    dashboard = client.get("/staff/dashboard").text
    assert f'href="/staff/knowledge/fix?question={ref}"' in dashboard
    fix = client.get("/staff/knowledge/fix", params={"question": ref})
    assert fix.status_code == 200 and QUESTION in fix.text and 'action="/staff/knowledge/example"' in fix.text
    form = client.get("/staff/knowledge/fact", params={"question": ref, "section": "application"})
    assert form.status_code == 200 and QUESTION in form.text and '<option value="application" selected>' in form.text
    saved = client.post("/staff/knowledge/fact", data=_fact_form(csrf_of(form.text), ref), follow_redirects=False)
    assert saved.status_code == 303, saved.text[:500]
    page = client.get(saved.headers["location"])
    assert "Saved: the assistant answers with it within seconds." in page.text and "queued" not in page.text

    # Served from the files at once: the running store (no restart) has it, with the question as an example.
    fact = next(f for f in kb.store.current().facts["application"] if f.id == "office_hours")
    assert fact.sources == ("staff-001",) and fact.asked["en"] == (QUESTION,)
    assert kb.store.current().sources["staff-001"].cite() == "Program office (phone) (2026-03-01)"
    with db() as session:
        change = session.scalars(select(KnowledgeChange)).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "knowledge.fact")).one()
    assert (change.actor_email, change.kind, change.target) == (editor.email, "fact", "facts/application.yml#office_hours")
    assert change.summary["before"] is None and change.summary["after"]["zh"] == "计划办公室工作日 9:00 至 17:30 接听来电。"
    assert [f["path"] for f in change.files] == ["sources.yml", "facts/application.yml"]  # the source first
    assert entry.target_id == str(change.id) and entry.details["files"] == ["data/sources.yml", "data/facts/application.yml"]
    assert "program office" not in json.dumps(entry.details).lower()  # paths and ids, never the texts
    # The question has its answer: it leaves the list.
    assert [q for q in Funnel(staff_env).unanswered() if q["ref"] == ref] == []
    assert client.get("/staff/knowledge/fix", params={"question": ref}).status_code == 404


def test_a_bad_fact_is_refused_in_the_readers_language_and_nothing_is_written(client: TestClient, kb, db, make_user,
                                                                             staff_env) -> None:
    before = _files(kb.data)
    csrf = login(client, make_user("editor").email)
    cases = [
        ({"zh": "weekdays only"}, "the Chinese text has no Chinese characters", "中文内容中没有汉字"),
        ({"fact_id": "market"}, "a fact with the id market exists already", "编号 market 已被使用"),
        ({"new_source_date": "March 2026"}, "a source's date looks like 2025", "来源日期格式应为"),
        ({"new_source_title": "", "new_source_date": ""}, "choose a source, or give a new one", "请选择来源"),
        ({"fact_id": "Office Hours"}, "a fact id is 2 to 63 lowercase letters", "事实编号须为"),
        ({"section": "../../etc"}, "no section ../../etc", "没有分类 ../../etc"),
    ]
    for change, english, chinese in cases:
        refused = client.post("/staff/knowledge/fact", data=_fact_form(csrf, **change))
        assert refused.status_code == 400 and english in visible_text(refused.text), (change, visible_text(refused.text))
        assert "takes calls on weekdays" in refused.text  # what was typed is kept in the form
        zh = client.post("/staff/knowledge/fact", data=_fact_form(csrf, **change), headers={"Accept-Language": "zh-CN"})
        assert chinese in visible_text(zh.text), change
    assert _files(kb.data) == before
    with db() as session:
        assert session.scalars(select(KnowledgeChange)).all() == []


def test_editing_a_fact_is_versioned_and_a_revert_restores_every_byte(client: TestClient, kb, db, make_user) -> None:
    before = _files(kb.data)
    csrf = login(client, make_user("editor").email)
    form = client.get("/staff/knowledge/fact", params={"fact": "market"})
    assert "Market opportunities around the National Games" in form.text and 'value="edit"' in form.text
    current = knowledge.fact_for_form("market")
    saved = client.post("/staff/knowledge/fact", data={
        "csrf_token": csrf, "mode": "edit", "fact_id": "market", "en": "Market opportunities, updated for 2026.",
        "zh": current["zh"], "sources": current["sources"]}, follow_redirects=False)
    assert saved.status_code == 303
    change_url = saved.headers["location"].split("?")[0]
    page = client.get(change_url)
    assert "updated for 2026" in page.text and "Market opportunities around the National Games" in page.text  # both
    assert "+    en: &#34;Market opportunities, updated for 2026.&#34;" in page.text  # the file's diff
    changed = _files(kb.data)
    assert [name for name in before if before[name] != changed[name]] == ["facts/benefits.yml"]
    same = client.post("/staff/knowledge/fact", data={"csrf_token": csrf, "mode": "edit", "fact_id": "market",
                                                      "en": "Market opportunities, updated for 2026.", "zh": current["zh"],
                                                      "sources": current["sources"]})
    assert same.status_code == 400 and "nothing changed" in same.text

    reverted = client.post(f"{change_url}/revert", data={"csrf_token": csrf}, follow_redirects=False)
    assert reverted.status_code == 303
    assert _files(kb.data) == before  # every byte, comments and layout included
    assert next(f for f in kb.store.current().facts["benefits"] if f.id == "market").text.en.startswith(
        "Market opportunities around the National Games")
    again = client.post(f"{change_url}/revert", data={"csrf_token": csrf})
    assert again.status_code == 409 and "reverted already" in again.text
    with db() as session:
        rows = session.scalars(select(KnowledgeChange).order_by(KnowledgeChange.id)).all()
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert [(r.kind, r.revert_of, r.reverted_by) for r in rows] == [("fact", None, rows[1].id), ("revert", rows[0].id, None)]
    assert actions[-2:] == ["knowledge.fact", "knowledge.revert"]


def test_a_revert_that_would_undo_a_later_change_is_refused(client: TestClient, kb, make_user) -> None:
    csrf = login(client, make_user("editor").email)
    first = client.post("/staff/knowledge/fact", data=_fact_form(csrf), follow_redirects=False)
    second = client.post("/staff/knowledge/fact", data=_fact_form(csrf, fact_id="office_address", new_source_title="",
                                                                 new_source_date="", sources="staff-001"),
                         follow_redirects=False)
    assert first.status_code == second.status_code == 303
    first_url = first.headers["location"].split("?")[0]
    refused = client.post(f"{first_url}/revert", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "a later change edited facts/application.yml; revert that one first" in refused.text
    assert {"office_hours", "office_address"} <= {f.id for f in kb.store.current().facts["application"]}
    client.post(f"{second.headers['location'].split('?')[0]}/revert", data={"csrf_token": csrf})
    assert client.post(f"{first_url}/revert", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert "staff-001" not in kb.store.current().sources


def test_a_question_added_as_an_example_is_queued_for_the_next_training(client: TestClient, kb, db, make_user,
                                                                        staff_env) -> None:
    ref = _unanswered(staff_env, "合伙人可以免费参加广交会吗", "zh")
    csrf = login(client, make_user("editor").email)
    saved = client.post("/staff/knowledge/example", data={"csrf_token": csrf, "question": ref, "language": "zh",
                                                          "topic": "benefits", "text": "合伙人可以免费参加广交会吗"},
                        follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert "queued for the next training" in page.text and "This change waits for the next training" in page.text
    staff_file = kb.nlu / "zh" / "staff.yml"
    assert "metadata: {topic: benefits}" in staff_file.read_text(encoding="utf-8")
    overview = client.get("/staff/knowledge", headers={"Accept-Language": "zh-CN"})
    assert "有 1 项训练例句修改在等待下一次训练" in overview.text
    os.utime(kb.model, None)  # the model is retrained after the change: no longer queued
    assert "training-queue" not in client.get("/staff/knowledge").text
    assert [q for q in Funnel(staff_env).unanswered() if q["ref"] == ref] == []
    taken = next(line[6:] for line in (kb.nlu / "en" / "program.yml").read_text(encoding="utf-8").splitlines()
                 if line.startswith("    - "))
    clash = client.post("/staff/knowledge/example", data={"csrf_token": csrf, "language": "en", "topic": "benefits",
                                                          "text": taken})
    assert clash.status_code == 400 and "already an example of ask_program/overview" in clash.text
    with db() as session:
        change = session.scalars(select(KnowledgeChange)).one()
    reverted = client.post(f"/staff/knowledge/changes/{change.id}/revert", data={"csrf_token": csrf},
                           follow_redirects=False)
    assert reverted.status_code == 303 and not staff_file.exists()  # the file did not exist before


def test_questions_from_the_evaluation_sets_stay_out_of_training(client: TestClient, kb, make_user, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    held = tmp_path / "eval"
    held.mkdir()
    (held / "facts_en.yml").write_text('questions:\n  - {q: "Who may apply to the program?", fact: x}\n', encoding="utf-8")
    monkeypatch.setattr(knowledge, "HELD_OUT_DIR", held)
    csrf = login(client, make_user("editor").email)
    refused = client.post("/staff/knowledge/example", data={"csrf_token": csrf, "language": "en", "topic": "eligibility",
                                                            "text": "who may apply to the program?"})
    assert refused.status_code == 400 and "evaluation set" in refused.text
    assert not (kb.nlu / "en" / "staff.yml").exists()


def test_everyone_reads_the_knowledge_but_only_editors_change_it(client: TestClient, kb, make_user, staff_env) -> None:
    _unanswered(staff_env)
    login(client, make_user("reviewer").email)
    overview = client.get("/staff/knowledge")
    assert overview.status_code == 200 and "Market opportunities around the National Games" in overview.text
    assert "/staff/knowledge/fact?fact=" not in overview.text and "Answer it" not in client.get("/staff/dashboard").text
    assert client.get("/staff/knowledge/fact").status_code == 403
