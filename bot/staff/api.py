"""The console's data as JSON under /api/staff, for integrations: per-user API tokens (Bearer), same roles."""

from __future__ import annotations

from datetime import date
from typing import Any, Dict, List, Optional

import redis
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from bot.db import get_session
from bot.leads.schemas import LeadOut
from bot.staff import dashboard, review, service, trends
from bot.staff.auth import api_user, get_redis
from bot.staff.i18n import Translator, api_language
from bot.staff.models import StaffUser
from bot.staff.params import parse_filter
from bot.staff.schemas import (
    AssigneeIn,
    AuditOut,
    LeadList,
    LeadSummary,
    NoteIn,
    NoteOut,
    ReviewIn,
    StaffLeadOut,
    StatusIn,
)

router = APIRouter(prefix="/api/staff", tags=["staff"])

viewer = api_user("viewer")
reviewer = api_user("reviewer")
admin = api_user("admin")

LeadId = Path(..., max_length=64)
FILTER_DOC = (
    "Filters (all optional): kind (lead|handoff), status, category, qualified (yes|no|review), language, channel, "
    "date_from, date_to (YYYY-MM-DD, staff time zone), q (organization, person or email), sort "
    f"({'|'.join(service.SORTS)}), page."
)


def _t(request: Request) -> Translator:
    """Errors in the caller's Accept-Language, else English."""
    return Translator(api_language(request.headers.get("accept-language")))


def _refused(request: Request, code: int, error: service.StaffError) -> HTTPException:
    return HTTPException(code, error.text(_t(request)))


def _filter(request: Request) -> service.LeadFilter:
    try:
        return parse_filter(request.query_params)
    except service.StaffError as error:
        raise _refused(request, status.HTTP_400_BAD_REQUEST, error) from None


def _lead(db: Session, lead_id: str, request: Optional[Request] = None) -> Any:
    lead = service.get_lead(db, lead_id)
    if lead is None:
        t = _t(request) if request is not None else Translator("en")
        raise HTTPException(status.HTTP_404_NOT_FOUND, t("error.no_lead"))
    return lead


def _detail(db: Session, lead: Any) -> StaffLeadOut:
    return StaffLeadOut(
        **LeadOut.from_row(lead).model_dump(), assignee_id=lead.assignee_id, decline_reason=lead.decline_reason,
        status_changed_at=lead.status_changed_at, notes=[NoteOut.from_row(n) for n in service.notes(db, lead.id)],
        duplicates=[LeadSummary.from_row(d) for d in service.duplicates(db, lead)],
    )


@router.get("/leads", response_model=LeadList, description=FILTER_DOC)
def list_leads(request: Request, user: StaffUser = Depends(viewer), db: Session = Depends(get_session)) -> LeadList:
    page = service.list_leads(db, _filter(request))
    return LeadList(items=[LeadSummary.from_row(lead) for lead in page.items], total=page.total, page=page.page,
                    pages=page.pages, counts=page.counts)


@router.get("/export.csv", description="The filtered list as CSV (UTF-8 with BOM): column names and values as keys; "
            "with Accept-Language en or zh, headers and values in that language's words. " + FILTER_DOC)
def export(request: Request, user: StaffUser = Depends(reviewer), db: Session = Depends(get_session)) -> Response:
    header = request.headers.get("accept-language")
    body = service.export_csv(db, _filter(request), user, Translator(api_language(header)) if header else None)
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="leads.csv"'})


@router.get("/leads/{lead_id}", response_model=StaffLeadOut)
def read_lead(lead_id: str = LeadId, user: StaffUser = Depends(viewer), db: Session = Depends(get_session)) -> StaffLeadOut:
    return _detail(db, _lead(db, lead_id))


@router.post("/leads/{lead_id}/status", response_model=StaffLeadOut, responses={409: {"description": "not allowed now"}})
def change_status(request: Request, body: StatusIn, lead_id: str = LeadId, user: StaffUser = Depends(reviewer),
                  db: Session = Depends(get_session)) -> StaffLeadOut:
    lead = _lead(db, lead_id, request)
    try:
        service.change_status(db, lead, body.status, user, body.reason)
    except service.StaffError as error:
        raise _refused(request, status.HTTP_409_CONFLICT, error) from None
    return _detail(db, lead)


@router.post("/leads/{lead_id}/assignee", response_model=StaffLeadOut)
def change_assignee(request: Request, body: AssigneeIn, lead_id: str = LeadId, user: StaffUser = Depends(reviewer),
                    db: Session = Depends(get_session)) -> StaffLeadOut:
    lead = _lead(db, lead_id, request)
    try:
        service.assign(db, lead, body.assignee_id, user)
    except service.StaffError as error:
        raise _refused(request, status.HTTP_400_BAD_REQUEST, error) from None
    return _detail(db, lead)


@router.post("/leads/{lead_id}/notes", response_model=NoteOut, status_code=status.HTTP_201_CREATED)
def add_note(request: Request, body: NoteIn, lead_id: str = LeadId, user: StaffUser = Depends(reviewer),
             db: Session = Depends(get_session)) -> NoteOut:
    try:
        return NoteOut.from_row(service.add_note(db, _lead(db, lead_id, request), user, body.text))
    except service.StaffError as error:
        raise _refused(request, status.HTTP_400_BAD_REQUEST, error) from None


@router.get("/review", response_model=LeadList)
def review_queue(user: StaffUser = Depends(viewer), db: Session = Depends(get_session)) -> LeadList:
    """Leads marked for review that are still open, oldest first (up to 200)."""
    leads = review.queue(db)
    total = review.queue_size(db)
    return LeadList(items=[LeadSummary.from_row(lead) for lead in leads], total=total, page=1, pages=1,
                    counts={s: sum(1 for lead in leads if lead.status == s) for s in service.OPEN_STATUSES})


@router.post("/leads/{lead_id}/review", response_model=StaffLeadOut, responses={409: {"description": "not allowed now"}})
def decide_review(request: Request, body: ReviewIn, lead_id: str = LeadId, user: StaffUser = Depends(reviewer),
                  db: Session = Depends(get_session)) -> StaffLeadOut:
    """A reviewer's decision on a lead marked for review: its category, whether it qualifies (a reason is needed
    when it does not). The lead leaves the queue: in_review when it qualifies (from new), declined when not."""
    lead = _lead(db, lead_id, request)
    try:
        review.decide(db, lead, body.category, body.qualifies, user, body.reason)
    except service.StaffError as error:
        raise _refused(request, status.HTTP_409_CONFLICT, error) from None
    return _detail(db, lead)


@router.get("/dashboard")
def read_dashboard(start: Optional[date] = Query(None), end: Optional[date] = Query(None), user: StaffUser = Depends(viewer),
                   db: Session = Depends(get_session), client: redis.Redis = Depends(get_redis)) -> Dict[str, Any]:
    """The funnel per stage (total, by language, by category: null where a stage has no category) and the latest
    unanswered questions. Conversation stages come from the durable copy of the funnel, lead stages from the leads
    (`lists`: the /api/staff/leads filters that show exactly the leads a stage counts)."""
    try:
        start_date, end_date = dashboard.date_range(start.isoformat() if start else None, end.isoformat() if end else None)
    except service.StaffError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    view = dashboard.funnel_view(db, client, start_date, end_date)
    return {"start": view.start, "end": view.end, "stages": list(dashboard.FUNNEL_STAGES), "totals": view.totals,
            "by_language": view.splits["language"], "by_category": view.splits["category"], "lists": view.links,
            "unanswered": view.unanswered, "warning": view.warning}


@router.get("/trends")
def read_trends(start: Optional[date] = Query(None), end: Optional[date] = Query(None), user: StaffUser = Depends(viewer),
                db: Session = Depends(get_session)) -> Dict[str, Any]:
    """Week by week (Monday to Sunday, staff time zone; default the last 12 weeks): leads by category and channel,
    qualified and the rate in percent, contacted and the median hours to first contact."""
    try:
        start_date, end_date = dashboard.date_range(start.isoformat() if start else None, end.isoformat() if end else None,
                                                    default_days=7 * trends.DEFAULT_WEEKS, longest=3 * 366)
    except service.StaffError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    return trends.weekly(db, start_date, end_date).to_dict()


@router.get("/audit", response_model=List[AuditOut])
def read_audit(page: int = Query(1, ge=1, le=100_000), user: StaffUser = Depends(admin),
               db: Session = Depends(get_session)) -> List[AuditOut]:
    return [AuditOut.from_row(entry) for entry in service.audit_entries(db, page)[0]]
