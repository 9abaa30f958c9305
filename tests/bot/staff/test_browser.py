"""The console in a real browser (Playwright on Debian's Chromium) against a real server.

A uvicorn subprocess on a free port with a fresh SQLite database migrated by `python -m bot.db upgrade`; the
staff user is made with the CLI (`python -m bot.staff create`), leads arrive through the intake API. Every
step leaves a screenshot in results/screenshots/.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from typing import Any, Dict

from playwright.sync_api import Page, expect

from tests.bot.staff.browser import EMAIL, ROOT, SHOTS, log_in, post_lead, shot
from tests.bot.staff.conftest import PASSWORD, profile


def test_log_in_filter_open_and_work_a_lead(page: Page, server: Dict[str, Any]) -> None:
    zh = post_lead(server, conversation_id="b-zh", language="zh", profile=profile(name="广州云科技有限公司"),
                   contact={"person": "张伟", "email": "zhang.wei@yun.example", "phone": "13800138000"},
                   transcript=[{"sender": "user", "text": "我想申请城市合伙人", "timestamp": 1735786800.0},
                               {"sender": "bot", "text": "好的，请问贵公司在广州吗？", "timestamp": 1735786801.0}])
    post_lead(server, conversation_id="b-en", profile=profile(name="Acme Motors"))
    page.goto("/staff")
    shot(page, "01-login")
    log_in(page)
    shot(page, "02-leads")
    expect(page.locator("#leads-table tbody tr")).to_have_count(2)

    page.get_by_label("Language").select_option("zh")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/staff\?.*language=zh"))  # a filtered list has a URL to share
    rows = page.locator("#leads-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("广州云科技有限公司")
    shot(page, "03-filtered-zh")

    page.get_by_role("link", name="广州云科技有限公司").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("广州云科技有限公司")
    expect(page.locator(".turn-user")).to_contain_text("我想申请城市合伙人")
    expect(page.locator(".turn-bot")).to_contain_text("好的，请问贵公司在广州吗？")
    shot(page, "04-lead-detail")

    page.get_by_label("Move to").select_option("declined")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("alert")).to_contain_text("give a reason to decline")
    for status in ("in_review", "contacted", "accepted"):
        page.get_by_label("Move to").select_option(status)
        page.get_by_role("button", name="Change status").click()
        expect(page.locator("#current-status")).to_contain_text(status.replace("_", " "))
    expect(page.get_by_text("This status is final.")).to_be_visible()
    shot(page, "05-accepted")

    page.get_by_label("Add a note").fill("已电话联系，材料齐全 / documents complete")
    page.get_by_role("button", name="Add note").click()
    notes = page.locator("#notes li")
    expect(notes).to_have_count(1)
    expect(notes.first).to_contain_text("已电话联系，材料齐全")
    expect(notes.first).to_contain_text(EMAIL)
    shot(page, "06-note")

    page.goto("/staff?status=accepted")
    expect(page.locator("#leads-table tbody tr")).to_have_count(1)
    expect(page.locator("#status-counts a[data-status=accepted] .n")).to_have_text("1")
    assert zh["id"] in page.locator("#leads-table tbody tr").first.get_attribute("data-lead-id")

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("figure svg")).to_have_count(3)  # total, by language, by category
    expect(page.get_by_role("row", name="Accepted 1")).to_be_visible()  # from the lead's status in the database
    shot(page, "10-dashboard")


def test_export_the_filtered_list_as_csv(page: Page, server: Dict[str, Any]) -> None:
    post_lead(server, conversation_id="b-csv", language="zh", profile=profile(name="深圳导出测试公司"),
              contact={"person": "李娜", "email": "li.na@export.example"})
    log_in(page)
    page.get_by_label("Search").fill("导出测试")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#leads-table tbody tr")).to_have_count(1)
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    path = SHOTS / "export.csv"
    download.save_as(str(path))
    shot(page, "07-export")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel then reads the Chinese right
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["Organization"], r["Person"], r["Email"]) for r in rows] == [("深圳导出测试公司", "李娜", "li.na@export.example")]


def test_a_new_lead_appears_without_reload(page: Page, server: Dict[str, Any]) -> None:
    log_in(page)
    expect(page.locator("body")).to_have_attribute("data-live", "open")  # the event stream is connected
    marker = page.evaluate("() => (window.__marker = Math.random())")
    before = page.locator("#leads-table tbody tr[data-lead-id]").count()
    lead = post_lead(server, conversation_id="b-live", profile=profile(name="实时到达有限公司 Live Arrival"))
    row = page.locator(f'#leads-table tr[data-lead-id="{lead["id"]}"]')
    expect(row).to_be_visible(timeout=15_000)
    expect(row).to_contain_text("实时到达有限公司")
    expect(page.locator("#live-notice")).to_contain_text("1 new lead arrived")
    assert page.locator("#leads-table tbody tr[data-lead-id]").count() == before + 1
    assert page.evaluate("() => window.__marker") == marker  # same page: it was not reloaded
    shot(page, "08-live-arrival")


def test_a_viewer_reads_but_cannot_change(page: Page, server: Dict[str, Any]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{server['directory'] / 'leads.db'}"}
    created = subprocess.run([sys.executable, "-m", "bot.staff", "create", "--email", "viewer@staff.example.org",
                              "--role", "viewer", "--password-stdin"], input=PASSWORD, env=env, cwd=ROOT,
                             capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    lead = post_lead(server, conversation_id="b-viewer")
    page.goto("/staff/login")
    page.get_by_label("Email").fill("viewer@staff.example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/staff/leads/{lead['id']}")
    expect(page.get_by_role("heading", name="Consent")).to_be_visible()
    expect(page.get_by_role("button", name="Change status")).to_have_count(0)
    expect(page.get_by_role("link", name="Export CSV")).to_have_count(0)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Staff log in")).to_be_visible()
    page.goto("/staff")
    expect(page).to_have_url("/staff/login?next=/staff")
    shot(page, "09-viewer-logged-out")
