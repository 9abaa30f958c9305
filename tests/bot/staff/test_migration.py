"""Migration 0005 on a database that already has staff data: the editor role, time to first contact backfilled
from the audit log, and the way back down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from bot import db


def _lead(connection, lead_id: str, status: str, changed: str) -> None:
    connection.execute(text(
        "INSERT INTO leads (id, kind, status, created_at, conversation_id, channel, language, person, email, "
        "consent_notice_version, consent_given_at, transcript, status_changed_at) VALUES (:id, 'handoff', :status, "
        "'2025-01-01 00:00:00', 'c', 'web', 'en', 'P', 'p@example.org', 'v1', '2025-01-01 00:00:00', '[]', :changed)"),
        {"id": lead_id, "status": status, "changed": changed})


@pytest.fixture
def old(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.upgrade(url, "0004")
    engine = create_engine(url)
    with engine.begin() as connection:
        _lead(connection, "accepted-lead", "accepted", "2025-01-05 00:00:00")
        _lead(connection, "contacted-lead", "contacted", "2025-01-04 00:00:00")
        _lead(connection, "new-lead", "new", None)
        for at, old_status, new_status in (("2025-01-03 10:00:00", "in_review", "contacted"),
                                           ("2025-01-04 10:00:00", "contacted", "accepted")):
            connection.execute(text(
                "INSERT INTO staff_audit_log (at, actor_email, action, target_type, target_id, details) VALUES "
                "(:at, 'a@x', 'status', 'lead', 'accepted-lead', :details)"),
                {"at": at, "details": json.dumps({"old": old_status, "new": new_status})})
        connection.execute(text("INSERT INTO staff_users (email, role, password_hash, active, created_at) "
                                "VALUES ('e@x', 'reviewer', 'h', 1, '2025-01-01 00:00:00')"))
    yield engine
    engine.dispose()


def test_upgrade_backfills_first_contact_and_allows_editors_and_downgrade_keeps_users(old: Engine) -> None:
    url = str(old.url)
    db.upgrade(url)
    with old.begin() as connection:
        rows = dict(connection.execute(text("SELECT id, contacted_at FROM leads")).all())
        assert rows == {"accepted-lead": "2025-01-03 10:00:00.000000", "contacted-lead": "2025-01-04 00:00:00",
                        "new-lead": None}
        connection.execute(text("UPDATE staff_users SET role = 'editor'"))
        trigger = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars().all()
        assert trigger == ["trg_leads_delete_notes"]  # erasing a lead still takes its notes
    with pytest.raises(IntegrityError), old.begin() as connection:
        connection.execute(text("UPDATE staff_users SET role = 'owner'"))
    command.downgrade(db.alembic_config(url), "0004")
    with old.begin() as connection:
        assert connection.execute(text("SELECT role FROM staff_users")).scalar() == "reviewer"  # editors step down
        tables = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
        assert "knowledge_changes" not in tables and "funnel_entries" not in tables
