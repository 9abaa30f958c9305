"""Staff tables: accounts, API tokens, append-only notes on leads, the audit log (sessions live in Redis), the durable
funnel counts and the versioned knowledge changes."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Dict, List, Optional

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, event, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.db import Base, UTCDateTime

# Each role can do everything the ones before it can; an editor also fixes the program knowledge (migration 0005).
ROLES = ("viewer", "reviewer", "editor", "admin")
# A change to any of these ends the user's console sessions (see end_sessions_on_credential_change).
SESSION_FIELDS = ("password_hash", "role", "active")

JsonType = JSON().with_variant(JSONB(), "postgresql")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint("role IN ('viewer', 'reviewer', 'editor', 'admin')", name="ck_staff_users_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case: the login name
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, with its parameters and salt
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    # Sessions record this at login and are refused once it differs (migration 0004).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def can(self, role: str) -> bool:
        return self.active and ROLES.index(self.role) >= ROLES.index(role)

    def __repr__(self) -> str:
        return f"StaffUser(id={self.id!r}, role={self.role!r})"


@event.listens_for(Session, "before_flush")
def end_sessions_on_credential_change(session: Session, _context: Any, _instances: Any) -> None:
    """Bump `session_version` of every staff user whose password, role or active flag is about to change.

    In the ORM rather than in each caller, so the CLI, the service and any future admin route all end the
    sessions: a deactivated then reactivated user counts two changes, and an old cookie stays dead.
    """
    for obj in session.dirty:
        if isinstance(obj, StaffUser):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in SESSION_FIELDS):
                obj.session_version = (obj.session_version or 0) + 1


class ApiToken(Base):
    """A per-user token for the JSON API; only its SHA-256 is stored (the token itself is shown once)."""

    __tablename__ = "staff_api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    last_used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())


class LeadNote(Base):
    """Append-only: the service has no update or delete for notes."""

    __tablename__ = "lead_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # CASCADE: erasing a conversation's leads (DELETE /api/leads) takes their notes along.
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    author_email: Mapped[str] = mapped_column(String(254))  # kept as written, so the note still says who
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class AuditEntry(Base):
    __tablename__ = "staff_audit_log"
    __table_args__ = (Index("ix_staff_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    actor_email: Mapped[str] = mapped_column(String(254))  # "cli" for changes made from the command line
    action: Mapped[str] = mapped_column(String(32))  # status, assign, note, export, login, user.create, token.create...
    target_type: Mapped[Optional[str]] = mapped_column(String(16))  # lead, user, token, list
    target_id: Mapped[Optional[str]] = mapped_column(String(64))
    details: Mapped[Dict[str, Any]] = mapped_column(JsonType, default=dict)


class FunnelEntry(Base):
    """One conversation counted at one funnel stage on one (local) day, copied from Redis's day sets so the counts
    survive a Redis restart (bot/staff/funnel_store.py). `member` is the funnel's hash of the conversation id,
    never the id itself: the same thing Redis holds."""

    __tablename__ = "funnel_entries"
    __table_args__ = (Index("ix_funnel_entries_day", "day"),)

    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date(), primary_key=True)
    member: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")
    category: Mapped[str] = mapped_column(String(64), default="", server_default="")


class KnowledgeChange(Base):
    """A change an editor made to the program knowledge (a fact, a source, an NLU example) or its revert: the files
    before and after, so it can be shown and undone (bot/staff/knowledge.py)."""

    __tablename__ = "knowledge_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    actor_email: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(16))  # fact, example, revert
    target: Mapped[str] = mapped_column(String(200))  # "facts/benefits.yml#exposure", "nlu/zh/staff.yml#benefits"
    summary: Mapped[Dict[str, Any]] = mapped_column(JsonType, default=dict)  # the entry before and after
    files: Mapped[List[Dict[str, Any]]] = mapped_column(JsonType, default=list)  # [{path, before, after}] in write order
    revert_of: Mapped[Optional[int]] = mapped_column(Integer)
    reverted_by: Mapped[Optional[int]] = mapped_column(Integer)
