"""What staff do with leads: list and filter, move through the workflow, assign, annotate, export; and the
audit log that records each of those. Routes (HTML and JSON) call these; they never touch the tables directly."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.leads.models import KINDS, STATUSES, Lead
from bot.settings import settings
from bot.staff.i18n import StaffError, Term, Terms, Translator
from bot.staff.models import ROLES, ApiToken, AuditEntry, LeadNote, StaffUser
from bot.staff.security import hash_password, new_api_token

# The workflow: each status and the ones that may follow it. Declining is possible until a lead is accepted.
TRANSITIONS: Dict[str, tuple[str, ...]] = {
    "new": ("in_review", "declined"),
    "in_review": ("contacted", "declined"),
    "contacted": ("accepted", "declined"),
    "accepted": (),
    "declined": (),
}
SORTS = {
    "newest": (Lead.created_at.desc(), Lead.id),
    "oldest": (Lead.created_at.asc(), Lead.id),
    "score": (Lead.score.desc().nulls_last(), Lead.created_at.desc()),
    "person": (Lead.person.asc(), Lead.created_at.desc()),
    "status": (Lead.status.asc(), Lead.created_at.desc()),
}
OPEN_STATUSES = tuple(status for status, after in TRANSITIONS.items() if after)  # not final yet
PER_PAGE = 25
MAX_NOTE = 4000
MAX_REASON = 1000


class InvalidTransition(StaffError):
    pass


def local_zone() -> ZoneInfo:
    """Staff think in Guangzhou time: date filters and displayed times use it (STAFF_TIMEZONE)."""
    return ZoneInfo(settings().staff_timezone)  # checked when the settings are read


def organization(lead: Lead) -> str:
    name = (lead.profile or {}).get("name")
    return str(name) if name else ""


# --- the filtered list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFilter:
    kind: str = "lead"
    status: Optional[str] = None
    category: Optional[str] = None
    qualified: Optional[bool] = None
    review: Optional[bool] = None  # marked for review by staff (close to a category, or not placeable)
    language: Optional[str] = None
    channel: Optional[str] = None
    date_from: Optional[date] = None
    date_to: Optional[date] = None  # inclusive
    q: Optional[str] = None
    sort: str = "newest"
    page: int = 1
    per_page: int = PER_PAGE

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise StaffError("error.kind", kinds=", ".join(KINDS))
        if self.status is not None and self.status not in STATUSES:
            raise StaffError("error.status_filter", statuses=", ".join(STATUSES))
        if self.sort not in SORTS:
            raise StaffError("error.sort", sorts=", ".join(SORTS))

    def describe(self) -> Dict[str, Any]:
        """The filter as plain JSON values (for the audit log of an export)."""
        data = asdict(self)
        data.pop("page"), data.pop("per_page")
        if data.get("q"):  # a search may be a person's name or email: the log says one was used, not what
            data["q"] = "[text search]"
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items() if v is not None}


def _org_name() -> ColumnElement[str]:
    return Lead.profile["name"].as_string()


def _conditions(f: LeadFilter, with_status: bool = True) -> List[ColumnElement[bool]]:
    conditions: List[ColumnElement[bool]] = [Lead.kind == f.kind]
    if with_status and f.status:
        conditions.append(Lead.status == f.status)
    if f.category:
        conditions.append(Lead.category == f.category)
    if f.qualified is not None:
        conditions.append(Lead.qualified.is_(f.qualified))
    if f.review is not None:
        conditions.append(Lead.review.is_(f.review))
    if f.language:
        conditions.append(Lead.language == f.language)
    if f.channel:
        conditions.append(Lead.channel == f.channel)
    zone = local_zone()
    if f.date_from:
        conditions.append(Lead.created_at >= datetime.combine(f.date_from, time(), zone))
    if f.date_to:
        conditions.append(Lead.created_at < datetime.combine(f.date_to + timedelta(days=1), time(), zone))
    if f.q and f.q.strip():
        text = f.q.strip()
        conditions.append(
            or_(
                Lead.person.icontains(text, autoescape=True),
                Lead.email.icontains(text, autoescape=True),
                _org_name().icontains(text, autoescape=True),
            )
        )
    return conditions


def list_conditions(f: LeadFilter) -> List[ColumnElement[bool]]:
    """What the lead list shows for `f`: the dashboard counts with these, so its numbers match the list."""
    return _conditions(f)


def _query(f: LeadFilter) -> Select[tuple[Lead]]:
    return select(Lead).where(and_(*_conditions(f))).order_by(*SORTS[f.sort])


@dataclass
class Page:
    items: List[Lead]
    total: int
    page: int
    pages: int
    counts: Dict[str, int] = field(default_factory=dict)  # per status, under every filter but the status one


def list_leads(session: Session, f: LeadFilter) -> Page:
    total = session.scalar(select(func.count()).select_from(Lead).where(and_(*_conditions(f)))) or 0
    pages = max(1, math.ceil(total / f.per_page))
    page = min(max(1, f.page), pages)
    items = list(session.scalars(_query(f).limit(f.per_page).offset((page - 1) * f.per_page)))
    return Page(items=items, total=total, page=page, pages=pages, counts=status_counts(session, f))


def status_counts(session: Session, f: LeadFilter) -> Dict[str, int]:
    rows = session.execute(
        select(Lead.status, func.count()).where(and_(*_conditions(f, with_status=False))).group_by(Lead.status)
    )
    counts = {status: 0 for status in STATUSES}
    counts.update({status: int(n) for status, n in rows})
    return counts


def distinct_values(session: Session, column: Any, kind: str) -> List[str]:
    """Values a filter can take (categories, channels) as the data has them."""
    return [v for v in session.scalars(select(column).where(Lead.kind == kind).distinct().order_by(column)) if v]


# --- one lead ----------------------------------------------------------------------------------------


def get_lead(session: Session, lead_id: str) -> Optional[Lead]:
    if "\x00" in lead_id:  # no id holds NUL, and PostgreSQL refuses it even in a query
        return None
    return session.get(Lead, lead_id)


def duplicates(session: Session, lead: Lead) -> List[Lead]:
    """Other leads and hand-offs with the same email or organization name (case-insensitive)."""
    matches = [func.lower(Lead.email) == lead.email.strip().lower()]
    name = organization(lead).strip()
    if name:
        matches.append(func.lower(func.trim(_org_name())) == name.lower())
    query = select(Lead).where(Lead.id != lead.id, or_(*matches)).order_by(Lead.created_at.desc()).limit(50)
    return list(session.scalars(query))


def notes(session: Session, lead_id: str) -> List[LeadNote]:
    return list(session.scalars(select(LeadNote).where(LeadNote.lead_id == lead_id).order_by(LeadNote.id)))


def audit(session: Session, actor: Optional[StaffUser], action: str, target_type: Optional[str] = None,
          target_id: Optional[str] = None, **details: Any) -> None:
    """Record an action (the caller commits, so the change and its record land together)."""
    session.add(AuditEntry(
        actor_id=actor.id if actor else None, actor_email=actor.email if actor else "cli", action=action,
        target_type=target_type, target_id=target_id, details=details, at=datetime.now(timezone.utc),
    ))


def change_status(session: Session, lead: Lead, new: str, actor: StaffUser, reason: Optional[str] = None) -> Lead:
    old = lead.status
    if new not in STATUSES:
        raise InvalidTransition("error.unknown_status", status=repr(new), statuses=", ".join(STATUSES))
    allowed = TRANSITIONS[old]
    if new not in allowed:
        raise InvalidTransition("error.transition" if allowed else "error.transition_final", old=Term("status", old),
                                new=Term("status", new), allowed=Terms("status", allowed))
    reason = (reason or "").strip()
    if "\x00" in reason:  # PostgreSQL refuses NUL in text
        raise StaffError("error.reason_nul")
    if new == "declined" and not reason:
        raise InvalidTransition("error.reason_needed")
    if len(reason) > MAX_REASON:
        raise StaffError("error.reason_long", n=MAX_REASON)
    now = datetime.now(timezone.utc)
    # Compare-and-set on the old status: two staff moving the same lead at once cannot both win.
    result = session.execute(
        update(Lead).where(Lead.id == lead.id, Lead.status == old)
        .values(status=new, status_changed_at=now, decline_reason=reason if new == "declined" else None,
                # The first time it reaches "contacted": the trends' time to first contact.
                contacted_at=func.coalesce(Lead.contacted_at, now) if new == "contacted" else Lead.contacted_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        raise InvalidTransition("error.changed_meanwhile")
    audit(session, actor, "status", "lead", lead.id, old=old, new=new, **({"reason": reason} if reason else {}))
    session.commit()
    session.refresh(lead)
    return lead


def assign(session: Session, lead: Lead, assignee_id: Optional[int], actor: StaffUser) -> Lead:
    assignee = None
    if assignee_id is not None:
        assignee = session.get(StaffUser, assignee_id)
        if assignee is None or not assignee.can("reviewer"):
            raise StaffError("error.assignee")
    old = lead.assignee_id
    lead.assignee_id = assignee.id if assignee else None
    audit(session, actor, "assign", "lead", lead.id, old=old, new=lead.assignee_id)
    session.commit()
    return lead


def add_note(session: Session, lead: Lead, author: StaffUser, text: str) -> LeadNote:
    text = (text or "").strip()
    if not text:
        raise StaffError("error.note_empty")
    if "\x00" in text:  # PostgreSQL refuses NUL in text
        raise StaffError("error.note_nul")
    if len(text) > MAX_NOTE:
        raise StaffError("error.note_long", n=MAX_NOTE)
    note = LeadNote(lead_id=lead.id, author_id=author.id, author_email=author.email, text=text,
                    created_at=datetime.now(timezone.utc))
    session.add(note)
    session.flush()
    audit(session, author, "note", "lead", lead.id, note_id=note.id)  # the id, not the text: the log stays lean
    session.commit()
    return note


def assignable(session: Session) -> List[StaffUser]:
    users = session.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.email))
    return [u for u in users if u.can("reviewer")]


def emails_by_id(session: Session, ids: Sequence[Optional[int]]) -> Dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(wanted))).all())


# --- export -----------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id", "kind", "status", "created_at", "channel", "language", "organization", "person", "email", "phone",
    "category", "qualified", "score", "assignee", "decline_reason", "note",
)
MAX_EXPORT = 50_000


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula to Excel (CSV injection); a leading quote keeps it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text starting with a BOM, so Excel reads it as UTF-8; formula-like cells are defused."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([_cell(h) for h in header])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def export_csv(session: Session, f: LeadFilter, actor: StaffUser, t: Optional[Translator] = None) -> str:
    """The whole filtered list (every page) as CSV. With a translator (the console), headers and values are in
    the reader's language and words; without one (the API without Accept-Language), the stable keys."""
    leads = list(session.scalars(_query(f).limit(MAX_EXPORT)))
    emails = emails_by_id(session, [lead.assignee_id for lead in leads])
    zone = local_zone()

    def word(kind: str, key: Optional[str]) -> Optional[str]:
        return t.term(kind, key) if t is not None and key is not None else key

    def qualified(lead: Lead) -> str:
        if lead.qualified is None:
            return ""
        return t.qualified(lead.qualified, bool(lead.review)) if t is not None else ("yes" if lead.qualified else "no")

    rows = [(
        lead.id, word("kind", lead.kind), word("status", lead.status),
        lead.created_at.astimezone(zone).isoformat(timespec="seconds"), word("channel", lead.channel),
        word("language", lead.language), organization(lead), lead.person, lead.email, lead.phone,
        (t.category(lead.category) if lead.category else "") if t is not None else lead.category,
        qualified(lead), lead.score, emails.get(lead.assignee_id or -1, ""), lead.decline_reason, lead.note,
    ) for lead in leads]
    header = [t(f"csv.{column}") for column in CSV_COLUMNS] if t is not None else list(CSV_COLUMNS)
    body = csv_text(header, rows)
    audit(session, actor, "export", "list", None, filters=f.describe(), rows=len(leads))
    session.commit()
    return body


def audit_entries(session: Session, page: int = 1, per_page: int = 100) -> tuple[List[AuditEntry], int]:
    total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    rows = session.scalars(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(per_page).offset((max(1, page) - 1) * per_page)
    )
    return list(rows), total


# --- accounts and tokens (the CLI) -------------------------------------------------------------------


def find_user(session: Session, email: str) -> Optional[StaffUser]:
    if "\x00" in email:  # nobody's address has NUL, and PostgreSQL refuses it even in a query (the login form)
        return None
    return session.scalars(select(StaffUser).where(StaffUser.email == email.strip().lower())).one_or_none()


def create_user(session: Session, email: str, role: str, password: str) -> StaffUser:
    email = email.strip().lower()
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise StaffError("give the user's email address")
    if find_user(session, email) is not None:
        raise StaffError("a staff user with this email already exists")
    user = StaffUser(email=email, role=role, password_hash=hash_password(password), active=True,
                     created_at=datetime.now(timezone.utc))
    session.add(user)
    session.flush()
    audit(session, None, "user.create", "user", str(user.id), role=role)
    session.commit()
    return user


def update_user(session: Session, user: StaffUser, *, role: Optional[str] = None, password: Optional[str] = None,
                active: Optional[bool] = None) -> StaffUser:
    changes: Dict[str, Any] = {}
    if role is not None:
        if role not in ROLES:
            raise StaffError(f"role must be one of {', '.join(ROLES)}")
        user.role, changes["role"] = role, role
    if password is not None:
        user.password_hash, changes["password"] = hash_password(password), "changed"
    if active is not None:
        user.active, changes["active"] = active, active
    audit(session, None, "user.update", "user", str(user.id), **changes)
    session.commit()
    return user


def create_token(session: Session, user: StaffUser, name: str) -> tuple[ApiToken, str]:
    token, digest = new_api_token()
    row = ApiToken(user_id=user.id, name=name.strip()[:80] or "token", token_hash=digest,
                   created_at=datetime.now(timezone.utc))
    session.add(row)
    session.flush()
    audit(session, None, "token.create", "token", str(row.id), user_id=user.id)
    session.commit()
    return row, token


def revoke_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise StaffError(f"no API token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(timezone.utc)
        audit(session, None, "token.revoke", "token", str(row.id), user_id=row.user_id)
        session.commit()
    return row


def with_page(f: LeadFilter, page: int) -> LeadFilter:
    return replace(f, page=page)
