"""Service rules that HTTP cannot force reliably: a second insert with the same key, and an unrelated refusal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.leads import service
from bot.leads.models import Lead
from bot.leads.schemas import IntakeRequest
from tests.bot.leads.conftest import lead_body


def _rows(sessions: sessionmaker[Session]) -> Any:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Lead))


def test_a_second_insert_with_the_key_returns_the_first_row(sessions: sessionmaker[Session]) -> None:
    """The insert comes first; the unique key stops a retry (or a racing twin) and its row is the answer."""
    request = IntakeRequest.model_validate(lead_body())
    with sessions() as session:
        winner = service.create(session, request, "race")
    with sessions() as session:
        loser = service.create(session, request, "race")
    assert not winner.replayed and loser.replayed and loser.lead.id == winner.lead.id and _rows(sessions) == 1


def test_the_key_with_another_body_is_a_conflict(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        service.create(session, IntakeRequest.model_validate(lead_body()), "race")
    with sessions() as session, pytest.raises(service.IdempotencyConflict):
        service.create(session, IntakeRequest.model_validate(lead_body(note="other")), "race")
    assert _rows(sessions) == 1


def test_an_integrity_error_not_about_the_key_is_not_taken_for_a_replay(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When no row holds the key after all, the database refused the insert for another reason: it is raised."""
    with sessions() as session:
        service.create(session, IntakeRequest.model_validate(lead_body()), "race")
    monkeypatch.setattr(service, "_by_key", lambda session, key: None)
    with sessions() as session, pytest.raises(IntegrityError):
        service.create(session, IntakeRequest.model_validate(lead_body()), "race")
    assert _rows(sessions) == 1


def test_the_fingerprint_ignores_notation_but_not_content() -> None:
    spaced = IntakeRequest.model_validate(lead_body(contact={**lead_body()["contact"], "phone": "+86 138 0013 8000"}))
    plain = IntakeRequest.model_validate(lead_body(contact={**lead_body()["contact"], "phone": "13800138000"}))
    other = IntakeRequest.model_validate(lead_body(note="other"))
    assert spaced.fingerprint() == plain.fingerprint() != other.fingerprint()
