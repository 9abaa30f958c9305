"""The funnel's conversation stages in the database: Redis's day sets copied into `funnel_entries`.

The action server counts conversations in Redis (bot.shared.funnel: one set per stage and day, holding a hash of
each conversation id). A Redis without persistence loses them on restart, so the web app copies every member into
the database — the dashboard on each view (the last two days), and `python -m bot.staff funnel-sync` (a loop
started by `make run`, and a one-off backfill with --days). A member already copied is never copied twice, so a
conversation counted before and after a Redis restart on the same day still counts once, and the counts only ever
grow. The dashboard reads them from here, never from Redis.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Dict, Iterable, List, Set, Tuple

import redis
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.shared.funnel import STAGES, Funnel, today
from bot.staff.models import FunnelEntry

logger = logging.getLogger(__name__)

Key = Tuple[str, date, str]


def days_between(start: date, end: date) -> List[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _existing(session: Session, days: Iterable[date]) -> Set[Key]:
    wanted = list(days)
    rows = session.execute(select(FunnelEntry.stage, FunnelEntry.day, FunnelEntry.member)
                           .where(FunnelEntry.day >= min(wanted), FunnelEntry.day <= max(wanted)))
    return {(stage, day, member) for stage, day, member in rows}


def sync(session: Session, client: redis.Redis, start: date, end: date) -> int:
    """Copy the members Redis holds for [start, end] that the database lacks; returns how many were new.

    Raises redis.RedisError when Redis cannot be read (the caller decides what to show)."""
    days = days_between(start, end)
    found = Funnel(client).day_members(STAGES, days)
    if not found:
        return 0
    for attempt in (1, 2):  # a concurrent sync may insert the same rows first: then read again and retry once
        have = _existing(session, days)
        rows = [FunnelEntry(stage=stage, day=day, member=member, language=language, category=category)
                for (stage, day), members in found.items() for member, (language, category) in members.items()
                if (stage, day, member) not in have]
        if not rows:
            return 0
        session.add_all(rows)
        try:
            session.commit()
            return len(rows)
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
    return 0


def sync_recent(session: Session, client: redis.Redis, days: int = 2) -> int:
    end = today()
    return sync(session, client, end - timedelta(days=max(1, days) - 1), end)


def counts(session: Session, start: date, end: date) -> Dict[str, Dict[str, object]]:
    """Per stage over [start, end]: total, by_language and by_category (distinct conversations per day, summed)."""
    where = and_(FunnelEntry.day >= start, FunnelEntry.day <= end)
    out: Dict[str, Dict[str, object]] = {stage: {"total": 0, "by_language": {}, "by_category": {}} for stage in STAGES}
    for column, split in ((FunnelEntry.language, "by_language"), (FunnelEntry.category, "by_category")):
        rows = session.execute(select(FunnelEntry.stage, column, func.count()).where(where).group_by(FunnelEntry.stage, column))
        for stage, value, n in rows:
            if stage not in out:
                continue
            if split == "by_language":
                out[stage]["total"] = int(out[stage]["total"]) + int(n)  # type: ignore[call-overload]
            if value:
                out[stage][split][value] = int(n)  # type: ignore[index]
    return out
