"""The list filters as query parameters, shared by the console pages, the export and the JSON API.

Read by hand rather than as typed FastAPI parameters: an HTML form sends empty strings for "any", and a
bad value should say what is wrong on the page, not as a bare 422."""

from __future__ import annotations

from datetime import date
from typing import Mapping, Optional
from urllib.parse import urlencode

from bot.staff.i18n import Term
from bot.staff.service import LeadFilter, StaffError

EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)
FIELDS = ("status", "category", "qualified", "language", "channel", "date_from", "date_to", "q", "sort")


def _text(params: Mapping[str, str], name: str, limit: int = 200) -> Optional[str]:
    value = (params.get(name) or "").strip()
    if len(value) > limit:
        raise StaffError("error.param_long", name=Term("param", name))
    if "\x00" in value:  # PostgreSQL refuses NUL even in a query's parameters
        raise StaffError("error.param_nul", name=Term("param", name))
    return value or None


def _date(params: Mapping[str, str], name: str) -> Optional[date]:
    value = _text(params, name, 10)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise StaffError("error.param_date", name=Term("param", name)) from None
    if not EARLIEST <= day <= LATEST:  # 0001-01-01 in Shanghai is before the first UTC instant Python can hold
        raise StaffError("error.param_date_range", name=Term("param", name), earliest=EARLIEST, latest=LATEST)
    return day


def parse_filter(params: Mapping[str, str], kind: Optional[str] = None) -> LeadFilter:
    qualified = _text(params, "qualified")
    if qualified not in (None, "yes", "no", "review"):
        raise StaffError("error.param_qualified")
    try:
        page = int(params.get("page") or 1)
    except ValueError:
        raise StaffError("error.param_page") from None
    return LeadFilter(
        kind=kind or _text(params, "kind") or "lead",
        status=_text(params, "status"),
        category=_text(params, "category"),
        qualified=None if qualified in (None, "review") else qualified == "yes",
        review=True if qualified == "review" else None,
        language=_text(params, "language"),
        channel=_text(params, "channel"),
        date_from=_date(params, "date_from"),
        date_to=_date(params, "date_to"),
        q=_text(params, "q"),
        sort=_text(params, "sort") or "newest",
        page=max(1, page),
    )


def query_string(f: LeadFilter, **changes: object) -> str:
    """The filter as a query string (for pagination and the export link), with some values changed."""
    values = {
        "status": f.status, "category": f.category, "language": f.language, "channel": f.channel,
        "qualified": "review" if f.review else None if f.qualified is None else ("yes" if f.qualified else "no"),
        "date_from": f.date_from.isoformat() if f.date_from else None,
        "date_to": f.date_to.isoformat() if f.date_to else None,
        "q": f.q, "sort": f.sort if f.sort != "newest" else None, "page": f.page if f.page > 1 else None,
    }
    values.update(changes)
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})
