"""The JSON API with per-user tokens, and the console pages over HTTP (list, detail, actions, export)."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from bot.staff import service
from tests.bot.staff.conftest import csrf_of, login, profile


def _token(db, user) -> dict:
    with db() as session:
        _, token = service.create_token(session, user, "crm")
    return {"Authorization": f"Bearer {token}"}


def test_the_api_lists_filters_and_works_a_lead(client: TestClient, db, make_user, make_lead) -> None:
    user = make_user("reviewer")
    headers = _token(db, user)
    lead = make_lead(language="zh", profile=profile(name="广州云科技"))
    make_lead(conversation_id="other", contact={"person": "Amy", "email": "amy@example.org"})
    make_lead(kind="handoff", conversation_id="h", contact={"person": "Li Hua", "email": "li.hua@example.com"})

    listing = client.get("/api/staff/leads", params={"language": "zh"}, headers=headers).json()
    assert [item["organization"] for item in listing["items"]] == ["广州云科技"] and listing["counts"]["new"] == 1
    assert client.get("/api/staff/leads", params={"kind": "handoff"}, headers=headers).json()["total"] == 1
    assert client.get("/api/staff/leads", params={"sort": "nope"}, headers=headers).status_code == 400

    refused = client.post(f"/api/staff/leads/{lead.id}/status", json={"status": "accepted"}, headers=headers)
    assert refused.status_code == 409 and "cannot go from new to accepted" in refused.json()["detail"]
    assert client.post(f"/api/staff/leads/{lead.id}/status", json={"status": "declined"}, headers=headers).status_code == 409
    moved = client.post(f"/api/staff/leads/{lead.id}/status", json={"status": "in_review"}, headers=headers)
    assert moved.status_code == 200 and moved.json()["status"] == "in_review"
    note = client.post(f"/api/staff/leads/{lead.id}/notes", json={"text": "已联系 / contacted by phone"}, headers=headers)
    assert note.status_code == 201 and note.json()["author"] == user.email
    assert client.post(f"/api/staff/leads/{lead.id}/assignee", json={"assignee_id": user.id}, headers=headers).status_code == 200

    detail = client.get(f"/api/staff/leads/{lead.id}", headers=headers).json()
    assert detail["assignee_id"] == user.id and detail["notes"][0]["text"] == "已联系 / contacted by phone"
    assert detail["assessment"]["reasons"][0].keys() == {"en", "zh"}
    assert len(detail["duplicates"]) == 1 and detail["duplicates"][0]["kind"] == "handoff"  # same email

    exported = client.get("/api/staff/export.csv", params={"language": "zh"}, headers=headers)
    assert exported.content.startswith(b"\xef\xbb\xbf") and "广州云科技" in exported.content.decode("utf-8")
    assert client.get("/api/staff/leads/nope", headers=headers).status_code == 404


def test_a_revoked_token_stops_working(client: TestClient, db, make_user) -> None:
    user = make_user("viewer")
    with db() as session:
        row, token = service.create_token(session, user, "tmp")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/staff/leads", headers=headers).status_code == 200
    with db() as session:
        service.revoke_token(session, row.id)
    assert client.get("/api/staff/leads", headers=headers).status_code == 401


def test_audit_log_for_admins(client: TestClient, db, make_user, make_lead) -> None:
    admin, reviewer = make_user("admin"), make_user("reviewer")
    lead = make_lead()
    reviewer_headers = _token(db, reviewer)
    client.post(f"/api/staff/leads/{lead.id}/status", json={"status": "in_review"}, headers=reviewer_headers)
    client.get("/api/staff/export.csv", params={"q": "Acme"}, headers=reviewer_headers)
    entries = client.get("/api/staff/audit", headers=_token(db, admin)).json()
    seen = [(e["actor"], e["action"]) for e in entries]
    assert (reviewer.email, "status") in seen and (reviewer.email, "export") in seen
    export = next(e for e in entries if e["action"] == "export")
    assert export["details"]["filters"]["q"] == "[text search]" and export["details"]["rows"] == 1  # not the words
    login(client, admin.email)
    page = client.get("/staff/audit")
    assert page.status_code == 200 and "export" in page.text and reviewer.email in page.text


def test_console_pages_show_a_lead_and_work_it(client: TestClient, make_user, make_lead) -> None:
    user = make_user("reviewer")
    lead = make_lead(language="zh", profile=profile(name="广州云科技有限公司"), contact={
        "person": "张伟", "email": "zhang@yun.example", "phone": "13800138000"},
        transcript=[{"sender": "user", "text": "我想申请城市合伙人", "timestamp": 1735786800.0},
                    {"sender": "bot", "text": "好的，请告诉我贵公司的情况。", "timestamp": 1735786801.0}])
    make_lead(conversation_id="dup", contact={"person": "Other", "email": "ZHANG@yun.example"})
    csrf = login(client, user.email)

    listing = client.get("/staff", params={"q": "广州"})
    assert listing.status_code == 200 and "广州云科技有限公司" in listing.text and "张伟" in listing.text
    assert listing.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in listing.headers["content-security-policy"]
    page = client.get(f"/staff/leads/{lead.id}")
    text = page.text
    assert "我想申请城市合伙人" in text and "turn-user" in text and "turn-bot" in text
    assert "Notice version" in text and "2025-01" in text  # the consent record
    assert 'lang="zh-CN"' in text  # reasons in both languages
    assert "same email" in text  # the duplicate is linked
    bad = client.post(f"/staff/leads/{lead.id}/status", data={"csrf_token": csrf, "status": "declined"})
    assert bad.status_code == 409 and "give a reason to decline" in bad.text
    ok = client.post(f"/staff/leads/{lead.id}/status", data={"csrf_token": csrf, "status": "in_review"})
    assert ok.status_code == 200 and "in review" in ok.text  # redirected back to the lead
    client.post(f"/staff/leads/{lead.id}/notes", data={"csrf_token": csrf_of(ok.text), "text": "第一次联系"})
    assert "第一次联系" in client.get(f"/staff/leads/{lead.id}").text

    exported = client.get("/staff/export.csv", params={"kind": "lead", "language": "zh"})
    assert exported.headers["content-type"].startswith("text/csv") and "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))  # headers and values in words
    assert [(r["Organization"], r["Person"], r["Status"], r["Category"]) for r in rows] == [
        ("广州云科技有限公司", "张伟", "in review", "Strategic partner")]
    assert client.get("/staff", params={"date_from": "yesterday"}).status_code == 400


def test_the_dashboard_draws_the_funnel_and_lists_unanswered_questions(client: TestClient, db, make_user, staff_env) -> None:
    from bot.shared.funnel import Funnel

    funnel = Funnel(staff_env)
    for n, stage in enumerate(("conversation", "screening_started", "screening_completed", "qualified")):
        for i in range(4 - n):
            funnel.record(stage, f"c{i}", language="zh" if i % 2 else "en", category="city_dreamer")
    funnel.record_unanswered("签证怎么办？电话 13800138000", language="zh", reason="unknown_topic", topics=["visa"])
    user = make_user("viewer")
    login(client, user.email)
    page = client.get("/staff/dashboard")
    assert page.status_code == 200 and page.text.count("<svg") == 3
    assert "Screenings completed" in page.text and "City dreamer" in page.text  # the category in words
    assert "签证怎么办" in page.text and "13800138000" not in page.text  # recorded masked
    assert client.get("/staff/dashboard", params={"start": "2025-02-01", "end": "2025-01-01"}).status_code == 400
    with db() as session:
        _, token = service.create_token(session, service.find_user(session, user.email), "dash")
    data = client.get("/api/staff/dashboard", headers={"Authorization": f"Bearer {token}"}).json()
    # Conversation stages from the funnel (copied into the database); lead stages from the leads (none here).
    assert data["totals"] == {"conversation": 4, "screening_started": 3, "screening_completed": 2, "lead": 0,
                              "qualified": 0, "accepted": 0}
    assert data["by_language"]["en"] == [2, 2, 1, 0, 0, 0]
    assert data["by_category"]["city_dreamer"] == [None, None, 2, 0, 0, 0]  # no category before the screening ends


def test_the_hand_off_queue_shows_what_was_asked(client: TestClient, make_user, make_lead) -> None:
    make_lead(kind="handoff", conversation_id="h1", language="zh", note="下一次申请截止日期是什么时候？")
    make_lead(conversation_id="not-a-handoff", profile=profile(name="Lead Only Co"))
    login(client, make_user("viewer").email)
    page = client.get("/staff/handoffs")
    assert page.status_code == 200 and "Hand-off requests" in page.text
    assert "下一次申请截止日期是什么时候？" in page.text and "Lead Only Co" not in page.text


def test_chart_labels_are_escaped_and_gridlines_whole_numbers() -> None:
    import re

    from bot.staff.charts import bar_chart

    svg = bar_chart("Funnel <by> category", {"<script>": [3, 2, 1, 0, 0], "城市梦想家": [1, 1, 0, 0, 0]},
                    ["a", "b", "c", "d", "e"])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "城市梦想家" in svg
    assert re.findall(r'text-anchor="end" font-size="11" fill="#555">(\d+)<', svg) == ["0", "1", "2", "3", "4"]
