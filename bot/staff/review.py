"""The review queue: leads the assessment marked for staff (close to a category, or a profile the rules cannot
place), and the decision a reviewer takes on one.

A decision sets the category (one of categories.yml's, or none) and whether the lead qualifies, clears the
review mark and moves the lead on in the usual workflow: a qualifying lead that was still "new" goes to
"in_review" (ready to be contacted), one that does not qualify is "declined" with the reviewer's reason. The
audit entry records the category, qualification and status before and after, never the reason's words (they
may quote the person); the reason is kept with the lead (a note, or the decline reason), so an erasure takes it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import List, Optional, Tuple

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from bot.leads.models import Lead
from bot.shared.program import CATEGORY_KEYS
from bot.staff.i18n import StaffError
from bot.staff.models import LeadNote, StaffUser
from bot.staff.service import MAX_NOTE, OPEN_STATUSES, audit


def queue_filter() -> Tuple[ColumnElement[bool], ...]:
    return (Lead.kind == "lead", Lead.review.is_(True), Lead.status.in_(OPEN_STATUSES))


def queue(session: Session, limit: int = 200) -> List[Lead]:
    """Leads waiting for a review decision, oldest first (they have waited longest)."""
    return list(session.scalars(select(Lead).where(*queue_filter()).order_by(Lead.created_at.asc(), Lead.id).limit(limit)))


def queue_size(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Lead).where(*queue_filter())) or 0


def next_in_queue(session: Session, after: Optional[Lead] = None) -> Optional[Lead]:
    query = select(Lead).where(*queue_filter())
    if after is not None:
        query = query.where(Lead.id != after.id)
    return session.scalars(query.order_by(Lead.created_at.asc(), Lead.id).limit(1)).first()


def decide(session: Session, lead: Lead, category: Optional[str], qualifies: bool, actor: StaffUser,
           reason: Optional[str] = None) -> Lead:
    """Record a reviewer's decision on a lead marked for review (see the module docstring)."""
    if lead.kind != "lead" or not lead.review:
        raise StaffError("review.not_marked")
    if lead.status not in OPEN_STATUSES:
        raise StaffError("review.closed")
    category = (category or "").strip() or None
    if category is not None and category not in CATEGORY_KEYS:
        raise StaffError("review.bad_category")
    if qualifies and category is None:
        raise StaffError("review.category_needed")
    reason = (reason or "").strip()
    if "\x00" in reason:
        raise StaffError("error.reason_nul")
    if len(reason) > MAX_NOTE:
        raise StaffError("error.note_long", n=MAX_NOTE)
    if not qualifies and not reason:
        raise StaffError("review.reason_needed")
    old_status, old_category, old_qualified = lead.status, lead.category, lead.qualified
    new_status = "declined" if not qualifies else ("in_review" if old_status == "new" else old_status)
    now = datetime.now(timezone.utc)
    values = {"review": False, "category": category, "qualified": qualifies, "reviewed_at": now, "status": new_status}
    if new_status != old_status:
        values["status_changed_at"] = now
    if new_status == "declined":
        values["decline_reason"] = reason
    # Compare-and-set: two reviewers deciding the same lead at once cannot both win.
    result = session.execute(
        update(Lead).where(Lead.id == lead.id, Lead.review.is_(True), Lead.status == old_status).values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        raise StaffError("error.changed_meanwhile")
    note_id = None
    if qualifies and reason:
        note = LeadNote(lead_id=lead.id, author_id=actor.id, author_email=actor.email, text=reason, created_at=now)
        session.add(note)
        session.flush()
        note_id = note.id
    audit(session, actor, "review", "lead", lead.id, category_before=old_category, category_after=category,
          qualified_before=old_qualified, qualified_after=qualifies, status_before=old_status, status_after=new_status,
          reason_given=bool(reason), **({"note_id": note_id} if note_id else {}))
    session.commit()
    session.refresh(lead)
    return lead
