"""Console pages with numbers: the dashboard (funnel, unanswered questions) and the trends (with their CSV)."""

from __future__ import annotations

from datetime import date
from typing import Optional

import redis
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from bot.db import get_session
from bot.staff import dashboard, service, trends
from bot.staff.auth import StaffPageError, get_redis, web_user
from bot.staff.charts import bar_chart
from bot.staff.models import StaffUser
from bot.staff.pages import render, translator

router = APIRouter(prefix="/staff", include_in_schema=False)
viewer = web_user("viewer")


def _period(start: Optional[str], end: Optional[str], **limits: int) -> tuple[date, date]:
    try:
        return dashboard.date_range(start, end, **limits)
    except service.StaffError as error:
        raise StaffPageError(status.HTTP_400_BAD_REQUEST, error) from None


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, start: Optional[str] = Query(None, max_length=10),
                   end: Optional[str] = Query(None, max_length=10), user: StaffUser = Depends(viewer),
                   db: Session = Depends(get_session), client: redis.Redis = Depends(get_redis)) -> HTMLResponse:
    start_date, end_date = _period(start, end)
    view = dashboard.funnel_view(db, client, start_date, end_date)
    t = translator(request)
    labels = [t(f"stage.{s}") for s in dashboard.FUNNEL_STAGES]
    names = {"language": t.lang_name, "category": t.category}
    totals = [view.totals[s] for s in dashboard.FUNNEL_STAGES]
    charts = {"total": bar_chart(t("dashboard.chart_total"), {t("dashboard.all"): totals}, labels)}
    for split in dashboard.SPLITS:
        charts[split] = bar_chart(t(f"dashboard.chart_{split}"),
                                  {names[split](v): counts for v, counts in view.splits[split].items()}, labels)
    context = {"view": view, "charts": charts, "stages": dashboard.FUNNEL_STAGES, "lead_stages": dashboard.LEAD_STAGES,
               "names": names, "split_link": lambda stage, split, value: dashboard.split_link(view, stage, split, value),
               "can_fix": user.can("editor"), "title": t("nav.dashboard")}
    return render(request, "dashboard.html", context, user=user)


def _trends(start: Optional[str], end: Optional[str], db: Session) -> trends.TrendView:
    start_date, end_date = _period(start, end, default_days=7 * trends.DEFAULT_WEEKS, longest=3 * 366)
    return trends.weekly(db, start_date, end_date)


@router.get("/trends", response_class=HTMLResponse)
def trends_page(request: Request, start: Optional[str] = Query(None, max_length=10),
                end: Optional[str] = Query(None, max_length=10), user: StaffUser = Depends(viewer),
                db: Session = Depends(get_session)) -> HTMLResponse:
    view = _trends(start, end, db)
    t = translator(request)
    context = {"view": view, "charts": trends.charts(view, t), "week_label": trends.week_label,
               "start": start or view.start.isoformat(), "end": end or view.end.isoformat(), "title": t("nav.trends")}
    return render(request, "trends.html", context, user=user)


@router.get("/trends.csv")
def trends_csv(request: Request, start: Optional[str] = Query(None, max_length=10),
               end: Optional[str] = Query(None, max_length=10), user: StaffUser = Depends(viewer),
               db: Session = Depends(get_session)) -> Response:
    """Counts only (no personal data), so a viewer may download them."""
    view = _trends(start, end, db)
    header, rows = trends.csv_rows(view, translator(request))
    name = f"trends-{view.start.isoformat()}-{view.end.isoformat()}.csv"
    return Response(service.csv_text(header, rows).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
