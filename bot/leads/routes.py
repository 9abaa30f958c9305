"""Intake API: channels post leads and hand-offs here (the create key); reading and erasing need the other key
(bot.leads.access)."""

from __future__ import annotations

from typing import Optional

import redis
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session, sessionmaker

from bot.db import get_session, get_sessions
from bot.leads import access, guard, service, writer
from bot.leads.answer import answer
from bot.leads.schemas import Deleted, IntakeErrorOut, IntakeRequest, LeadOut, MessageOut, OutboxJobOut, OutboxOut
from bot.metrics.intake import CountedIntakeRoute
from bot.shared import logs
from bot.shared.intake import MAX_IDEMPOTENCY_KEY_CHARS
from bot.shared.outbox import Outbox
from bot.shared.redis_conn import redis_from_env

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                               description="INTAKE_API_KEY to create leads; INTAKE_ADMIN_KEY to read or erase them")


async def require_key(request: Request, api_key: Optional[str] = Security(_api_key_header)) -> None:
    """The key this route's scope needs (bot.leads.access). bot.leads.guard has already checked it before the
    body was read (and says so in the scope); this checks it for an app built without the guard, and documents
    it in OpenAPI."""
    if request.scope.get(guard.KEY_CHECKED):
        return
    problem = access.refusal(request.method, request.url.path, api_key.encode("utf-8") if api_key else None)
    if problem is not None:
        raise HTTPException(problem[0], problem[1])


router = APIRouter(
    prefix=access.PREFIX,
    tags=["leads"],
    dependencies=[Depends(require_key)],
    route_class=CountedIntakeRoute,  # gzcp_leads_intake_total (bot/metrics/intake.py)
    responses={
        401: {"model": MessageOut, "description": "missing or wrong X-API-Key"},
        403: {"model": MessageOut, "description": "a key of the other scope (create vs read/erase)"},
        413: {"model": MessageOut, "description": "the body is larger than INTAKE_MAX_BODY_BYTES"},
        503: {"model": MessageOut, "description": "the server has no key for this scope"},
    },
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LeadOut,
    responses={
        200: {"description": "replay of an earlier request with the same Idempotency-Key (header Idempotent-Replayed: true)"},
        400: {"model": MessageOut, "description": "the body is not readable JSON text (e.g. not UTF-8, or nested too deeply)"},
        422: {
            "model": IntakeErrorOut,
            "description": "invalid body, no consent, a profile the assessment cannot read, or a reused Idempotency-Key",
        },
    },
)
async def create_lead(
    body: IntakeRequest,
    idempotency_key: Optional[str] = Header(None, alias="Idempotency-Key", min_length=1,
                                           max_length=MAX_IDEMPOTENCY_KEY_CHARS),
    sessions: sessionmaker[Session] = Depends(get_sessions),
) -> Response:
    """Store a lead (with the service's own eligibility assessment) or a hand-off to staff."""
    # The usual new lead never gets here: bot.leads.fast_path answers it in the guard, the same way (tested).
    try:
        # Async with a group commit (bot.leads.writer): the assessment runs here, the insert on a worker thread
        # together with the leads that arrived meanwhile.
        stored = await writer.for_sessions(sessions).store(service.prepare(body, idempotency_key))
    except service.InvalidProfile as error:
        # Same shape as FastAPI's own validation errors, so a client reads every 422 the same way.
        detail = [{"type": "value_error", "loc": ["body", "profile"], "msg": str(error), "input": body.profile}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
    except service.IdempotencyConflict as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    status_code, headers, content = answer(stored)
    return Response(content, media_type="application/json", headers=headers, status_code=status_code)


@router.get("/outbox", response_model=OutboxOut, responses={503: {"description": "Redis unreachable"}})
def outbox_status() -> OutboxOut:
    """Leads still on their way from the assistant, and those the intake refused (kept for staff, never dropped)."""
    try:
        outbox = Outbox(redis_from_env())
        stats, dead = outbox.stats(), outbox.dead()
    except redis.RedisError:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the outbox (Redis) is unreachable") from None
    refused = [OutboxJobOut(id=j.id, kind=j.kind, conversation_id=j.conversation_id, attempts=j.attempts,
                            created_at=j.created_at, last_error=logs.mask(j.last_error)) for j in dead]
    return OutboxOut(**stats, refused=refused)


@router.get("/{lead_id}", response_model=LeadOut, responses={404: {"model": MessageOut, "description": "no such lead"}})
def read_lead(lead_id: str = Path(..., max_length=64), session: Session = Depends(get_session)) -> LeadOut:
    lead = service.get(session, lead_id)
    if lead is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no lead with this id")
    return LeadOut.from_row(lead)


@router.delete("", response_model=Deleted)
def delete_conversation(
    conversation_id: str = Query(..., min_length=1, max_length=128), session: Session = Depends(get_session)
) -> Deleted:
    """Delete every lead and hand-off of a conversation (erasure on the user's request)."""
    return Deleted(deleted=service.delete_conversation(session, conversation_id))
