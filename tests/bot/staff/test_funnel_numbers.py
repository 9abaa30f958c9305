"""Numbers that agree: the dashboard's lead stages are the lead list for the same period, and its conversation
stages are kept in the database, so a Redis restart loses none of them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Dict
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.leads.models import Lead
from bot.shared.funnel import Funnel, today
from bot.staff import cli, dashboard, funnel_store, service
from bot.staff.models import FunnelEntry
from bot.staff.params import parse_filter
from tests.bot.staff.conftest import REVIEW_PROFILE, login, profile


def _at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), service.local_zone())


def _leads(db: sessionmaker[Session], make_lead, make_user, start: date) -> None:
    """Leads on either side of a one-week period, in both languages, of several categories and statuses."""
    user = make_user("reviewer", "walker@staff.example.org")
    plan = [  # (days after start, language, profile, status path)
        (-1, "en", profile(), ()),  # the day before: outside
        (0, "zh", profile(), ("in_review", "contacted", "accepted")),
        (0, "en", dict(REVIEW_PROFILE), ()),
        (3, "en", profile(org_type="individual", field="science_technology", achievement="nationally_renowned",
                          credentials=[]), ("in_review",)),
        (6, "zh", profile(), ("in_review", "contacted", "accepted")),
        (7, "zh", profile(), ("in_review",)),  # the day after: outside
    ]
    for n, (offset, language, data, path) in enumerate(plan):
        lead = make_lead(conversation_id=f"agree-{n}", language=language, profile=data)
        with db() as session:
            row = session.get(Lead, lead.id)
            for status in path:
                service.change_status(session, row, status, user)
            # 23:30 local on the last day, 00:30 on the first: the edges of the period in the staff's time zone.
            hour = 0 if offset == 0 else 23 if offset == 6 else 12
            session.execute(update(Lead).where(Lead.id == lead.id).values(created_at=_at(start + timedelta(days=offset), hour)))
            session.commit()


def _list_total(client: TestClient, query: str) -> int:
    page = client.get(f"/staff?{query}")
    assert page.status_code == 200
    marker = 'id="result-count" data-total="'
    return int(page.text.split(marker, 1)[1].split('"', 1)[0])


def test_the_lead_stages_are_the_lead_list_for_the_period(client: TestClient, db, make_user, make_lead) -> None:
    start = date(2025, 3, 3)
    end = start + timedelta(days=6)
    _leads(db, make_lead, make_user, start)
    login(client, make_user("viewer").email)
    page = client.get("/staff/dashboard", params={"start": start.isoformat(), "end": end.isoformat()})
    with db() as session:
        view = dashboard.funnel_view(session, redis.Redis(port=1, socket_connect_timeout=0.2), start, end)
    assert (view.totals["lead"], view.totals["qualified"], view.totals["accepted"]) == (4, 3, 2)
    for stage in dashboard.LEAD_STAGES:
        # The number on the dashboard, the list it links to, and the list filtered by hand all agree.
        assert f'href="/staff?{view.links[stage].replace("&", "&amp;")}"' in page.text
        assert _list_total(client, view.links[stage]) == view.totals[stage], stage
        with db() as session:
            f = parse_filter(dict(parse_qsl(view.links[stage])))
            assert service.list_leads(session, f).total == view.totals[stage]
    by_hand = {"lead": {}, "qualified": {"qualified": "yes"}, "accepted": {"status": "accepted"}}
    for stage, extra in by_hand.items():
        query = {"date_from": start.isoformat(), "date_to": end.isoformat(), **extra}
        assert _list_total(client, "&".join(f"{k}={v}" for k, v in query.items())) == view.totals[stage]
    # Each cell of the splits too.
    for split in dashboard.SPLITS:
        for value, counts in view.splits[split].items():
            for stage, n in zip(dashboard.FUNNEL_STAGES, counts, strict=True):
                link = dashboard.split_link(view, stage, split, value)
                if link:
                    assert _list_total(client, link) == n, (split, value, stage)
    assert view.splits["language"]["zh"][3:] == [2, 2, 2] and view.splits["language"]["en"][3:] == [2, 1, 0]
    assert view.splits["category"]["super_partner"][3:] == [1, 0, 0]  # the lead marked for review


def test_conversation_counts_survive_a_redis_restart(db, staff_env) -> None:
    funnel = Funnel(staff_env)
    day = today()
    for n in range(5):
        funnel.record("conversation", f"web-{n}", language="zh" if n % 2 else "en")
    for n in range(3):
        funnel.record("screening_started", f"web-{n}", language="en")
    funnel.record("screening_completed", "web-0", language="en", category="city_dreamer")
    with db() as session:
        before = dashboard.funnel_view(session, staff_env, day, day)  # the dashboard copies what Redis holds
    assert [before.totals[s] for s in dashboard.CONVERSATION_STAGES] == [5, 3, 1]
    staff_env.flushdb()  # a Redis without persistence, restarted
    funnel.record("conversation", "web-0", language="en")  # counted again by Redis after the restart...
    funnel.record("conversation", "web-9", language="zh")  # ...and a new one
    with db() as session:
        after = dashboard.funnel_view(session, staff_env, day, day)
    assert [after.totals[s] for s in dashboard.CONVERSATION_STAGES] == [6, 3, 1]  # web-0 still once a day
    assert after.splits["language"]["zh"][0] == 3 and after.splits["category"]["city_dreamer"][2] == 1
    with db() as session:
        assert session.scalar(select(FunnelEntry.member).limit(1)) not in {f"web-{n}" for n in range(10)}  # hashes


def test_with_redis_down_the_dashboard_shows_what_the_database_holds(db, staff_env) -> None:
    day = today()
    Funnel(staff_env).record("conversation", "web-kept", language="en")
    with db() as session:
        funnel_store.sync(session, staff_env, day, day)
        down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
        view = dashboard.funnel_view(session, down, day, day)
    assert view.totals["conversation"] == 1 and view.warning == "dashboard.redis_down" and view.unanswered == []


def test_the_funnel_day_is_the_staff_day(staff_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_TIMEZONE", "Pacific/Kiritimati")  # UTC+14: most of the day, "tomorrow" in UTC
    Funnel(staff_env).record("conversation", "web-far-east", language="en")
    local_day = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    assert today() == local_day and staff_env.exists(f"gzcp:funnel:conversation:{local_day.isoformat()}")


def test_sync_copies_each_member_once_even_when_run_twice(db, staff_env) -> None:
    funnel = Funnel(staff_env)
    day = today()
    for n in range(3):
        funnel.record("conversation", f"c{n}", language="en", day=day - timedelta(days=n))
    with db() as session:
        assert funnel_store.sync(session, staff_env, day - timedelta(days=2), day) == 3
        assert funnel_store.sync(session, staff_env, day - timedelta(days=2), day) == 0
        counts: Dict[str, Dict[str, object]] = funnel_store.counts(session, day - timedelta(days=1), day)
    assert counts["conversation"] == {"total": 2, "by_language": {"en": 2}, "by_category": {}}


def test_the_cli_copies_the_funnel_for_a_cron_or_a_loop(engine, db, staff_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "get_engine", lambda: engine)
    Funnel(staff_env).record("screening_started", "web-cli", language="zh")
    assert cli.main(["funnel-sync", "--days", "2"]) == 0
    with db() as session:
        assert funnel_store.counts(session, today(), today())["screening_started"]["total"] == 1
    assert cli.main(["funnel-sync", "--days", "0"]) == 2
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert cli.main(["funnel-sync"]) == 1  # Redis down, once: says so and fails
