"""The knowledge pages: what changed (with revert), the facts, and fixing an unanswered question with a fact or
an NLU example (editors; everyone else reads)."""

from __future__ import annotations

import difflib
import logging
from typing import Any, Dict, List, Optional

import redis
from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from bot.db import get_session
from bot.shared.funnel import Funnel
from bot.staff import knowledge
from bot.staff.auth import StaffPageError, get_redis, web_user
from bot.staff.i18n import StaffError
from bot.staff.models import KnowledgeChange, StaffUser
from bot.staff.pages import render, translator

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/staff/knowledge", include_in_schema=False)
viewer = web_user("viewer")
editor = web_user("editor")
Ref = Query(None, max_length=32)


def _question(client: redis.Redis, ref: Optional[str]) -> Optional[Dict[str, Any]]:
    """The unanswered question a fix starts from (None without a ref); 404 when it is no longer listed."""
    if not ref:
        return None
    try:
        found = Funnel(client).find_unanswered(ref)
    except redis.RedisError:
        raise StaffPageError(status.HTTP_503_SERVICE_UNAVAILABLE, "knowledge.error.redis") from None
    if found is None:
        raise StaffPageError(status.HTTP_404_NOT_FOUND, "knowledge.error.question_gone")
    return found


def _answered(client: redis.Redis, ref: Optional[str]) -> None:
    """The question has its answer now: off the list (best effort; the change is saved either way)."""
    if ref:
        try:
            Funnel(client).drop_unanswered(ref)
        except redis.RedisError as error:
            logger.warning("unanswered question not removed (%s)", type(error).__name__)


def _facts_by_section() -> List[Dict[str, Any]]:
    current = knowledge.current_knowledge()
    return [{"key": key, "title": current.section_titles[key], "facts": facts} for key, facts in current.facts.items()]


@router.get("", response_class=HTMLResponse)
def overview(request: Request, user: StaffUser = Depends(viewer), db: Session = Depends(get_session)) -> HTMLResponse:
    t = translator(request)
    state = knowledge.training_state(db)
    context = {"changes": knowledge.changes(db), "state": state, "queued": lambda c: knowledge.is_queued(c, state),
               "sections": _facts_by_section(), "can_edit": user.can("editor"), "title": t("knowledge.title")}
    return render(request, "knowledge.html", context, user=user)


@router.get("/fix", response_class=HTMLResponse)
def fix_page(request: Request, question: Optional[str] = Ref, user: StaffUser = Depends(editor),
             client: redis.Redis = Depends(get_redis)) -> HTMLResponse:
    t = translator(request)
    found = _question(client, question)
    if found is None:
        raise StaffPageError(status.HTTP_400_BAD_REQUEST, "knowledge.error.question_missing")
    current = knowledge.current_knowledge()
    context = {"question": found, "sections": _facts_by_section(), "topics": current.topics, "title": t("knowledge.fix_title")}
    return render(request, "knowledge_fix.html", context, user=user)


def _fact_page(request: Request, user: StaffUser, values: Dict[str, Any], question: Optional[Dict[str, Any]],
               existing: bool, error: Optional[str] = None, status_code: int = 200) -> HTMLResponse:
    t = translator(request)
    current = knowledge.current_knowledge()
    context = {"values": values, "question": question, "existing": existing, "error": error,
               "sections": _facts_by_section(), "sources": current.sources,
               "title": t("knowledge.edit_fact_title" if existing else "knowledge.new_fact_title")}
    return render(request, "knowledge_fact.html", context, status_code, user=user)


@router.get("/fact", response_class=HTMLResponse)
def fact_form(request: Request, fact: Optional[str] = Query(None, max_length=64), question: Optional[str] = Ref,
              section: Optional[str] = Query(None, max_length=64), user: StaffUser = Depends(editor),
              client: redis.Redis = Depends(get_redis)) -> HTMLResponse:
    found = _question(client, question)
    if fact:
        values = knowledge.fact_for_form(fact)
        if values is None:
            raise StaffPageError(status.HTTP_404_NOT_FOUND, StaffError("knowledge.error.no_fact", fact=fact))
        return _fact_page(request, user, values, found, existing=True)
    return _fact_page(request, user, {"section": section or "", "sources": []}, found, existing=False)


@router.post("/fact", response_class=HTMLResponse)
def save_fact(request: Request, mode: str = Form("new", max_length=8), fact_id: str = Form("", max_length=64),
              section: str = Form("", max_length=64), en: str = Form("", max_length=4000), zh: str = Form("", max_length=4000),
              sources: List[str] = Form([]), new_source_title: str = Form("", max_length=400),
              new_source_date: str = Form("", max_length=20), question: str = Form("", max_length=32),
              add_question: str = Form("", max_length=8), user: StaffUser = Depends(editor),
              db: Session = Depends(get_session), client: redis.Redis = Depends(get_redis)) -> Response:
    existing = mode == "edit"
    found = _question(client, question or None)
    form = knowledge.FactForm(fact_id=fact_id, en=en, zh=zh, sources=[s[:64] for s in sources[:20]], section=section,
                              new_source_title=new_source_title, new_source_date=new_source_date,
                              question=found if found is not None and add_question else None)
    try:
        change = knowledge.save_fact(db, user, form, existing)
    except StaffError as error:
        values = {"id": fact_id, "section": section, "en": en, "zh": zh, "sources": sources,
                  "new_source_title": new_source_title, "new_source_date": new_source_date}
        return _fact_page(request, user, values, found, existing, error.text(translator(request)),
                          status.HTTP_400_BAD_REQUEST)
    _answered(client, question if found is not None else None)
    return RedirectResponse(f"/staff/knowledge/changes/{change.id}?done=1", status.HTTP_303_SEE_OTHER)


@router.post("/example", response_class=HTMLResponse)
def add_example(request: Request, topic: str = Form("", max_length=64), language: str = Form("", max_length=2),
                text: str = Form("", max_length=2000), question: str = Form("", max_length=32),
                user: StaffUser = Depends(editor), db: Session = Depends(get_session),
                client: redis.Redis = Depends(get_redis)) -> Response:
    found = _question(client, question or None)
    try:
        change = knowledge.add_example(db, user, topic, language, text)
    except StaffError as error:
        t = translator(request)
        if found is None:
            raise StaffPageError(status.HTTP_400_BAD_REQUEST, error) from None
        current = knowledge.current_knowledge()
        context = {"question": found, "sections": _facts_by_section(), "topics": current.topics, "error": error.text(t),
                   "example_values": {"topic": topic, "text": text}, "title": t("knowledge.fix_title")}
        return render(request, "knowledge_fix.html", context, status.HTTP_400_BAD_REQUEST, user=user)
    _answered(client, question if found is not None else None)
    return RedirectResponse(f"/staff/knowledge/changes/{change.id}?done=1", status.HTTP_303_SEE_OTHER)


def _change(db: Session, change_id: int) -> KnowledgeChange:
    change = knowledge.get_change(db, change_id)
    if change is None:
        raise StaffPageError(status.HTTP_404_NOT_FOUND, "knowledge.error.no_change")
    return change


def _diff(entry: Dict[str, Any]) -> str:
    before, after = (entry.get("before") or "").splitlines(), (entry.get("after") or "").splitlines()
    path = f"{entry.get('root')}/{entry.get('path')}"
    return "\n".join(difflib.unified_diff(before, after, f"{path} (before)", f"{path} (after)", n=2, lineterm=""))


def _change_page(request: Request, db: Session, change: KnowledgeChange, user: StaffUser, error: Optional[str] = None,
                 status_code: int = 200) -> HTMLResponse:
    t = translator(request)
    state = knowledge.training_state(db)
    context = {"change": change, "diffs": [_diff(f) for f in change.files or []], "error": error,
               "queued": knowledge.is_queued(change, state), "training": knowledge.touches_training(change),
               "can_edit": user.can("editor"), "done": request.query_params.get("done"),
               "title": t("knowledge.change_title", id=change.id)}
    return render(request, "knowledge_change.html", context, status_code, user=user)


@router.get("/changes/{change_id}", response_class=HTMLResponse)
def change_page(request: Request, change_id: int = Path(..., ge=1, le=2**31 - 1), user: StaffUser = Depends(viewer),
                db: Session = Depends(get_session)) -> HTMLResponse:
    return _change_page(request, db, _change(db, change_id), user)


@router.post("/changes/{change_id}/revert", response_class=HTMLResponse)
def revert(request: Request, change_id: int = Path(..., ge=1, le=2**31 - 1), user: StaffUser = Depends(editor),
           db: Session = Depends(get_session)) -> Response:
    change = _change(db, change_id)
    try:
        new = knowledge.revert(db, user, change)
    except StaffError as error:
        db.rollback()
        return _change_page(request, db, _change(db, change_id), user, error.text(translator(request)),
                            status.HTTP_409_CONFLICT)
    return RedirectResponse(f"/staff/knowledge/changes/{new.id}?done=1", status.HTTP_303_SEE_OTHER)
