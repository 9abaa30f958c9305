"""Group commit (bot.leads.writer) on SQLite and PostgreSQL: leads that arrive together are stored together,
each request still hears its own outcome, and a retry among new leads costs none of them their row."""

from __future__ import annotations

import asyncio
from typing import Any, List

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.leads import service, writer
from bot.leads.models import Lead
from bot.leads.schemas import IntakeRequest
from tests.bot.leads.conftest import lead_body


def _rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Lead)) or 0


def _lead(key: str, **overrides: Any) -> Lead:
    return service.prepare(IntakeRequest.model_validate(lead_body(**overrides)), key)


def test_a_group_with_a_retry_among_new_leads_stores_the_new_ones_and_replays_the_retry(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        first = service.store_all(session, [_lead("k-old")])[0]
    group = [_lead("k-1", conversation_id="a"), _lead("k-old"), _lead("k-2", conversation_id="b")]
    with sessions() as session:
        outcomes = service.store_all(session, group)
    assert isinstance(first, service.Stored)
    assert [getattr(o, "replayed", o) for o in outcomes] == [False, True, False]
    assert outcomes[1].lead.id == first.lead.id and _rows(sessions) == 3  # type: ignore[union-attr]


def test_a_conflicting_retry_in_a_group_is_that_leads_error_only(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        service.store_all(session, [_lead("k-old")])
    with sessions() as session:
        outcomes = service.store_all(session, [_lead("k-old", note="another body"), _lead("k-3")])
    assert isinstance(outcomes[0], service.IdempotencyConflict) and isinstance(outcomes[1], service.Stored)
    assert _rows(sessions) == 2


def test_concurrent_leads_are_written_in_groups_and_each_hears_its_own_outcome(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: List[int] = []
    group_commit = writer.GroupCommit(sessions)
    write = group_commit._write

    def counted(leads: List[Lead]) -> Any:
        groups.append(len(leads))
        return write(leads)

    monkeypatch.setattr(group_commit, "_write", counted)
    leads = [_lead(f"k-{n}", conversation_id=f"c-{n}") for n in range(30)]

    async def store_all() -> List[Any]:
        return await asyncio.gather(*(group_commit.store(lead) for lead in leads), _replayed())

    async def _replayed() -> Any:
        await asyncio.sleep(0)  # arrives while the first group is being written: a retry of lead 0, same body
        return await group_commit.store(_lead("k-0", conversation_id="c-0"))

    results = asyncio.run(store_all())
    stored, replay = results[:-1], results[-1]
    assert [s.lead.id for s in stored] == [lead.id for lead in leads] and not any(s.replayed for s in stored)
    assert replay.replayed and replay.lead.id == leads[0].id
    assert _rows(sessions) == 30
    # The thirty arrived before the writer ran: one group, one commit; the retry came while it wrote, and went next.
    assert groups == [30, 1]


def test_a_database_error_reaches_every_request_of_the_group(sessions: sessionmaker[Session],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    group_commit = writer.GroupCommit(sessions)

    def down(leads: List[Lead]) -> Any:
        raise ConnectionError("database down")

    monkeypatch.setattr(group_commit, "_write", down)

    async def two() -> List[Any]:
        return await asyncio.gather(group_commit.store(_lead("a")), group_commit.store(_lead("b")),
                                    return_exceptions=True)

    assert [type(r) for r in asyncio.run(two())] == [ConnectionError, ConnectionError]
    assert _rows(sessions) == 0
