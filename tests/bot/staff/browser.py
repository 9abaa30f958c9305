"""Browser helpers for the console's tests: a uvicorn subprocess on a free port with a fresh SQLite database
migrated by `python -m bot.db upgrade`, a copy of the program data and of nlu/ for the knowledge editor to change
(PROGRAM_DATA_DIR, STAFF_NLU_DIR), a reviewer made with the CLI, Playwright on Debian's Chromium, and a page
fixture that fails the test on any script error or Content-Security-Policy violation."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from bot.shared.program.knowledge import DATA_DIR
from bot.shared.redis_conn import env_for_db
from tests.bot.leads.conftest import API_KEY, lead_body
from tests.bot.staff.conftest import PASSWORD, TEST_REDIS_DB

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
    data, nlu = directory / "data", directory / "nlu"
    shutil.copytree(DATA_DIR, data)
    shutil.copytree(ROOT / "nlu", nlu)
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{directory / 'leads.db'}",
        "PROGRAM_DATA_DIR": str(data), "STAFF_NLU_DIR": str(nlu), "STAFF_MODEL_FILE": str(directory / "model.tar.gz"),
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
        yield {"base": base, "directory": directory, "env": env, "data": data, "nlu": nlu}
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


def _watched(context: BrowserContext, errors: List[str]) -> Page:
    page = context.new_page()
    page.set_default_timeout(10_000)
    # Script errors and Content-Security-Policy violations show up here.
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    # HTTP errors are expected (a refused status change is a 409) except for the console's own files.
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and "/staff/static/" in response.url else None)
    return page


@pytest.fixture
def pages(browser: Browser, server: Dict[str, Any]) -> Iterator[Callable[[str], Page]]:
    """New pages with the browser set to a locale ("zh-CN", "en-US"); none may log a script or CSP error."""
    contexts: List[BrowserContext] = []
    errors: List[str] = []

    def make(locale: str) -> Page:
        context = browser.new_context(base_url=server["base"], accept_downloads=True, locale=locale)
        contexts.append(context)
        return _watched(context, errors)

    yield make
    for context in contexts:
        context.close()
    assert errors == [], errors


@pytest.fixture
def page(pages: Callable[[str], Page]) -> Page:
    return pages("en-US")


def post_lead(server: Dict[str, Any], **changes: Any) -> Dict[str, Any]:
    response = httpx.post(f"{server['base']}/api/leads", json=lead_body(**changes), headers={"X-API-Key": API_KEY})
    assert response.status_code == 201, response.text
    return response.json()


def log_in(page: Page, email: str = EMAIL) -> None:
    page.goto("/staff")
    expect(page).to_have_url("/staff/login?next=/staff")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Leads")).to_be_visible()


def log_in_zh(page: Page, email: str = EMAIL) -> None:
    page.goto("/staff")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="意向线索")).to_be_visible()


def make_staff(server: Dict[str, Any], email: str, role: str) -> None:
    created = subprocess.run([sys.executable, "-m", "bot.staff", "create", "--email", email, "--role", role,
                              "--password-stdin"], input=PASSWORD, env=server["env"], cwd=ROOT, capture_output=True,
                             text=True)
    assert created.returncode == 0 or "already exists" in created.stderr, created.stderr


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


