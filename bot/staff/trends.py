"""Trends week by week: leads by category and by channel, the qualification rate, and the time to first contact.

Weeks run Monday to Sunday in the staff time zone. A lead belongs to the week it arrived; it counts as qualified
when it is qualified now (an assessment, or a review decision), and its time to first contact is from arrival to
the first move to "contacted" (`contacted_at`, migration 0005). The leads are selected with the lead list's own
conditions, so a week's count is what the list shows for those dates.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Dict, List, Optional, Sequence

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from bot.leads.models import Lead
from bot.shared.channels import NAMES as CHANNEL_NAMES
from bot.shared.program import CATEGORY_KEYS
from bot.staff import service
from bot.staff.charts import line_chart, stacked_chart
from bot.staff.i18n import Translator
from bot.staff.params import query_string

DEFAULT_WEEKS = 12
NO_CATEGORY = ""


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class Week:
    start: date
    leads: int = 0
    by_category: Dict[str, int] = field(default_factory=dict)
    by_channel: Dict[str, int] = field(default_factory=dict)
    qualified: int = 0
    hours_to_contact: List[float] = field(default_factory=list)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def rate(self) -> Optional[float]:
        """Qualified leads in percent of the week's leads (None without leads)."""
        return round(100 * self.qualified / self.leads, 1) if self.leads else None

    @property
    def contacted(self) -> int:
        return len(self.hours_to_contact)

    @property
    def median_hours(self) -> Optional[float]:
        return round(statistics.median(self.hours_to_contact), 1) if self.hours_to_contact else None

    def list_link(self) -> str:
        return query_string(service.LeadFilter(kind="lead", date_from=self.start, date_to=self.end))


@dataclass
class TrendView:
    start: date  # a Monday
    end: date  # a Sunday
    weeks: List[Week]
    categories: List[str]  # keys, NO_CATEGORY for "none fits"
    channels: List[str]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "start": self.start, "end": self.end, "categories": self.categories, "channels": self.channels,
            "weeks": [{"start": w.start, "end": w.end, "leads": w.leads, "by_category": w.by_category,
                       "by_channel": w.by_channel, "qualified": w.qualified, "qualification_rate": w.rate,
                       "contacted": w.contacted, "median_hours_to_first_contact": w.median_hours} for w in self.weeks],
        }


def weekly(session: Session, start: date, end: date) -> TrendView:
    """The weeks that hold [start, end], whole weeks from the Monday before `start` to the Sunday after `end`."""
    first, last = week_start(start), week_start(end) + timedelta(days=6)
    weeks = {first + timedelta(weeks=n): Week(first + timedelta(weeks=n)) for n in range((last - first).days // 7 + 1)}
    where = and_(*service.list_conditions(service.LeadFilter(kind="lead", date_from=first, date_to=last)))
    zone = service.local_zone()
    rows = session.execute(select(Lead.created_at, Lead.category, Lead.channel, Lead.qualified, Lead.contacted_at).where(where))
    for created_at, category, channel, qualified, contacted_at in rows:
        week = weeks[week_start(created_at.astimezone(zone).date())]
        week.leads += 1
        week.by_category[category or NO_CATEGORY] = week.by_category.get(category or NO_CATEGORY, 0) + 1
        week.by_channel[channel] = week.by_channel.get(channel, 0) + 1
        week.qualified += 1 if qualified else 0
        if contacted_at is not None:
            week.hours_to_contact.append(max(0.0, (contacted_at - created_at).total_seconds() / 3600))
    seen_categories = {c for w in weeks.values() for c in w.by_category}
    categories = [c for c in CATEGORY_KEYS] + sorted(seen_categories - set(CATEGORY_KEYS) - {NO_CATEGORY})
    if NO_CATEGORY in seen_categories:
        categories.append(NO_CATEGORY)
    seen_channels = {c for w in weeks.values() for c in w.by_channel}
    channels = list(CHANNEL_NAMES) + sorted(seen_channels - set(CHANNEL_NAMES))
    return TrendView(start=first, end=last, weeks=list(weeks.values()), categories=categories, channels=channels)


def week_label(week: Week) -> str:
    return week.start.strftime("%m-%d")


def charts(view: TrendView, t: Translator) -> Dict[str, str]:
    labels = [week_label(w) for w in view.weeks]
    return {
        "category": stacked_chart(t("trends.chart_category"),
                                  {t.category(c): [w.by_category.get(c, 0) for w in view.weeks] for c in view.categories},
                                  labels),
        "channel": stacked_chart(t("trends.chart_channel"),
                                 {t.channel(c): [w.by_channel.get(c, 0) for w in view.weeks] for c in view.channels}, labels),
        "rate": line_chart(t("trends.chart_rate"), {t("trends.rate"): [w.rate for w in view.weeks]}, labels, unit="%",
                           top=100),
        "contact": line_chart(t("trends.chart_contact"), {t("trends.median_hours"): [w.median_hours for w in view.weeks]},
                              labels, unit=t("trends.hours_unit")),
    }


def csv_rows(view: TrendView, t: Translator) -> tuple[List[str], List[Sequence[Any]]]:
    """The trends as a table: headers in the reader's language, one row per week."""
    header = ([t("trends.csv_week_start"), t("trends.csv_week_end"), t("trends.leads")]
              + [t.category(c) for c in view.categories] + [t.channel(c) for c in view.channels]
              + [t("trends.qualified"), t("trends.rate_percent"), t("trends.contacted"), t("trends.median_hours")])
    rows: List[Sequence[Any]] = []
    for w in view.weeks:
        rows.append([w.start.isoformat(), w.end.isoformat(), w.leads]
                    + [w.by_category.get(c, 0) for c in view.categories] + [w.by_channel.get(c, 0) for c in view.channels]
                    + [w.qualified, "" if w.rate is None else w.rate, w.contacted,
                       "" if w.median_hours is None else w.median_hours])
    return header, rows
