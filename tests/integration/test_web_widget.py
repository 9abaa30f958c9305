"""The landing page and chat widget in a real browser (Debian's Chromium via Playwright), with the web app
in a subprocess in front of the real Rasa and action servers (the `stack` fixture)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bot.chat import identity
from bot.shared.redis_conn import env_for_db
from tests.conftest import ROOT
from tests.fakes.server import ServerThread, free_port
from tests.integration.conftest import Stack, _wait
from tests.integration.test_screening_e2e import Intake, company_en, question_in
from tests.integration.test_screening_e2e import intake as intake  # noqa: F401  (a fixture, used by name)

SHOTS = ROOT / "results/screenshots"
BOT = ".gzcp-msg[data-from='bot']"
USER = ".gzcp-msg[data-from='user']"


def chromium_path() -> str:
    done = subprocess.run(["bash", str(ROOT / "scripts/ensure_chromium.sh")], capture_output=True, text=True)
    assert done.returncode == 0, f"no Chromium for the browser tests: {done.stderr}"
    return done.stdout.strip().splitlines()[-1]


class WebApp:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log


@pytest.fixture(scope="module")
def embedding_site() -> Iterator[str]:
    """Another origin that embeds the widget with the one documented script tag (filled in per test)."""
    page = {"html": ""}
    app = Starlette(routes=[Route("/", lambda request: HTMLResponse(page["html"]))])
    with ServerThread(app) as server:
        server.page = page  # type: ignore[attr-defined]
        yield server  # type: ignore[misc]


@pytest.fixture(scope="module")
def web_app(stack: Stack, embedding_site, tmp_path_factory) -> Iterator[WebApp]:
    port = free_port()
    log = tmp_path_factory.mktemp("web") / "app.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_URL": stack.rasa_url,
        "RASA_AUTH_TOKEN": stack.token,
        **env_for_db(os.environ, int(os.environ.get("REDIS_DB", "15"))),
        "CHAT_RATE_PER_MINUTE": "200",
        "CHAT_RATE_PER_MINUTE_IP": "1000",
        "CHAT_ALLOWED_ORIGINS": embedding_site.url,
        "DATABASE_URL": f"sqlite:///{log.parent / 'leads.db'}",
    }
    subprocess.run([sys.executable, "-m", "bot.db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bot.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/healthz", proc, log, 60)
        yield WebApp(url, log)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    yield context.new_page()
    context.close()


def ask(page: Page, text: str) -> str:
    """Type a question, send it with Enter, wait for the assistant's answer; the answer's text."""
    before = page.locator(BOT).count()
    page.locator("#gzcp-input").fill(text)
    page.locator("#gzcp-input").press("Enter")
    page.wait_for_function(f'document.querySelectorAll("{BOT}").length > {before}', timeout=30_000)
    expect(page.locator(".gzcp-typing")).to_be_hidden(timeout=30_000)
    return "\n".join(page.locator(BOT).all_inner_texts()[before:])


def bot_text(page: Page) -> str:
    return "\n".join(page.locator(BOT).all_inner_texts())


def test_page_shows_the_program_from_the_data_in_both_languages(page: Page, web_app: WebApp) -> None:
    page.goto(f"{web_app.url}/?lang=en")
    expect(page.get_by_role("heading", level=1, name="Guangzhou City Partner program", exact=True)).to_be_visible()
    expect(page.locator("[data-category='city_dreamer'] h3 [data-l='en']")).to_have_text("City dreamers")
    page.screenshot(path=str(SHOTS / "landing-en.png"), full_page=True)
    page.locator("#page-lang").click()
    expect(page.locator("html")).to_have_attribute("data-lang", "zh")
    expect(page.locator("[data-category='city_dreamer'] h3 [data-l='zh']")).to_be_visible()
    expect(page.locator("[data-category='city_dreamer'] h3 [data-l='en']")).to_be_hidden()
    assert page.title() == "广州“城市合伙人”计划"
    page.screenshot(path=str(SHOTS / "landing-zh.png"), full_page=True)


def test_widget_conversation_in_both_languages_quick_reply_and_reload(page: Page, web_app: WebApp) -> None:
    page.goto(f"{web_app.url}/?lang=en")
    launcher = page.get_by_role("button", name="Chat with us")
    launcher.click()
    expect(page.get_by_role("dialog", name="City Partner assistant")).to_be_visible()
    # The page's own h2 style must not make the widget's title invisible (red on red).
    colors = page.evaluate(
        "[getComputedStyle(document.querySelector('.gzcp-title')).color,"
        " getComputedStyle(document.querySelector('.gzcp-head')).backgroundColor]"
    )
    assert colors[0] != colors[1], colors
    expect(page.locator("#gzcp-input")).to_be_focused()
    expect(page.locator(BOT).first).to_contain_text("City Partner program", timeout=15_000)  # the welcome

    assert "Canton Fair" in ask(page, "What benefits do partners get?")
    page.screenshot(path=str(SHOTS / "widget-en-answer.png"))

    # A quick reply: its payload goes to the assistant, its title is what the user's bubble shows.
    reply = page.locator(".gzcp-reply").first
    expect(reply).to_be_visible()
    title = reply.inner_text()
    before = page.locator(BOT).count()
    reply.click()
    page.wait_for_function(f'document.querySelectorAll("{BOT}").length > {before}', timeout=30_000)
    expect(page.locator(USER).last).to_have_text("You said:" + title)
    assert "/" not in page.locator(USER).last.inner_text()
    page.screenshot(path=str(SHOTS / "widget-quick-reply.png"))

    # The language toggle switches page and widget; a Chinese question gets a Chinese answer.
    page.locator(".gzcp-lang").click()
    expect(page.locator(".gzcp-send")).to_have_text("发送")
    expect(page.locator("html")).to_have_attribute("data-lang", "zh")
    answer = ask(page, "加入需要什么条件？")
    assert "城市推广大使" in answer and "战略合作伙伴" in answer
    page.screenshot(path=str(SHOTS / "widget-zh-answer.png"))

    # A reload keeps the conversation: same session, history replayed from the assistant's record.
    users_before = page.locator(USER).all_inner_texts()
    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator(USER)).to_have_count(len(users_before), timeout=15_000)
    assert page.locator(USER).all_inner_texts() == [t.replace("You said:", "您说：") for t in users_before]
    assert "Canton Fair" in bot_text(page) and "城市推广大使" in bot_text(page)
    page.screenshot(path=str(SHOTS / "widget-after-reload.png"))


def test_widget_is_keyboard_and_screen_reader_usable(page: Page, web_app: WebApp) -> None:
    page.goto(f"{web_app.url}/?lang=en")
    launcher = page.get_by_role("button", name="Chat with us")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.focus()
    page.keyboard.press("Enter")
    expect(launcher).to_be_hidden()
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(page.get_by_label("Your message")).to_be_focused()
    page.keyboard.type("What benefits do partners get?")
    page.keyboard.press("Enter")
    expect(page.get_by_role("group", name="Suggested replies")).to_be_visible(timeout=30_000)
    answers = page.locator(BOT).count()
    # Quick replies sit just before the text box: Shift+Tab reaches them, Enter presses one.
    page.keyboard.press("Shift+Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "gzcp-reply", focused
    page.keyboard.press("Enter")
    page.wait_for_function(f'document.querySelectorAll("{BOT}").length > {answers}', timeout=30_000)
    active = page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
    assert "gzcp-input" in active, active
    expect(page.get_by_label("Your message")).to_be_focused()  # the pressed button is gone; focus is not lost
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_widget_fits_a_phone_screen(browser: Browser, web_app: WebApp) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(web_app.url)  # Accept-Language zh: the page starts in Chinese
        expect(page.locator("html")).to_have_attribute("data-lang", "zh")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(SHOTS / "phone-landing.png"))
        page.get_by_role("button", name="在线咨询").tap()
        box = page.get_by_role("dialog").bounding_box()
        assert box and box["width"] == 375 and box["height"] >= 700
        assert "城市梦想家" in ask(page, "城市梦想家是什么？")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(SHOTS / "phone-widget.png"))
    finally:
        context.close()


def test_another_site_embeds_the_widget_with_one_script_tag(page: Page, web_app: WebApp, embedding_site) -> None:
    embedding_site.page["html"] = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Partner site</title></head>"
        f'<body><h1>A partner\'s site</h1><script src="{web_app.url}/widget.js" data-lang="zh" async></script></body></html>'
    )
    page.goto(embedding_site.url)
    page.get_by_role("button", name="在线咨询").click()
    expect(page.locator(BOT).first).to_contain_text("城市合伙人", timeout=15_000)
    assert "广州" in ask(page, "城市合伙人计划是什么？")
    page.screenshot(path=str(SHOTS / "embedded-widget.png"))


# --- from the page to a stored lead ---------------------------------------------------------------
# The intake (web app on the intake port + delivery worker; the `intake` fixture imported above) and the
# screening helpers come from the screening end-to-end test, so both read the assistant's questions alike.

ZH_STARTUP = {
    "org_type": '/inform{"choice":"enterprise"}',
    "org_name": "广州网页科技有限公司",
    "country": "中国",
    "credentials": '/inform{"choice":"none"}',
    "employees": "二十人左右",
    "industry": "工业机器人",
    "guangzhou_presence": '/inform{"choice":"present"}',
    "contribution": "希望在广州建立研发中心",
    "contact_person": "王芳",
    "email": "wang.fang@example.cn",
    "phone": "跳过",
    "consent": '/inform{"choice":"yes"}',
    "confirmed": '/inform{"choice":"send"}',
}


def _answer(page: Page, answer: str) -> None:
    """A payload is given by pressing its quick reply (as a visitor would), anything else is typed."""
    before = page.locator(BOT).count()
    if answer.startswith("/"):
        choice = answer.split('"choice":"', 1)[1].split('"', 1)[0]
        button = page.locator(f".gzcp-reply[data-payload*='\"{choice}\"']").first
        expect(button).to_be_visible()
        button.click()
    else:
        page.locator("#gzcp-input").fill(answer)
        page.locator("#gzcp-input").press("Enter")
    page.wait_for_function(f'document.querySelectorAll("{BOT}").length > {before}', timeout=30_000)
    expect(page.locator(".gzcp-typing")).to_be_hidden(timeout=30_000)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_screening_in_the_widget_ends_as_a_lead_in_the_intake(
    page: Page, web_app: WebApp, intake: Intake, language: str
) -> None:
    persona = dict(ZH_STARTUP) if language == "zh" else company_en(f"web.{uuid.uuid4().hex[:6]}@example-widget.com")
    opening = "我们想成为城市合伙人" if language == "zh" else "we'd like to join the program"
    page.goto(f"{web_app.url}/?lang={language}")
    page.locator(".gzcp-launcher").click()
    expect(page.locator(BOT).first).to_be_visible(timeout=15_000)
    token = page.evaluate("localStorage.getItem('gzcp.conversation')")
    session = identity.conversation_of(token)  # the server issued it; Rasa and the intake know the derived id
    answer, asked = opening, []
    for _ in range(30):
        before = page.locator(BOT).count()
        _answer(page, answer)
        replies = [{"text": t} for t in page.locator(BOT).all_inner_texts()[before:]]
        question = question_in(replies)
        if question is None:
            break
        asked.append(question)
        answer = persona[question]
        answer = answer[0] if isinstance(answer, list) else answer
    page.screenshot(path=str(SHOTS / f"widget-screening-{language}.png"))
    assert question is None, f"the screening never ended; asked {asked}, last: {replies}"
    deadline = time.monotonic() + 30
    while not intake.leads(f"web-{session}"):
        assert time.monotonic() < deadline, "the lead never reached the intake"
        time.sleep(0.3)
    [lead] = intake.leads(f"web-{session}")
    assert lead["channel"] == "web" and lead["language"] == language and lead["qualified"]
    assert lead["category"] == ("city_dreamer" if language == "zh" else "strategic_partner")
