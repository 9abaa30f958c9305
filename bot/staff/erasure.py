"""What the staff console holds about an erased conversation goes with it (bot.leads.events calls this inside
the erasure's transaction): the notes on its leads, and the details of audit entries about them (a decline
reason may quote the person). The audit keeps that something happened, and records the erasure itself —
with counts and a hash of the conversation id, never personal data."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Sequence

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from bot.staff.models import AuditEntry, LeadNote

SCRUBBED = {"scrubbed": "erased on the person's request"}


def conversation_ref(conversation_id: str) -> str:
    """How the audit log names an erased conversation: it proves which erasure ran, and links to nothing."""
    return hashlib.sha256(f"erased:{conversation_id}".encode()).hexdigest()[:32]


def erase_staff_records(session: Session, conversation_id: str, lead_ids: Sequence[str]) -> None:
    notes = 0
    if lead_ids:
        notes = session.execute(delete(LeadNote).where(LeadNote.lead_id.in_(lead_ids))).rowcount or 0
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.target_type == "lead", AuditEntry.target_id.in_(lead_ids))
            .values(details=SCRUBBED)
        )
    session.add(AuditEntry(
        actor_id=None, actor_email="intake", action="erase", target_type="conversation",
        target_id=conversation_ref(conversation_id), details={"records": len(lead_ids), "notes": int(notes)},
        at=datetime.now(timezone.utc),
    ))
