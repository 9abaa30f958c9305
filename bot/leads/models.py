"""The `leads` table: leads and hand-offs side by side (a `kind` column), with the assessment the service made."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Union

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime
from bot.shared.intake import INTAKE_KINDS

KINDS = INTAKE_KINDS  # the contract's (bot.shared.intake)
# The staff console's workflow (bot/staff/service.py TRANSITIONS says which step may follow which).
STATUSES = ("new", "in_review", "contacted", "accepted", "declined")

JsonType = JSON().with_variant(JSONB(), "postgresql")


def new_id() -> str:
    # Random, not sequential: an id in a URL or a log says nothing about how many leads there are.
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(timezone.utc)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint("kind IN ('lead', 'handoff')", name="ck_leads_kind"),
        # A lead always carries an assessment (its category may be null: nothing fits); a hand-off only with a profile.
        CheckConstraint("kind <> 'lead' OR (profile IS NOT NULL AND rules_version IS NOT NULL)", name="ck_leads_lead_assessed"),
        CheckConstraint(
            "status IN ('new', 'in_review', 'contacted', 'accepted', 'declined')", name="ck_leads_status"
        ),
        UniqueConstraint("idempotency_key", name="uq_leads_idempotency_key"),
        Index("ix_leads_created_at", "created_at"),
        Index("ix_leads_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="new")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)

    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(2))

    person: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[Optional[str]] = mapped_column(String(20))  # E.164
    consent_notice_version: Mapped[str] = mapped_column(String(32))
    consent_given_at: Mapped[datetime] = mapped_column(UTCDateTime())

    profile: Mapped[Optional[Dict[str, Any]]] = mapped_column(JsonType)
    category: Mapped[Optional[str]] = mapped_column(String(64))  # recommended, or the closest when not qualified
    qualified: Mapped[Optional[bool]] = mapped_column(Boolean)
    score: Mapped[Optional[int]] = mapped_column(Integer)  # 0..100
    reasons: Mapped[Optional[List[Any]]] = mapped_column(JsonType)  # each {en, zh}
    alternatives: Mapped[Optional[List[Any]]] = mapped_column(JsonType)  # other qualifying category keys
    rules_version: Mapped[Optional[str]] = mapped_column(String(64))  # hash of eligibility.yml that judged it
    # Not qualified, but close or not placeable by the rules: staff judge it (migration 0003).
    review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"), index=True)

    note: Mapped[Optional[str]] = mapped_column(Text)
    transcript: Mapped[List[Dict[str, Any]]] = mapped_column(JsonType)

    # Staff console (migration 0002): who works on it, why it was declined, when the status last moved.
    assignee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    decline_reason: Mapped[Optional[str]] = mapped_column(Text)
    status_changed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # Migration 0005: when staff first moved it to "contacted" (time to first contact), when a review decided it.
    contacted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    # Idempotency: the caller's key (unique, so concurrent retries cannot both insert) and the body's SHA-256.
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(200))
    request_hash: Mapped[Optional[str]] = mapped_column(String(64))

    def __repr__(self) -> str:  # no contact details: reprs end up in logs and tracebacks
        return f"Lead(id={self.id!r}, kind={self.kind!r}, status={self.status!r})"


COLUMNS = tuple(column.key for column in Lead.__table__.columns)
_UNSET: Dict[str, Any] = dict.fromkeys(COLUMNS)


class NewLead(SimpleNamespace):
    """A lead or hand-off about to be inserted: one attribute per column (None when not given), read like a Lead
    (LeadOut.from_row, the intake's listeners). Plain, because SQLAlchemy's instrumented constructor cost more than
    the insert itself (`make bench`, intake); `vars()` is the row to insert."""

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - _UNSET.keys()
        if unknown:
            raise TypeError(f"not a column of leads: {', '.join(sorted(unknown))}")
        super().__init__(**{**_UNSET, **values})

    def __repr__(self) -> str:  # no contact details, as Lead's
        return f"NewLead(id={self.id!r}, kind={self.kind!r}, status={self.status!r})"


LeadRecord = Union[Lead, NewLead]  # a stored lead as read back, or as just inserted
