"""Service rules that HTTP cannot force reliably: losing the insert race to a request with the same key."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.leads import service
from bot.leads.models import Lead
from bot.leads.schemas import IntakeRequest
from tests.bot.leads.conftest import lead_body


def _lose_the_race(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first lookup misses (the other request has not committed yet); later ones see its row."""
    real = service._by_key
    calls = {"n": 0}

    def by_key(session: Session, key: str) -> Optional[Lead]:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(session, key)

    monkeypatch.setattr(service, "_by_key", by_key)


def _rows(sessions: sessionmaker[Session]) -> Any:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Lead))


def test_losing_the_insert_race_returns_the_winners_row(sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    request = IntakeRequest.model_validate(lead_body())
    with sessions() as session:
        winner = service.create(session, request, "race")
    _lose_the_race(monkeypatch)
    with sessions() as session:
        loser = service.create(session, request, "race")
    assert loser.replayed and loser.lead.id == winner.lead.id and _rows(sessions) == 1


def test_losing_the_race_with_another_body_is_a_conflict(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as session:
        service.create(session, IntakeRequest.model_validate(lead_body()), "race")
    _lose_the_race(monkeypatch)
    with sessions() as session, pytest.raises(service.IdempotencyConflict):
        service.create(session, IntakeRequest.model_validate(lead_body(note="other")), "race")
    assert _rows(sessions) == 1


def test_the_fingerprint_ignores_notation_but_not_content() -> None:
    spaced = IntakeRequest.model_validate(lead_body(contact={**lead_body()["contact"], "phone": "+86 138 0013 8000"}))
    plain = IntakeRequest.model_validate(lead_body(contact={**lead_body()["contact"], "phone": "13800138000"}))
    other = IntakeRequest.model_validate(lead_body(note="other"))
    assert spaced.fingerprint() == plain.fingerprint() != other.fingerprint()
