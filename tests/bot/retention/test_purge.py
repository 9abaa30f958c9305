"""The retention job on SQLite and PostgreSQL (each test runs on both) and on the Redis outbox: everything past
the consent notice's period goes (leads, hand-offs, their notes, transcripts and audit details, dead-letter
jobs), everything newer stays, and the logs hold counts only."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import redis
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db import upgrade
from bot.leads import service as lead_service
from bot.leads.models import Lead
from bot.leads.schemas import IntakeRequest
from bot.retention import purge
from bot.shared.outbox import Outbox
from bot.shared.program.screening_data import SCREENING_FILE, default_screening
from bot.staff.models import AuditEntry, LeadNote
from tests.bot.leads.conftest import handoff_body, lead_body
from tests.conftest import ROOT

NOW = datetime.now(timezone.utc)
MONTHS = 24
OLD = NOW - timedelta(days=2 * 365 + 40)  # a little over 24 months ago
RECENT = NOW - timedelta(days=30)


def add_lead(db: sessionmaker[Session], created: datetime, email: str, kind: str = "lead",
             status_changed: Optional[datetime] = None) -> str:
    body = (lead_body if kind == "lead" else handoff_body)(conversation_id=f"conv-{email}")
    body["contact"] = {**body["contact"], "email": email}
    body["transcript"] = [{"sender": "user", "text": f"my email is {email}", "timestamp": 1.0}]
    with db() as session:
        lead_id = lead_service.create(session, IntakeRequest(**body)).lead.id
        session.execute(update(Lead).where(Lead.id == lead_id).values(created_at=created,
                                                                       status_changed_at=status_changed))
        session.commit()
    return lead_id


def add_note(db: sessionmaker[Session], lead_id: str, at: datetime, words: str) -> None:
    with db.begin() as session:
        session.add(LeadNote(lead_id=lead_id, author_email="ann@staff.example.org", text=words, created_at=at))


def add_audit(db: sessionmaker[Session], at: datetime, action: str, target_id: Optional[str],
              **details: Any) -> None:
    with db.begin() as session:
        session.add(AuditEntry(actor_email="ann@staff.example.org", action=action, at=at,
                               target_type="lead" if target_id else "list", target_id=target_id, details=details))


def everything(db: sessionmaker[Session]) -> str:
    """Every row of the three tables as text, to search for a person's data."""
    with db() as session:
        rows = [session.execute(text(f"SELECT * FROM {table}")).all() for table in ("leads", "lead_notes", "staff_audit_log")]
    return json.dumps([[list(map(str, row)) for row in table] for table in rows])


def lead_ids(db: sessionmaker[Session]) -> List[str]:
    with db() as session:
        return sorted(session.scalars(select(Lead.id)))


def details(db: sessionmaker[Session], action: str) -> List[Dict[str, Any]]:
    with db() as session:
        return [e.details for e in session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                                   .order_by(AuditEntry.id))]


# --- the database ----------------------------------------------------------------------------------------------


def test_old_leads_go_with_their_notes_transcripts_and_audit_details_and_new_ones_stay(db: sessionmaker[Session]) -> None:
    old = add_lead(db, OLD, "old.person@example.com")
    old_handoff = add_lead(db, OLD, "old.handoff@example.com", kind="handoff")
    new = add_lead(db, RECENT, "new.person@example.com")
    add_note(db, old, OLD, "called old.person@example.com")
    add_note(db, new, RECENT, "called new.person@example.com")
    add_audit(db, OLD, "status", old, old="new", new="declined", reason="Old Person, old.person@example.com: spam")
    add_audit(db, RECENT, "assign", old, old=None, new=3)  # about the old lead, but recent
    add_audit(db, RECENT, "status", new, old="new", new="declined", reason="new.person@example.com: spam")

    purged = purge.run(db, None, MONTHS, now=NOW)

    assert (purged.leads, purged.notes, purged.audit_details) == (2, 1, 2)
    assert lead_ids(db) == [new]
    stored = everything(db)
    assert "old.person@example.com" not in stored and "old.handoff@example.com" not in stored
    assert stored.count("new.person@example.com") >= 4  # contact, transcript, note, audit reason
    assert details(db, "assign") == [purge.SCRUBBED]  # recent, but about a lead that is gone
    assert details(db, "status")[0] == purge.SCRUBBED and "new.person" in details(db, "status")[1]["reason"]
    assert old_handoff not in lead_ids(db)


def test_the_period_runs_from_the_last_contact(db: sessionmaker[Session]) -> None:
    long_ago = NOW - timedelta(days=5 * 365)
    status_moved = add_lead(db, long_ago, "a@example.com", status_changed=RECENT)
    noted = add_lead(db, long_ago, "b@example.com")
    add_note(db, noted, RECENT, "spoke to them again")
    just_inside = add_lead(db, purge.cutoff(NOW, MONTHS) + timedelta(minutes=5), "c@example.com")
    just_outside = add_lead(db, purge.cutoff(NOW, MONTHS) - timedelta(minutes=5), "d@example.com")
    purge.run(db, None, MONTHS, now=NOW)
    assert lead_ids(db) == sorted([status_moved, noted, just_inside])
    assert just_outside not in lead_ids(db)


def test_audit_details_older_than_the_period_go_whatever_they_are_about(db: sessionmaker[Session]) -> None:
    add_audit(db, OLD, "export", None, filters={"q": "Old Person"}, rows=3)
    add_audit(db, OLD, "login", None)  # nothing written: nothing to remove
    add_audit(db, RECENT, "export", None, filters={"q": "New Person"}, rows=1)
    assert purge.run(db, None, MONTHS, now=NOW).audit_details == 1
    assert details(db, "export") == [purge.SCRUBBED, {"filters": {"q": "New Person"}, "rows": 1}]
    assert details(db, "login") == [{}]
    again = purge.run(db, None, MONTHS, now=NOW)  # a second run finds nothing more
    assert (again.leads, again.notes, again.audit_details) == (0, 0, 0)


def test_each_run_is_audited_with_counts_only(db: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    old = add_lead(db, OLD, "old.person@example.com")
    add_note(db, old, OLD, "note")
    with caplog.at_level(logging.INFO, logger="bot.retention"):
        purge.run(db, None, MONTHS, now=NOW)
    assert details(db, "retention") == [{"months": 24, "leads": 1, "notes": 1, "audit_details": 0, "dead_jobs": 0}]
    logged = caplog.text
    assert "1 lead(s)" in logged and "1 note(s)" in logged
    assert old not in logged and "example.com" not in logged and "conv-" not in logged


def test_many_old_leads_go_in_batches(db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(purge, "BATCH", 2)
    for i in range(5):
        add_lead(db, OLD, f"p{i}@example.com")
    keep = add_lead(db, RECENT, "keep@example.com")
    assert purge.run(db, None, MONTHS, now=NOW).leads == 5
    assert lead_ids(db) == [keep]


# --- the outbox's dead letters -------------------------------------------------------------------------------


def test_dead_letter_jobs_older_than_the_period_go_and_newer_stay(outbox: Outbox) -> None:
    before = purge.cutoff(NOW, MONTHS).timestamp()
    outbox.redis.hset(outbox.key("dead"), mapping={
        "lead-old": json.dumps({"id": "lead-old", "kind": "lead", "conversation_id": "c-old", "body": {"email": "x"},
                                "created_at": OLD.timestamp()}),
        "lead-new": json.dumps({"id": "lead-new", "kind": "lead", "conversation_id": "c-new", "body": {},
                                "created_at": RECENT.timestamp()}),
        "garbage": "{not json and no date",
    })
    outbox.redis.sadd(outbox.key("conv", "c-old"), "lead-old")
    assert outbox.purge_dead(before) == 1
    assert sorted(job.id for job in outbox.dead()) == ["garbage", "lead-new"]
    assert not outbox.redis.exists(outbox.key("conv", "c-old"))
    # An entry with no readable date is dated when a purge first sees it, and goes one period after that.
    first_seen = outbox.redis.zscore(outbox.key("dead_seen"), "garbage")
    assert first_seen is not None and abs(first_seen - time.time()) < 60
    assert outbox.purge_dead(RECENT.timestamp() + 1) == 1  # a month on: the newer job's time has come, not garbage's
    assert [job.id for job in outbox.dead()] == ["garbage"]
    assert outbox.purge_dead(first_seen + 1) == 1
    assert outbox.dead() == [] and not outbox.redis.exists(outbox.key("dead_seen"))


def test_an_unreadable_job_dead_lettered_long_ago_goes_too(outbox: Outbox, db: sessionmaker[Session]) -> None:
    old_but_broken = json.dumps({"kind": "lead", "conversation_id": "c1", "created_at": OLD.timestamp()})  # no body
    outbox.redis.hset(outbox.key("jobs"), "lead-x", old_but_broken)
    outbox.redis.zadd(outbox.key("due"), {"lead-x": 0})
    [item] = outbox.claim()
    outbox.bury_unreadable(item)  # type: ignore[arg-type]
    assert purge.run(db, outbox, MONTHS, now=NOW).dead_jobs == 1 and outbox.dead() == []


def test_a_redis_failure_fails_the_run_after_the_database_part(db: sessionmaker[Session]) -> None:
    add_lead(db, OLD, "old.person@example.com")
    unreachable = Outbox(redis.Redis(port=9, socket_connect_timeout=0.2))
    with pytest.raises(redis.RedisError):
        purge.run(db, unreachable, MONTHS, now=NOW)
    assert lead_ids(db) == []  # the database part was done
    assert details(db, "retention") == []  # an incomplete run is not recorded as done


# --- the period and the command ----------------------------------------------------------------------------------


def test_the_period_is_the_one_the_consent_notice_states() -> None:
    import yaml

    stated = yaml.safe_load(SCREENING_FILE.read_text(encoding="utf-8"))["consent_notice"]["retention_months"]
    assert purge.retention_months() == stated == 24
    assert f"{stated} months" in default_screening().notice.render("en")


@pytest.mark.parametrize("now, months, expected", [
    (datetime(2026, 1, 15, 12, tzinfo=timezone.utc), 24, datetime(2024, 1, 15, 12, tzinfo=timezone.utc)),
    (datetime(2026, 3, 31, tzinfo=timezone.utc), 1, datetime(2026, 2, 28, tzinfo=timezone.utc)),
    (datetime(2025, 2, 28, tzinfo=timezone.utc), 12, datetime(2024, 2, 28, tzinfo=timezone.utc)),
    (datetime(2024, 12, 31, tzinfo=timezone.utc), 10, datetime(2024, 2, 29, tzinfo=timezone.utc)),
])
def test_the_cutoff_counts_calendar_months(now: datetime, months: int, expected: datetime) -> None:
    assert purge.cutoff(now, months) == expected


def test_the_command_purges_the_configured_database_and_logs_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(url)
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "bot.retention"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "retention (24 months, last contact before" in out.stderr and "0 lead(s)" in out.stderr
