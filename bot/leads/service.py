"""Storing leads and hand-offs: the service assesses the profile itself, and idempotency keys make retries safe."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Union

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.leads import events
from bot.leads.models import Lead, LeadRecord, NewLead, new_id, now
from bot.leads.schemas import IntakeRequest
from bot.shared.program.eligibility import Profile, assess, default_rules

logger = logging.getLogger(__name__)


class InvalidProfile(ValueError):
    """The profile does not read as eligibility answers (Profile.from_dict refused it)."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different request body."""


@dataclass(frozen=True)
class Stored:
    lead: LeadRecord
    replayed: bool  # True when an earlier request with the same key and body stored it


def _assessment(profile_data: Dict[str, Any]) -> Dict[str, Any]:
    # The cached rules (reloaded after an edit), and the same object for reading and judging the profile.
    rules = default_rules()
    try:
        profile = Profile.from_dict(profile_data, rules)
    except ValueError as error:
        raise InvalidProfile(str(error)) from None
    # Always our own assessment on the current rules: whatever the caller believes the category is does not count.
    data = assess(profile, rules).to_dict()  # JSON-ready: reasons in both languages, alternatives as keys
    return {key: data[key] for key in ("category", "qualified", "review", "score", "reasons", "alternatives",
                                       "rules_version")}


def prepare(request: IntakeRequest, idempotency_key: Optional[str] = None) -> NewLead:
    """The row to store for a request: its own assessment, a fresh id and time (no database needed yet)."""
    assessment = _assessment(request.profile) if request.profile is not None else {}
    return NewLead(
        id=new_id(),
        created_at=now(),
        kind=request.kind,
        status="new",
        conversation_id=request.conversation_id,
        channel=request.channel,
        language=request.language,
        person=request.contact.person,
        email=request.contact.email,
        phone=request.contact.phone,
        consent_notice_version=request.consent.notice_version,
        consent_given_at=request.consent.given_at,
        profile=request.profile,
        transcript=[turn.model_dump() for turn in request.transcript],
        note=request.note,
        idempotency_key=idempotency_key,
        request_hash=request.fingerprint(),
        **{"review": False, **assessment},
    )


def _by_key(session: Session, idempotency_key: str) -> Optional[Lead]:
    return session.scalars(select(Lead).where(Lead.idempotency_key == idempotency_key)).one_or_none()


def _replay(lead: Lead, request_hash: Optional[str]) -> Stored:
    if lead.request_hash != request_hash:
        raise IdempotencyConflict(
            "this Idempotency-Key was already used with a different request body; send a new key for a new request"
        )
    return Stored(lead, replayed=True)


def _insert(session: Session, leads: Sequence[NewLead]) -> None:
    # Core, not the unit of work: the rows are complete (prepare set ids and times), and the ORM's bookkeeping
    # cost more than the insert itself (`make bench`, intake).
    session.connection().execute(insert(Lead.__table__), [vars(lead) for lead in leads])
    session.commit()


def _answer_refused(session: Session, lead: NewLead, refused: IntegrityError) -> Stored:
    """The database refused `lead`: a request with the same key stored it before (a retry) or won the race just
    now, so its row is the answer; when no row holds the key, the refusal was about something else: raised."""
    existing = _by_key(session, lead.idempotency_key) if lead.idempotency_key is not None else None
    if existing is None:
        raise refused
    return _replay(existing, lead.request_hash)


def _stored(lead: NewLead) -> Stored:
    logger.info("stored %s %s (channel %s, category %s)", lead.kind, lead.id, lead.channel, lead.category or "-")
    events.announce(lead)  # e.g. the staff console's live list and Telegram alert (bot.staff.app listens)
    return Stored(lead, replayed=False)


def _alone(session: Session, lead: NewLead, refused: Optional[IntegrityError]) -> Union[Stored, Exception]:
    """`lead` on its own: `refused` is the error the database gave it alone; None: insert it alone first."""
    try:
        if refused is None:
            try:
                _insert(session, [lead])
                return _stored(lead)
            except IntegrityError as error:
                session.rollback()
                refused = error
        return _answer_refused(session, lead, refused)
    except (IntegrityError, IdempotencyConflict) as error:
        session.rollback()
        return error


def store_all(session: Session, leads: Sequence[NewLead]) -> List[Union[Stored, Exception]]:
    """Store prepared leads in one transaction (one commit for all); when the database refuses the group (a
    retried Idempotency-Key among them), each on its own, so one retry never costs the others their row.
    Returns, per lead, its Stored or the error that refused it (IdempotencyConflict, IntegrityError)."""
    try:
        # Insert first: the unique key tells a retry apart, so new leads (nearly every request) cost one
        # statement, not a lookup and an insert.
        _insert(session, leads)
    except IntegrityError as refused:
        session.rollback()
        if len(leads) == 1:  # the refusal was about this one: no need to insert it again
            return [_alone(session, leads[0], refused)]
        return [_alone(session, lead, None) for lead in leads]
    return [_stored(lead) for lead in leads]


def create(session: Session, request: IntakeRequest, idempotency_key: Optional[str] = None) -> Stored:
    """Store a lead or hand-off, or return the one an earlier request with the same key stored."""
    outcome = store_all(session, [prepare(request, idempotency_key)])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def get(session: Session, lead_id: str) -> Optional[Lead]:
    if "\x00" in lead_id:  # no id holds NUL, and PostgreSQL refuses it even in a query
        return None
    return session.get(Lead, lead_id)


def delete_conversation(session: Session, conversation_id: str) -> int:
    """Delete every lead and hand-off of a conversation (the user asked to be forgotten); returns how many."""
    if "\x00" in conversation_id:  # none is stored with NUL (the body refuses it), and PostgreSQL refuses it in a query
        return 0
    lead_ids = list(session.scalars(select(Lead.id).where(Lead.conversation_id == conversation_id)))
    events.erasing(session, conversation_id, lead_ids)  # notes, audit details: same transaction
    result = session.execute(delete(Lead).where(Lead.conversation_id == conversation_id))
    session.commit()
    deleted = int(result.rowcount or 0)
    logger.info("deleted %d record(s) of a conversation on request", deleted)
    return deleted
