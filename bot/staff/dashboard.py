"""The dashboard: the funnel (Redis stages from bot.shared.funnel, "accepted" from the database), split by
language and by category, drawn as inline SVG on the server (no JavaScript, no build step)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from typing import Any, Dict, List, Optional, Sequence

import redis
from sqlalchemy.orm import Session

from bot.shared.funnel import STAGES, Funnel
from bot.staff import service
from bot.staff.params import EARLIEST, LATEST

logger = logging.getLogger(__name__)

FUNNEL_STAGES = STAGES + ("accepted",)
STAGE_LABELS = {
    "conversation": "Conversations", "screening_started": "Screenings started",
    "screening_completed": "Screenings completed", "qualified": "Qualified", "accepted": "Accepted",
}
COLORS = ("#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#5c940d", "#0b7285", "#e67700")


def date_range(start: Optional[str], end: Optional[str]) -> tuple[date, date]:
    """The period asked for (local dates, inclusive); by default the last 30 days."""
    today = datetime.now(service.local_zone()).date()
    try:
        end_date = date.fromisoformat(end) if end else today
        start_date = date.fromisoformat(start) if start else end_date - timedelta(days=29)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01 less 29 days
        raise service.StaffError("dates look like 2025-01-31") from None
    if start_date < EARLIEST or end_date > LATEST:  # beyond these, local midnight has no UTC instant in Python
        raise service.StaffError(f"choose dates between {EARLIEST} and {LATEST}")
    if start_date > end_date or (end_date - start_date).days > 366:
        raise service.StaffError("choose a start before the end, at most a year apart")
    return start_date, end_date


@dataclass
class FunnelView:
    start: date
    end: date
    totals: Dict[str, int]
    splits: Dict[str, Dict[str, List[int]]]  # split ("language"/"category") -> value -> count per stage
    unanswered: List[Dict[str, Any]]
    redis_error: Optional[str] = None


def funnel_view(session: Session, client: redis.Redis, start: date, end: date, unanswered_limit: int = 50) -> FunnelView:
    accepted = service.accepted_counts(session, start, end)
    error = None
    try:
        funnel = Funnel(client)
        counts = funnel.counts(start, end)
        unanswered = funnel.unanswered(unanswered_limit)
    except redis.RedisError as exc:
        # The database part still shows; the page says what is missing.
        logger.warning("dashboard: funnel unavailable (%s)", type(exc).__name__)
        counts = {stage: {"total": 0, "by_language": {}, "by_category": {}} for stage in STAGES}
        unanswered, error = [], "Redis is unreachable: only the accepted counts (from the database) are shown."
    counts = dict(counts)
    counts["accepted"] = accepted
    totals = {stage: int(counts[stage]["total"]) for stage in FUNNEL_STAGES}  # type: ignore[call-overload]
    splits: Dict[str, Dict[str, List[int]]] = {}
    for split in ("language", "category"):
        values = sorted({v for stage in FUNNEL_STAGES for v in counts[stage][f"by_{split}"]})  # type: ignore[union-attr]
        splits[split] = {v: [int(counts[s][f"by_{split}"].get(v, 0)) for s in FUNNEL_STAGES] for v in values}  # type: ignore[union-attr]
    return FunnelView(start=start, end=end, totals=totals, splits=splits, unanswered=unanswered, redis_error=error)


def bar_chart(title: str, series: Dict[str, Sequence[int]], labels: Sequence[str] = tuple(STAGE_LABELS.values()),
              width: int = 760, height: int = 280) -> str:
    """A grouped bar chart as an SVG string: one group per stage, one bar per series (escaped, safe to inline)."""
    left, right, top, bottom = 48, 12, 28, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max([max(values, default=0) for values in series.values()] + [1])
    peak = -(-highest // 4) * 4  # a multiple of 4, so the five gridlines fall on whole numbers
    band = plot_w / max(1, len(labels))
    bar = max(4.0, (band - 16) / max(1, len(series)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 22 * ((len(series) + 3) // 4)}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>',
    ]
    for tick in range(5):  # gridlines with their values
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#555">{value:.0f}</text>')
    for i, label in enumerate(labels):
        x0 = left + band * i + 8
        for j, (name, values) in enumerate(series.items()):
            value = values[i] if i < len(values) else 0
            h = plot_h * value / peak
            x = x0 + bar * j
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                f'fill="{COLORS[j % len(COLORS)]}"><title>{escape(name)} · {escape(label)}: {value}</title></rect>'
            )
            if value:
                parts.append(f'<text x="{x + (bar - 2) / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" '
                             f'font-size="10" fill="#333">{value}</text>')
        parts.append(f'<text x="{left + band * i + band / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                     f'font-size="11" fill="#222">{escape(label)}</text>')
    for j, name in enumerate(series):  # legend, four per row
        lx, ly = left + (j % 4) * 180, height - 14 + 22 * (j // 4)
        parts.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{COLORS[j % len(COLORS)]}"/>')
        parts.append(f'<text x="{lx + 18}" y="{ly}" font-size="12" fill="#222">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
