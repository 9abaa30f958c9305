"""Delete what the consent notice says we keep no longer, and log only how much went.

The period is the one the notice states: `consent_notice.retention_months` in
bot/shared/program/data/screening.yml (24), read from there, so what people are told and what is done are one
value. "Up to N months after our last contact": a lead or hand-off is kept until N months after the latest of
its creation, its last status change and its latest staff note; then it goes, with

- its staff notes (deleted here rather than left to ON DELETE CASCADE, which SQLite does not enforce),
- its transcript, contact and profile (columns of the lead row),
- the details of the audit entries about it (who did what and when stays; what was written, such as a decline
  reason, goes). Audit details older than the period are removed too, whatever they are about: they may quote
  a search term or a reason;
- and, in Redis, dead-letter jobs of the outbox handed in before the cut-off (they hold the same personal data).

Each run is recorded in the audit log (counts only). A database or Redis failure is logged and the run exits 1,
so the supervisor tries again soon; whatever was deleted before the failure stays deleted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import redis
from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import get_engine
from bot.leads.models import Lead
from bot.shared import logs
from bot.shared.outbox import Outbox
from bot.shared.program.screening_data import default_screening
from bot.shared.redis_conn import redis_from_env
from bot.staff.models import AuditEntry, LeadNote

logger = logging.getLogger("bot.retention")

BATCH = 500  # leads per transaction: a first run over years of data never holds one huge lock
SCRUBBED: Dict[str, Any] = {"removed": "retention period"}  # what an audit entry's details become
ACTOR = "retention"


@dataclass
class Purged:
    leads: int = 0
    notes: int = 0
    audit_details: int = 0
    dead_jobs: int = 0


def retention_months() -> int:
    """The period the consent notice states (screening.yml `consent_notice.retention_months`)."""
    return default_screening().notice.retention_months


def cutoff(now: datetime, months: int) -> datetime:
    """The same moment `months` calendar months earlier (the 31st becomes the month's last day)."""
    index = now.year * 12 + (now.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    last_day = (datetime(year + (month == 12), month % 12 + 1, 1) - datetime(year, month, 1)).days
    return now.replace(year=year, month=month, day=min(now.day, last_day))


def _expired_leads(before: datetime) -> Any:
    """Leads whose last contact (creation, status change, latest note) is before `before`."""
    recent_note = exists().where(LeadNote.lead_id == Lead.id, LeadNote.created_at >= before)
    return select(Lead.id).where(
        Lead.created_at < before,
        or_(Lead.status_changed_at.is_(None), Lead.status_changed_at < before),
        ~recent_note,
    )


def _scrub(session: Session, condition: Any) -> int:
    """Replace the details of the matching audit entries (those with any, not yet scrubbed) with SCRUBBED; how many."""
    entries = session.execute(select(AuditEntry.id, AuditEntry.details).where(condition)).all()
    ids = [entry_id for entry_id, details in entries if details and details != SCRUBBED]
    for start in range(0, len(ids), BATCH):
        session.execute(update(AuditEntry).where(AuditEntry.id.in_(ids[start:start + BATCH])).values(details=SCRUBBED))
    return len(ids)


def purge_database(sessions: sessionmaker[Session], before: datetime) -> Purged:
    purged = Purged()
    while True:
        with sessions.begin() as session:
            ids: List[str] = list(session.scalars(_expired_leads(before).order_by(Lead.id).limit(BATCH)))
            if not ids:
                break
            purged.notes += session.execute(delete(LeadNote).where(LeadNote.lead_id.in_(ids))).rowcount or 0
            purged.audit_details += _scrub(session, and_(AuditEntry.target_type == "lead", AuditEntry.target_id.in_(ids)))
            purged.leads += session.execute(delete(Lead).where(Lead.id.in_(ids))).rowcount or 0
    with sessions.begin() as session:
        purged.audit_details += _scrub(session, and_(AuditEntry.at < before, AuditEntry.actor_email != ACTOR))
    return purged


def record(sessions: sessionmaker[Session], months: int, purged: Purged) -> None:
    with sessions.begin() as session:
        session.add(AuditEntry(actor_email=ACTOR, action="retention", target_type=None, target_id=None,
                               details={"months": months, **asdict(purged)}, at=datetime.now(timezone.utc)))


def run(sessions: sessionmaker[Session], outbox: Optional[Outbox], months: int,
        now: Optional[datetime] = None) -> Purged:
    """One pass; raises what the database or Redis raised (after doing what it could)."""
    before = cutoff(now or datetime.now(timezone.utc), months)
    purged = Purged()
    failure: Optional[BaseException] = None
    try:
        purged = purge_database(sessions, before)
    except SQLAlchemyError as error:
        failure = error
    if outbox is not None:
        try:
            purged.dead_jobs = outbox.purge_dead(before.timestamp())
        except redis.RedisError as error:
            failure = failure or error
    logger.info("retention (%d months, last contact before %s): %d lead(s) and hand-off(s), %d note(s), "
                "%d audit detail(s), %d dead-letter job(s) removed", months, before.date().isoformat(),
                purged.leads, purged.notes, purged.audit_details, purged.dead_jobs)
    if failure is None:
        record(sessions, months, purged)
    else:
        raise failure
    return purged


def main(argv: Optional[List[str]] = None) -> int:
    logs.install()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    parser = argparse.ArgumentParser(prog="python -m bot.retention", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    sessions = sessionmaker(get_engine(), expire_on_commit=False)
    try:
        run(sessions, Outbox(redis_from_env()), retention_months())
    except (SQLAlchemyError, redis.RedisError) as error:
        logger.error("retention run incomplete (%s); the next run tries again", type(error).__name__)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
