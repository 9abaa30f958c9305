"""The migrations build exactly the tables the models describe, on every backend."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import Base
from bot.leads.models import Lead


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def _row(**changes: object) -> Lead:
    values = dict(
        kind="handoff", conversation_id="c", channel="web", language="en", person="Li Hua", email="li@example.com",
        consent_notice_version="v1", consent_given_at=datetime(2025, 1, 1, tzinfo=timezone.utc), transcript=[],
    )
    values.update(changes)
    return Lead(**values)


def test_the_database_refuses_an_unassessed_lead_and_unknown_kinds(sessions: sessionmaker[Session]) -> None:
    for row in (_row(kind="lead", profile={"org_type": "enterprise"}), _row(kind="complaint")):
        with sessions() as session, pytest.raises(IntegrityError):
            session.add(row)
            session.commit()


def test_times_come_back_in_utc_and_naive_ones_are_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        lead = _row(consent_given_at=datetime.fromisoformat("2025-01-01T08:00:00+08:00"))
        session.add(lead)
        session.commit()
        lead_id = lead.id
    with sessions() as session:
        stored = session.get(Lead, lead_id)
        assert stored is not None and stored.consent_given_at == datetime(2025, 1, 1, tzinfo=timezone.utc)
        assert stored.consent_given_at.tzinfo is not None and stored.created_at.tzinfo is not None
    with sessions() as session, pytest.raises(StatementError, match="naive datetime"):
        session.add(_row(consent_given_at=datetime(2025, 1, 1)))
        session.commit()
