"""A question the assistant could not answer is answered once staff add a fact for it in the console: the action
server's store reloads the changed files and the fact index is rebuilt, with no restart and no retraining
(the console writes through bot.shared.program.editing, as here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher

import actions.base
from actions.conversation import ActionClarify
from bot.shared.program import editing
from bot.shared.program.store import KnowledgeStore
from tests.actions.conftest import make_tracker

QUESTION = {"en": "When can I phone the program office?", "zh": "几点可以给计划办公室打电话？"}
FACT = {"id": "office_hours", "en": "The program office takes calls on weekdays from 9:00 to 17:30.",
        "zh": "计划办公室工作日 9:00 至 17:30 接听来电。", "sources": ["staff-001"],
        "asked": {lang: [text] for lang, text in QUESTION.items()}}


async def reply(text: str) -> str:
    dispatcher = CollectingDispatcher()
    await ActionClarify().run(dispatcher, make_tracker(text, "nlu_fallback"), {})
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_fact_added_by_staff_answers_the_question_without_a_restart(data_copy: Path, language: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    store = KnowledgeStore(data_copy, check_interval=0)
    monkeypatch.setattr(actions.base, "default_store", store)
    before = await reply(QUESTION[language])
    assert "17:30" not in before
    edits = [editing.source_edit(data_copy, "staff-001", "Program office (phone)", "2026-03-01"),
             editing.fact_edit(data_copy, "application", FACT, existing=False)]
    editing.validate(data_copy, edits)
    editing.apply({"data": data_copy}, edits)
    after = await reply(QUESTION[language])
    assert FACT[language] in after and "Program office (phone) (2026-03-01)" in after  # the answer, with its source
