"""The review queue's pages: the leads marked for review, and one lead's profile beside the assessment's reasons
with the decision form (reviewers and above)."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Form, Path, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from bot.db import get_session
from bot.leads.models import Lead
from bot.staff import review, service
from bot.staff.auth import StaffPageError, web_user
from bot.staff.models import StaffUser
from bot.staff.pages import render, translator

router = APIRouter(prefix="/staff/review", include_in_schema=False)
viewer = web_user("viewer")
reviewer = web_user("reviewer")
LeadId = Path(..., max_length=64)


@router.get("", response_class=HTMLResponse)
def queue_page(request: Request, user: StaffUser = Depends(viewer), db: Session = Depends(get_session)) -> HTMLResponse:
    t = translator(request)
    context = {"leads": review.queue(db), "total": review.queue_size(db), "organization": service.organization,
               "done": request.query_params.get("done"), "title": t("review.title")}
    return render(request, "review.html", context, user=user)


def _lead(db: Session, lead_id: str) -> Lead:
    lead = service.get_lead(db, lead_id)
    if lead is None or lead.kind != "lead":
        raise StaffPageError(status.HTTP_404_NOT_FOUND, "error.no_lead")
    return lead


def _page(request: Request, db: Session, lead: Lead, user: StaffUser, error: Optional[str] = None,
          status_code: int = 200, form: Optional[dict] = None) -> HTMLResponse:
    t = translator(request)
    context = {"lead": lead, "error": error, "can_decide": user.can("reviewer"), "categories": t.categories(),
               "in_queue": lead.review and lead.status in service.OPEN_STATUSES, "form": form or {},
               "organization": service.organization, "position": review.queue_size(db),
               "title": t("review.lead_title", name=service.organization(lead) or lead.person)}
    return render(request, "review_lead.html", context, status_code, user=user)


@router.get("/{lead_id}", response_class=HTMLResponse)
def review_page(request: Request, lead_id: str = LeadId, user: StaffUser = Depends(viewer),
                db: Session = Depends(get_session)) -> HTMLResponse:
    return _page(request, db, _lead(db, lead_id), user)


@router.post("/{lead_id}", response_class=HTMLResponse)
def decide(request: Request, lead_id: str = LeadId, category: str = Form("", max_length=64),
           qualifies: str = Form("", max_length=8), reason: str = Form("", max_length=8000),
           user: StaffUser = Depends(reviewer), db: Session = Depends(get_session)) -> Response:
    lead = _lead(db, lead_id)
    form = {"category": category, "qualifies": qualifies, "reason": reason}
    if qualifies not in ("yes", "no"):
        return _page(request, db, lead, user, translator(request)("review.choose_qualifies"), status.HTTP_400_BAD_REQUEST,
                     form)
    try:
        review.decide(db, lead, category, qualifies == "yes", user, reason)
    except service.StaffError as error:
        return _page(request, db, _lead(db, lead_id), user, error.text(translator(request)), status.HTTP_409_CONFLICT,
                     form)
    following = review.next_in_queue(db, lead)
    target = f"/staff/review/{following.id}?done={lead.id}" if following else f"/staff/review?done={lead.id}"
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)
