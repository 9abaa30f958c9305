"""The console's data as JSON under /api/staff, for integrations: per-user API tokens (Bearer), same roles."""

from __future__ import annotations

from datetime import date
from typing import Any, Dict, List, Optional

import redis
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from bot.db import get_session
from bot.leads.schemas import LeadOut
from bot.staff import dashboard, service
from bot.staff.auth import api_user, get_redis
from bot.staff.models import StaffUser
from bot.staff.params import parse_filter
from bot.staff.schemas import AssigneeIn, AuditOut, LeadList, LeadSummary, NoteIn, NoteOut, StaffLeadOut, StatusIn

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


def _filter(request: Request) -> service.LeadFilter:
    try:
        return parse_filter(request.query_params)
    except service.StaffError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None


def _lead(db: Session, lead_id: str) -> Any:
    lead = service.get_lead(db, lead_id)
    if lead is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no lead or hand-off with this id")
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


@router.get("/export.csv", description="The filtered list as CSV (UTF-8 with BOM). " + FILTER_DOC)
def export(request: Request, user: StaffUser = Depends(reviewer), db: Session = Depends(get_session)) -> Response:
    body = service.export_csv(db, _filter(request), user)
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="leads.csv"'})


@router.get("/leads/{lead_id}", response_model=StaffLeadOut)
def read_lead(lead_id: str = LeadId, user: StaffUser = Depends(viewer), db: Session = Depends(get_session)) -> StaffLeadOut:
    return _detail(db, _lead(db, lead_id))


@router.post("/leads/{lead_id}/status", response_model=StaffLeadOut, responses={409: {"description": "not allowed now"}})
def change_status(body: StatusIn, lead_id: str = LeadId, user: StaffUser = Depends(reviewer),
                  db: Session = Depends(get_session)) -> StaffLeadOut:
    lead = _lead(db, lead_id)
    try:
        service.change_status(db, lead, body.status, user, body.reason)
    except service.StaffError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return _detail(db, lead)


@router.post("/leads/{lead_id}/assignee", response_model=StaffLeadOut)
def change_assignee(body: AssigneeIn, lead_id: str = LeadId, user: StaffUser = Depends(reviewer),
                    db: Session = Depends(get_session)) -> StaffLeadOut:
    lead = _lead(db, lead_id)
    try:
        service.assign(db, lead, body.assignee_id, user)
    except service.StaffError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    return _detail(db, lead)


@router.post("/leads/{lead_id}/notes", response_model=NoteOut, status_code=status.HTTP_201_CREATED)
def add_note(body: NoteIn, lead_id: str = LeadId, user: StaffUser = Depends(reviewer),
             db: Session = Depends(get_session)) -> NoteOut:
    try:
        return NoteOut.from_row(service.add_note(db, _lead(db, lead_id), user, body.text))
    except service.StaffError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None


@router.get("/dashboard")
def read_dashboard(start: Optional[date] = Query(None), end: Optional[date] = Query(None), user: StaffUser = Depends(viewer),
                   db: Session = Depends(get_session), client: redis.Redis = Depends(get_redis)) -> Dict[str, Any]:
    """The funnel per stage (total, by language, by category) and the latest unanswered questions."""
    try:
        start_date, end_date = dashboard.date_range(start.isoformat() if start else None, end.isoformat() if end else None)
    except service.StaffError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    view = dashboard.funnel_view(db, client, start_date, end_date)
    return {"start": view.start, "end": view.end, "stages": list(dashboard.FUNNEL_STAGES), "totals": view.totals,
            "by_language": view.splits["language"], "by_category": view.splits["category"],
            "unanswered": view.unanswered, "warning": view.redis_error}


@router.get("/audit", response_model=List[AuditOut])
def read_audit(page: int = Query(1, ge=1, le=100_000), user: StaffUser = Depends(admin),
               db: Session = Depends(get_session)) -> List[AuditOut]:
    return [AuditOut.from_row(entry) for entry in service.audit_entries(db, page)[0]]
