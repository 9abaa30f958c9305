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
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.shared.redis_conn import env_for_db
from tests.bot.leads.conftest import API_KEY, lead_body
from tests.bot.staff.conftest import PASSWORD, TEST_REDIS_DB, profile

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "results" / "screenshots"
EMAIL = "reviewer@staff.example.org"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chromium() -> str:
    found = subprocess.run(["bash", str(ROOT / "scripts" / "ensure_chromium.sh")], capture_output=True, text=True)
    if found.returncode != 0:
        pytest.fail(f"Chromium is needed for the browser tests: {found.stderr.strip()}")
    return found.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    directory = tmp_path_factory.mktemp("console")
    port = _free_port()
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{directory / 'leads.db'}",
        **env_for_db(os.environ, int(TEST_REDIS_DB)), "INTAKE_API_KEY": API_KEY, "TELEGRAM_BOT_TOKEN": "",
        "STAFF_TELEGRAM_CHAT_ID": "",
        "STAFF_COOKIE_SECURE": "false", "STAFF_LOGIN_MAX_PER_IP": "1000",
    }
    subprocess.run([sys.executable, "-m", "bot.db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    created = subprocess.run([sys.executable, "-m", "bot.staff", "create", "--email", EMAIL, "--role", "reviewer",
                              "--password-stdin"], input=PASSWORD + "\n", env=env, cwd=ROOT, capture_output=True, text=True)
    assert created.returncode == 0 and f"created reviewer {EMAIL}" in created.stdout, created.stderr
    log = open(directory / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bot.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--timeout-graceful-shutdown", "2", "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the app did not start:\n" + (directory / "server.log").read_text())
        time.sleep(0.2)
    try:
        yield {"base": base, "directory": directory}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, server: Dict[str, Any]) -> Iterator[Page]:
    context = browser.new_context(base_url=server["base"], accept_downloads=True, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []  # script errors and Content-Security-Policy violations show up here
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    # HTTP errors are expected (a refused status change is a 409) except for the console's own files.
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and "/staff/static/" in response.url else None)
    yield page
    context.close()
    assert errors == [], errors


def post_lead(server: Dict[str, Any], **changes: Any) -> Dict[str, Any]:
    response = httpx.post(f"{server['base']}/api/leads", json=lead_body(**changes), headers={"X-API-Key": API_KEY})
    assert response.status_code == 201, response.text
    return response.json()


def log_in(page: Page) -> None:
    page.goto("/staff")
    expect(page).to_have_url("/staff/login?next=/staff")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Leads")).to_be_visible()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


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
    assert [(r["organization"], r["person"], r["email"]) for r in rows] == [("深圳导出测试公司", "李娜", "li.na@export.example")]


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
