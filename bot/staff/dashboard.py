"""The dashboard: the funnel from conversations to accepted partners, for a period, in numbers that agree.

Conversation stages (conversations, screenings started and completed) are the durable copy of Redis's day sets
(bot/staff/funnel_store.py); lead stages (leads, qualified, accepted) are counted from the leads table with the
very conditions the lead list uses for the same filters (bot.staff.service), so a stage and the list it links to
always show the same number. Split by language and by category; drawn as inline SVG (bot/staff/charts.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Optional

import redis
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from bot.leads.models import Lead
from bot.shared.funnel import Funnel
from bot.shared.program import CATEGORY_KEYS
from bot.staff import funnel_store, service
from bot.staff.i18n import StaffError
from bot.staff.params import EARLIEST, LATEST, query_string

logger = logging.getLogger(__name__)

CONVERSATION_STAGES = ("conversation", "screening_started", "screening_completed")
LEAD_STAGES = ("lead", "qualified", "accepted")
FUNNEL_STAGES = CONVERSATION_STAGES + LEAD_STAGES
SPLITS = ("language", "category")


def date_range(start: Optional[str], end: Optional[str], default_days: int = 30, longest: int = 366) -> tuple[date, date]:
    """The period asked for (local dates, inclusive); by default the last `default_days` days."""
    today = datetime.now(service.local_zone()).date()
    try:
        end_date = date.fromisoformat(end) if end else today
        start_date = date.fromisoformat(start) if start else end_date - timedelta(days=default_days - 1)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01 less 29 days
        raise StaffError("error.dates") from None
    if start_date < EARLIEST or end_date > LATEST:  # beyond these, local midnight has no UTC instant in Python
        raise StaffError("error.dates_range", earliest=EARLIEST, latest=LATEST)
    if start_date > end_date or (end_date - start_date).days > longest:
        raise StaffError("error.dates_order")
    return start_date, end_date


def stage_filter(stage: str, start: date, end: date, **extra: Any) -> service.LeadFilter:
    """The lead list's filter that shows exactly the leads a lead stage counts."""
    flags: Dict[str, Any] = {"qualified": {"qualified": True}, "accepted": {"status": "accepted"}}.get(stage, {})
    return service.LeadFilter(kind="lead", date_from=start, date_to=end, **flags, **extra)


def lead_stage_counts(session: Session, start: date, end: date) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}
    for stage in LEAD_STAGES:
        where = and_(*service.list_conditions(stage_filter(stage, start, end)))
        total = session.scalar(select(func.count()).select_from(Lead).where(where)) or 0
        splits = {}
        for split, column in (("language", Lead.language), ("category", Lead.category)):
            rows = session.execute(select(column, func.count()).where(where).group_by(column))
            splits[f"by_{split}"] = {value or "": int(n) for value, n in rows}
        out[stage] = {"total": int(total), **splits}
    return out


def _order(value: str) -> tuple[int, str]:
    """Categories in categories.yml's order, then any other value, "none fits" (empty) last."""
    if value in CATEGORY_KEYS:
        return (CATEGORY_KEYS.index(value), "")
    return (len(CATEGORY_KEYS) + (1 if not value else 0), value)


@dataclass
class FunnelView:
    start: date
    end: date
    totals: Dict[str, int]
    splits: Dict[str, Dict[str, List[Optional[int]]]]  # split -> value -> count per stage (None: not split this way)
    links: Dict[str, str]  # lead stage -> the lead list's query string for it
    unanswered: List[Dict[str, Any]] = field(default_factory=list)
    warning: Optional[str] = None  # an i18n key: Redis could not be read


def funnel_view(session: Session, client: redis.Redis, start: date, end: date, unanswered_limit: int = 50) -> FunnelView:
    warning = None
    try:
        # Bring the durable copy up to date for the days Redis is still counting (older days: funnel-sync).
        today = funnel_store.today()
        recent_start = max(start, today - timedelta(days=1))
        if recent_start <= min(end, today):
            funnel_store.sync(session, client, recent_start, min(end, today))
        unanswered = Funnel(client).unanswered(unanswered_limit)
    except redis.RedisError as error:
        # The database holds every count already copied; the page says the latest may be missing.
        logger.warning("dashboard: Redis unavailable (%s); showing the counts in the database", type(error).__name__)
        unanswered, warning = [], "dashboard.redis_down"
    counts: Dict[str, Dict[str, Any]] = dict(funnel_store.counts(session, start, end))
    counts.update(lead_stage_counts(session, start, end))
    totals = {stage: int(counts[stage]["total"]) for stage in FUNNEL_STAGES}
    splits: Dict[str, Dict[str, List[Optional[int]]]] = {}
    for split in SPLITS:
        values = sorted({v for stage in FUNNEL_STAGES for v in counts[stage][f"by_{split}"]}, key=_order)
        # Conversations and started screenings carry no category: shown as "—", not as 0.
        splits[split] = {v: [None if split == "category" and stage in CONVERSATION_STAGES[:2]
                             else int(counts[stage][f"by_{split}"].get(v, 0)) for stage in FUNNEL_STAGES] for v in values}
    links = {stage: query_string(stage_filter(stage, start, end)) for stage in LEAD_STAGES}
    return FunnelView(start=start, end=end, totals=totals, splits=splits, links=links, unanswered=unanswered,
                      warning=warning)


def split_link(view: FunnelView, stage: str, split: str, value: str) -> Optional[str]:
    """The lead list for one cell of a split table (lead stages only)."""
    if stage not in LEAD_STAGES or not value:
        return None
    return query_string(stage_filter(stage, view.start, view.end, **{split: value}))
