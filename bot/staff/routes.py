"""The console's pages under /staff: login, the language switch, the lead and hand-off queues, a lead, export,
live events and the audit log (the review queue, dashboard, trends and knowledge have modules of their own).
Each route names its least role with `web_user(...)`; POSTs are CSRF-checked there."""

from __future__ import annotations

import json
import secrets
import time
from datetime import date
from typing import AsyncIterator, Optional

import redis
from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from sqlalchemy.orm import Session

from bot.chat.store import async_redis_from_env
from bot.db import get_session
from bot.leads.models import STATUSES, Lead
from bot.settings import settings
from bot.shared.channels import NAMES as CHANNEL_NAMES
from bot.staff import events, service
from bot.staff.auth import StaffPageError, get_redis, session_is_valid, web_user
from bot.staff.i18n import COOKIE as LANGUAGE_COOKIE
from bot.staff.i18n import LANGUAGES
from bot.staff.models import StaffUser
from bot.staff.pages import render, translator
from bot.staff.params import parse_filter, query_string
from bot.staff.security import (
    COOKIE_NAME,
    LOGIN_CSRF_COOKIE,
    LoginLimiter,
    Sessions,
    cookie_secure,
    csrf_matches,
    session_max_age,
    verify_password,
)

router = APIRouter(prefix="/staff", include_in_schema=False)

viewer = web_user("viewer")
reviewer = web_user("reviewer")
admin = web_user("admin")
viewer_passive = web_user("viewer", refresh=False)  # the live stream: keeping a tab open is not activity

LeadId = Path(..., max_length=64)


def _safe_next(target: Optional[str]) -> str:
    # Only back into the console: an open redirect after login would be a phishing aid.
    if target and target.startswith("/staff") and not target.startswith("//") and "\\" not in target:
        return target
    return "/staff"


# --- the language switch ---------------------------------------------------------------------------------


@router.get("/language")
def choose_language(lang: str = Query(..., max_length=8), next: Optional[str] = Query(None, max_length=2000)) -> Response:
    """Remember the reader's choice (a cookie for a year) and go back to the page. Public: the login page has it."""
    if lang not in LANGUAGES:
        raise StaffPageError(status.HTTP_400_BAD_REQUEST, "error.language")
    response = RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax",
                        secure=cookie_secure(), path="/")
    return response


# --- login and logout ----------------------------------------------------------------------------------


def _login_page(request: Request, next_url: str, error: Optional[str] = None, status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", {"login_csrf": token, "next": next_url, "error": error}, status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="lax", secure=cookie_secure(),
                        path="/staff/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Optional[str] = Query(None, max_length=500)) -> HTMLResponse:
    return _login_page(request, _safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    email: str = Form("", max_length=254),
    password: str = Form("", max_length=1000),
    csrf_token: str = Form("", max_length=200),
    next: str = Form("/staff", max_length=500),
    db: Session = Depends(get_session),
    client: redis.Redis = Depends(get_redis),
) -> Response:
    t = translator(request)
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _login_page(request, _safe_next(next), t("login.expired"), status.HTTP_403_FORBIDDEN)
    ip = request.client.host if request.client else "unknown"
    limiter = LoginLimiter(client)
    try:
        # Counted before the password is checked, so parallel guesses cannot outrun the count.
        decision = limiter.attempt(email, ip)
        if not decision.allowed:
            response = _login_page(request, _safe_next(next), t("login.too_many", n=decision.retry_after),
                                   status.HTTP_429_TOO_MANY_REQUESTS)
            response.headers["Retry-After"] = str(decision.retry_after)
            return response
        user = service.find_user(db, email)
        ok = verify_password(user.password_hash if user else None, password) and user is not None and user.active
        if not ok or user is None:
            service.audit(db, None, "login.failed", "user", str(user.id) if user else None)
            db.commit()
            return _login_page(request, _safe_next(next), t("login.wrong"), status.HTTP_401_UNAUTHORIZED)
        limiter.succeeded(email, ip)
        token = Sessions(client).create(user.id, user.session_version)
    except redis.RedisError:
        raise StaffPageError(status.HTTP_503_SERVICE_UNAVAILABLE, "error.redis_sessions") from None
    service.audit(db, user, "login", "user", str(user.id))
    db.commit()
    response = RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    # The browser may keep it for the absolute lifetime; the server ends it sooner when idle.
    response.set_cookie(COOKIE_NAME, token, max_age=session_max_age(), httponly=True, samesite="lax", secure=cookie_secure(),
                        path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff/login")
    return response


@router.post("/logout")
def logout(request: Request, user: StaffUser = Depends(viewer), client: redis.Redis = Depends(get_redis),
           db: Session = Depends(get_session)) -> Response:
    Sessions(client).delete(request.cookies.get(COOKIE_NAME))
    service.audit(db, user, "logout", "user", str(user.id))
    db.commit()
    response = RedirectResponse("/staff/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


# --- the queues ------------------------------------------------------------------------------------------


def _list_page(request: Request, kind: str, user: StaffUser, db: Session) -> HTMLResponse:
    try:
        f = parse_filter(request.query_params, kind)
    except service.StaffError as error:
        raise StaffPageError(status.HTTP_400_BAD_REQUEST, error) from None
    page = service.list_leads(db, f)
    t = translator(request)
    known = dict(t.categories())  # every category in words (categories.yml), then any other value the data holds
    stored = service.distinct_values(db, Lead.category, kind)
    context = {
        "kind": kind, "f": f, "page": page, "statuses": STATUSES, "sorts": list(service.SORTS),
        "categories": list(known.items()) + [(c, c) for c in stored if c not in known],
        "channels": sorted(set(service.distinct_values(db, Lead.channel, kind)) | set(CHANNEL_NAMES)),
        "assignees": service.emails_by_id(db, [lead.assignee_id for lead in page.items]),
        "qs": lambda **changes: query_string(f, **changes), "organization": service.organization,
        "title": t("nav.leads") if kind == "lead" else t("list.handoffs_title"),
        "base": "/staff" if kind == "lead" else "/staff/handoffs",
    }
    return render(request, "leads.html", context, user=user)


@router.get("", response_class=HTMLResponse)
def leads_page(request: Request, user: StaffUser = Depends(viewer), db: Session = Depends(get_session)) -> HTMLResponse:
    return _list_page(request, "lead", user, db)


@router.get("/handoffs", response_class=HTMLResponse)
def handoffs_page(request: Request, user: StaffUser = Depends(viewer), db: Session = Depends(get_session)) -> HTMLResponse:
    return _list_page(request, "handoff", user, db)


@router.get("/export.csv")
def export(request: Request, user: StaffUser = Depends(reviewer), db: Session = Depends(get_session)) -> Response:
    try:
        f = parse_filter(request.query_params)
    except service.StaffError as error:
        raise StaffPageError(status.HTTP_400_BAD_REQUEST, error) from None
    body = service.export_csv(db, f, user, translator(request))
    name = f"{f.kind}s-{date.today().isoformat()}.csv"
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


# --- live events -----------------------------------------------------------------------------------------


@router.get("/events")
async def live_events(request: Request, user: StaffUser = Depends(viewer_passive),
                      client: redis.Redis = Depends(get_redis), db: Session = Depends(get_session)) -> StreamingResponse:
    """Server-sent events: one `lead` event per new lead or hand-off (a summary without contact details).

    The stream does not keep the session alive, and ends once the session does (re-checked every
    STAFF_SSE_CHECK_SECONDS: logout, idle or absolute expiry, a password, role or active change)."""
    cookie = request.cookies.get(COOKIE_NAME)
    bind = db.get_bind()  # the request's own DB session closes before the stream runs
    config = settings()
    check_every = config.staff_sse_check_seconds
    # A stream lives at most STAFF_SSE_MAX_SECONDS; the browser then reconnects, through the auth check again.
    lifetime = config.staff_sse_max_seconds

    async def stream() -> AsyncIterator[str]:
        subscriber = async_redis_from_env(socket_timeout=None)  # get_message below has its own timeout
        pubsub = subscriber.pubsub()
        try:
            await pubsub.subscribe(events.channel())
            yield "retry: 3000\n\n"
            last_sent = last_check = started = time.monotonic()
            while not await request.is_disconnected():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=min(1.0, check_every))
                now = time.monotonic()
                if message is not None:
                    yield f"event: lead\ndata: {json.dumps(json.loads(message['data']))}\n\n"
                    last_sent = now
                elif now - last_sent > 15:
                    yield ": keep-alive\n\n"  # proxies close idle connections
                    last_sent = now
                if now - started >= lifetime:
                    break
                if now - last_check >= check_every:
                    last_check = now
                    if not await run_in_threadpool(session_is_valid, bind, client, cookie):
                        break
        except (redis.RedisError, OSError):
            pass  # the browser's EventSource reconnects on its own
        finally:
            try:
                await pubsub.aclose()
                await subscriber.aclose()
            except Exception:  # noqa: BLE001  (closing a broken connection)
                pass

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# --- one lead --------------------------------------------------------------------------------------------


def _lead_or_404(db: Session, lead_id: str) -> Lead:
    lead = service.get_lead(db, lead_id)
    if lead is None:
        raise StaffPageError(status.HTTP_404_NOT_FOUND, "error.no_lead")
    return lead


def _lead_page(request: Request, db: Session, lead: Lead, user: StaffUser, error: Optional[str] = None,
               status_code: int = 200) -> HTMLResponse:
    notes = service.notes(db, lead.id)
    context = {
        "lead": lead, "notes": notes, "duplicates": service.duplicates(db, lead), "error": error,
        "organization": service.organization, "next_statuses": service.TRANSITIONS[lead.status],
        "assignable": service.assignable(db),
        "assignee": service.emails_by_id(db, [lead.assignee_id]).get(lead.assignee_id or -1),
        "done": request.query_params.get("done"), "can_edit": user.can("reviewer"),
        "title": service.organization(lead) or lead.person, "open_statuses": service.OPEN_STATUSES,
    }
    return render(request, "lead.html", context, status_code, user=user)


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_page(request: Request, lead_id: str = LeadId, user: StaffUser = Depends(viewer),
              db: Session = Depends(get_session)) -> HTMLResponse:
    return _lead_page(request, db, _lead_or_404(db, lead_id), user)


def _back(lead: Lead, done: str) -> RedirectResponse:
    return RedirectResponse(f"/staff/leads/{lead.id}?done={done}", status.HTTP_303_SEE_OTHER)


@router.post("/leads/{lead_id}/status", response_class=HTMLResponse)
def change_status(request: Request, lead_id: str = LeadId, new_status: str = Form(..., alias="status", max_length=16),
                  reason: str = Form("", max_length=2000), user: StaffUser = Depends(reviewer),
                  db: Session = Depends(get_session)) -> Response:
    lead = _lead_or_404(db, lead_id)
    try:
        service.change_status(db, lead, new_status, user, reason)
    except service.StaffError as error:
        return _lead_page(request, db, _lead_or_404(db, lead_id), user, error.text(translator(request)),
                          status.HTTP_409_CONFLICT)
    return _back(lead, "status")


@router.post("/leads/{lead_id}/assignee", response_class=HTMLResponse)
def change_assignee(request: Request, lead_id: str = LeadId, assignee_id: str = Form("", max_length=20),
                    user: StaffUser = Depends(reviewer), db: Session = Depends(get_session)) -> Response:
    lead = _lead_or_404(db, lead_id)
    try:
        service.assign(db, lead, int(assignee_id) if assignee_id.strip() else None, user)
    except (ValueError, service.StaffError) as error:
        t = translator(request)
        message = error.text(t) if isinstance(error, service.StaffError) else t("error.assignee_choose")
        return _lead_page(request, db, lead, user, message, status.HTTP_400_BAD_REQUEST)
    return _back(lead, "assignee")


@router.post("/leads/{lead_id}/notes", response_class=HTMLResponse)
def add_note(request: Request, lead_id: str = LeadId, text: str = Form("", max_length=8000),
             user: StaffUser = Depends(reviewer), db: Session = Depends(get_session)) -> Response:
    lead = _lead_or_404(db, lead_id)
    try:
        service.add_note(db, lead, user, text)
    except service.StaffError as error:
        return _lead_page(request, db, lead, user, error.text(translator(request)), status.HTTP_400_BAD_REQUEST)
    return _back(lead, "note")


# --- audit log ------------------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, page: int = Query(1, ge=1, le=100_000), user: StaffUser = Depends(admin),
               db: Session = Depends(get_session)) -> HTMLResponse:
    entries, total = service.audit_entries(db, page)
    return render(request, "audit.html", {"entries": entries, "total": total, "page_no": page,
                                          "title": translator(request)("audit.title")}, user=user)
