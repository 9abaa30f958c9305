"""Trends week by week: leads by category and channel, the qualification rate and the time to first contact, as
inline SVG within the console's Content-Security-Policy, and as CSV in the reader's language."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.leads.models import Lead
from bot.staff import charts, service, trends
from tests.bot.staff.conftest import REVIEW_PROFILE, login, profile

MONDAY = date(2025, 3, 3)


def _lead(db: sessionmaker[Session], make_lead, n: int, day: date, hours_to_contact: float = -1, **changes) -> str:
    lead = make_lead(conversation_id=f"trend-{n}", **changes)
    created = datetime.combine(day, time(9), service.local_zone())
    values = {"created_at": created}
    if hours_to_contact >= 0:
        values.update(status="contacted", contacted_at=created + timedelta(hours=hours_to_contact))
    with db() as session:
        session.execute(update(Lead).where(Lead.id == lead.id).values(**values))
        session.commit()
    return lead.id


def _three_weeks(db, make_lead) -> None:
    _lead(db, make_lead, 1, MONDAY, 2)  # week 1: 2 strategic partners (web), one contacted after 2 h, one after 10 h
    _lead(db, make_lead, 2, MONDAY + timedelta(days=6), 10)
    _lead(db, make_lead, 3, MONDAY + timedelta(days=7), channel="telegram",  # week 2: one marked for review (telegram)
          profile=dict(REVIEW_PROFILE))
    star = profile(org_type="individual", credentials=[], field="culture", achievement="internationally_renowned")
    _lead(db, make_lead, 4, MONDAY + timedelta(days=9), 30, profile=star)
    # week 3: nothing; the week after: outside the period
    _lead(db, make_lead, 5, MONDAY + timedelta(days=21))


def test_weeks_count_leads_by_category_and_channel_with_rate_and_time_to_contact(db, make_lead) -> None:
    _three_weeks(db, make_lead)
    with db() as session:
        view = trends.weekly(session, MONDAY + timedelta(days=2), MONDAY + timedelta(days=15))
    assert (view.start, view.end) == (MONDAY, MONDAY + timedelta(days=20))  # whole weeks, Monday to Sunday
    first, second, third = view.weeks
    assert (first.leads, first.by_category, first.by_channel, first.qualified) == (
        2, {"strategic_partner": 2}, {"web": 2}, 2)
    assert (first.rate, first.contacted, first.median_hours) == (100.0, 2, 6.0)
    assert second.by_category == {"super_partner": 1, "city_ambassador": 1} and second.by_channel == {"telegram": 1, "web": 1}
    assert (second.rate, second.median_hours) == (50.0, 30.0)
    assert (third.leads, third.rate, third.median_hours) == (0, None, None)
    assert view.categories[:4] == ["strategic_partner", "super_partner", "city_dreamer", "city_ambassador"]
    assert view.channels[:2] == ["web", "telegram"]
    with db() as session:  # a week's count is what the lead list shows for its dates
        for week in view.weeks:
            assert service.list_leads(session, service.LeadFilter(kind="lead", date_from=week.start,
                                                                  date_to=week.end)).total == week.leads


def test_the_trends_page_draws_svg_charts_the_csp_allows(client: TestClient, db, make_user, make_lead) -> None:
    _three_weeks(db, make_lead)
    login(client, make_user("viewer").email)
    page = client.get("/staff/trends", params={"start": MONDAY.isoformat(), "end": (MONDAY + timedelta(days=20)).isoformat()})
    assert page.status_code == 200 and page.text.count("<svg") == 4
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    # Nothing inline that the policy would block: no script, no style attribute or element, no event handler.
    assert "<script>" not in page.text and " style=" not in page.text and "<style" not in page.text
    assert not re.search(r"\son[a-z]+=", page.text)
    assert "Strategic partner" in page.text and "Telegram" in page.text and "50%" in page.text
    assert 'data-week="2025-03-10"' in page.text
    assert client.get("/staff/trends", params={"start": "2025-03-10", "end": "2025-03-01"}).status_code == 400


def test_the_trends_csv_in_both_languages(client: TestClient, db, make_user, make_lead) -> None:
    _three_weeks(db, make_lead)
    login(client, make_user("viewer").email)
    params = {"start": MONDAY.isoformat(), "end": (MONDAY + timedelta(days=20)).isoformat()}
    english = client.get("/staff/trends.csv", params=params)
    assert english.headers["content-type"].startswith("text/csv") and english.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert [r["Week from"] for r in rows] == ["2025-03-03", "2025-03-10", "2025-03-17"]
    assert (rows[0]["Leads"], rows[0]["Strategic partner"], rows[0]["web chat"], rows[0]["Qualification rate (%)"],
            rows[0]["Median hours to first contact"]) == ("2", "2", "2", "100.0", "6.0")
    assert rows[2]["Qualification rate (%)"] == ""  # no leads: no rate
    chinese = client.get("/staff/trends.csv", params=params, headers={"Accept-Language": "zh-CN"})
    header = chinese.content.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:3] == ["周起始日", "周截止日", "线索数"] and "战略合作伙伴" in header and "首次联系中位时长（小时）" in header


def test_the_api_gives_the_weeks_as_json(client: TestClient, db, make_user, make_lead) -> None:
    _three_weeks(db, make_lead)
    with db() as session:
        _, token = service.create_token(session, make_user("viewer"), "bi")
    data = client.get("/api/staff/trends", params={"start": "2025-03-03", "end": "2025-03-16"},
                      headers={"Authorization": f"Bearer {token}"}).json()
    assert [w["leads"] for w in data["weeks"]] == [2, 2] and data["weeks"][1]["qualification_rate"] == 50.0
    assert data["weeks"][0]["median_hours_to_first_contact"] == 6.0


def test_charts_escape_their_words_and_leave_gaps_for_missing_values() -> None:
    svg = charts.line_chart("<rate>", {"a<b": [50.0, None, 25.0, 30.0]}, ["w1", "w2", "w3", "w4"], unit="%", top=100)
    assert "<rate>" not in svg and "&lt;rate&gt;" in svg and "a&lt;b" in svg
    assert svg.count("<circle") == 3 and svg.count("<polyline") == 1  # the gap breaks the line
    stacked = charts.stacked_chart("weeks", {"x": [1, 2], "y": [3, 0]}, ["w1", "w2"])
    assert stacked.count("<rect") == 3 + 2  # three segments, two legend boxes
