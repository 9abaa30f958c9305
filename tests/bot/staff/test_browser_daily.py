"""A staff member's day in a real browser, in Chinese and in English: the language switch, the review queue, the
funnel against the lead list (and after a Redis restart), the trends, and fixing an unanswered question.
Screenshots go to results/screenshots/ (11-… to 23-…), the downloaded CSVs beside them."""

from __future__ import annotations

import csv
import io
import time
from typing import Any, Callable, Dict, List, Optional

import httpx
from playwright.sync_api import Page, expect

from bot.shared.funnel import Funnel
from tests import redis_env
from tests.bot.staff.browser import SHOTS, log_in, log_in_zh, make_staff, post_lead, shot
from tests.bot.staff.conftest import REVIEW_PROFILE, TEST_REDIS_DB, profile

EDITOR = "editor@staff.example.org"


def _funnel() -> Funnel:
    return Funnel(redis_env.client(int(TEST_REDIS_DB), decode_responses=True))


def _served(server: Dict[str, Any], language: str, fact_id: str, present: bool = True) -> Optional[List[str]]:
    """The sources of a fact in the web app's /api/program, waiting up to 5 s for the store to catch up."""
    deadline = time.monotonic() + 5
    while True:
        facts = httpx.get(f"{server['base']}/api/program", params={"lang": language}).json()["application"]
        found = next((f["sources"] for f in facts if f["id"] == fact_id), None)
        if (found is not None) == present or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def test_the_console_is_chinese_first_and_the_switch_is_remembered(pages: Callable[[str], Page],
                                                                   server: Dict[str, Any]) -> None:
    post_lead(server, conversation_id="d-lang", language="zh", profile=profile(name="广州语言测试有限公司"))
    page = pages("zh-CN")
    log_in_zh(page)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    row = page.locator("#leads-table tbody tr", has_text="广州语言测试有限公司")
    expect(row).to_contain_text("战略合作伙伴")  # categories.yml's name, not strategic_partner
    expect(row).to_contain_text("新线索")
    expect(page.get_by_role("link", name="导出 CSV")).to_be_visible()
    shot(page, "11-leads-zh")
    page.get_by_role("navigation", name="界面语言").get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Leads")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/staff/dashboard")  # the choice is remembered, although the browser asks for Chinese
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    page.goto("/staff")
    expect(page.locator("#leads-table tbody tr", has_text="广州语言测试有限公司")).to_contain_text("Strategic partner")
    shot(page, "12-leads-en")
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", name="意向线索")).to_be_visible()


def test_a_borderline_lead_is_reviewed_in_chinese_and_another_in_english(pages: Callable[[str], Page],
                                                                         server: Dict[str, Any]) -> None:
    first = post_lead(server, conversation_id="d-review-1", language="zh",
                      profile=dict(REVIEW_PROFILE, name="宁波纺织科技有限公司"))
    second = post_lead(server, conversation_id="d-review-2", profile=dict(REVIEW_PROFILE, name="Hangzhou Fibre Works"))
    assert first["assessment"]["review"] and second["assessment"]["review"]

    zh = pages("zh-CN")
    log_in_zh(zh)
    zh.get_by_role("link", name="待审核").click()
    expect(zh.get_by_role("heading", name="待审核队列")).to_be_visible()
    zh.locator(f'#review-table tr[data-lead-id="{first["id"]}"]').get_by_role("link", name="审核").click()
    profile_card, reasons_card = zh.locator(".side-by-side > section").all()
    expect(profile_card).to_contain_text("企业")  # the profile in words (eligibility.yml)
    expect(profile_card).to_contain_text("国家级专精特新“小巨人”企业")
    expect(reasons_card).to_contain_text("超级合伙人")
    expect(reasons_card.locator('.reasons li span[lang="zh-CN"]').first).to_be_visible()  # Chinese first
    shot(zh, "13-review-zh")
    zh.get_by_label("类别").select_option(label="城市梦想家")
    zh.get_by_label("符合", exact=True).check()
    zh.get_by_role("textbox", name="理由").fill("规模与城市梦想家相符 / fits city dreamers")
    zh.get_by_role("button", name="提交审核决定").click()
    expect(zh.get_by_role("status")).to_contain_text("审核决定已记录")
    shot(zh, "14-review-next-zh")

    en = pages("en-US")
    log_in(en)
    en.goto(f"/staff/review/{second['id']}")
    expect(en.locator(".side-by-side")).to_contain_text("Hangzhou Fibre Works")
    en.get_by_label("No, decline it").check()
    en.get_by_role("button", name="Record decision").click()
    expect(en.get_by_role("alert")).to_contain_text("give a reason to decline")
    en.get_by_label("Reason (required to decline").fill("No plans for Guangzhou yet; asked to come back in 2027")
    en.get_by_role("button", name="Record decision").click()
    expect(en.get_by_role("status")).to_contain_text("Decision recorded.")
    shot(en, "15-review-done-en")
    en.goto(f"/staff/leads/{first['id']}")
    expect(en.locator("#lead-category")).to_have_text("City dreamer")
    expect(en.locator("#current-status")).to_contain_text("in review")
    en.goto(f"/staff/leads/{second['id']}")
    expect(en.locator("#current-status")).to_contain_text("declined")


def _stage(page: Page, stage: str) -> int:
    return int(page.locator(f'#funnel tr[data-stage="{stage}"] td.n').inner_text())


def _listed(page: Page) -> int:
    return int(page.locator("#result-count").get_attribute("data-total") or -1)


def test_the_funnel_agrees_with_the_list_and_survives_a_redis_restart(pages: Callable[[str], Page],
                                                                      server: Dict[str, Any]) -> None:
    funnel = _funnel()
    for n in range(6):
        funnel.record("conversation", f"web-d-funnel-{n}", language="zh" if n % 2 else "en")
    for n in range(3):
        funnel.record("screening_started", f"web-d-funnel-{n}", language="en")
    post_lead(server, conversation_id="d-funnel-a", language="zh", profile=profile(name="漏斗测试甲公司"))
    post_lead(server, conversation_id="d-funnel-b", profile=dict(REVIEW_PROFILE, name="Funnel Test B"))

    zh = pages("zh-CN")
    log_in_zh(zh)
    zh.get_by_role("link", name="数据看板").click()
    conversations, started = _stage(zh, "conversation"), _stage(zh, "screening_started")
    assert conversations >= 6 and started >= 3
    for stage in ("lead", "qualified"):
        shown = _stage(zh, stage)
        zh.locator(f'#funnel tr[data-stage="{stage}"] td.n a').click()  # the number opens its list
        expect(zh.get_by_role("heading", name="意向线索")).to_be_visible()
        assert _listed(zh) == shown, stage
        zh.go_back()
    shot(zh, "16-dashboard-zh")

    client = funnel.redis  # Redis restarted without persistence: the day sets are gone (sessions kept for the test)
    client.delete(*client.scan_iter("gzcp:funnel:*"))
    funnel.record("conversation", "web-d-funnel-0", language="en")  # the same conversation, counted again by Redis
    en = pages("en-US")
    log_in(en)
    en.goto("/staff/dashboard")
    assert (_stage(en, "conversation"), _stage(en, "screening_started")) == (conversations, started)
    expect(en.locator("#funnel-language")).to_contain_text("Chinese")
    accepted = _stage(en, "accepted")
    en.locator('#funnel tr[data-stage="accepted"] td.n a').click()
    assert _listed(en) == accepted and "status=accepted" in en.url
    en.go_back()
    shot(en, "17-dashboard-after-redis-restart-en")


def test_the_trends_in_both_languages_with_their_csv(pages: Callable[[str], Page], server: Dict[str, Any]) -> None:
    post_lead(server, conversation_id="d-trend", channel="telegram", profile=profile(name="Trend Telegram Co"))
    for locale, heading, first_header, name in (("zh-CN", "趋势", "周起始日", "zh"), ("en-US", "Trends", "Week from", "en")):
        page = pages(locale)
        (log_in_zh if name == "zh" else log_in)(page)
        page.goto("/staff/trends")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(page.locator("figure svg")).to_have_count(4)  # by category, by channel, rate, time to first contact
        expect(page.locator("#trends-table")).to_contain_text("Telegram")
        shot(page, f"18-trends-{name}")
        with page.expect_download() as info:
            page.locator("#trends-csv").click()
        path = SHOTS / f"trends-{name}.csv"
        info.value.save_as(str(path))
        rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
        assert rows[0][0] == first_header and len(rows) >= 13  # a header and twelve weeks


def test_an_editor_answers_an_unanswered_question_and_the_web_app_serves_it(pages: Callable[[str], Page],
                                                                            server: Dict[str, Any]) -> None:
    make_staff(server, EDITOR, "editor")
    funnel = _funnel()
    funnel.record_unanswered("计划办公室几点可以打电话？", language="zh", reason="fallback", conversation_id="web-d-q1")
    funnel.record_unanswered("Can partners bring a plus-one to city events?", language="en", reason="fallback",
                             conversation_id="web-d-q2")

    zh = pages("zh-CN")
    log_in_zh(zh, EDITOR)
    zh.get_by_role("link", name="数据看板").click()
    zh.locator("#unanswered tr", has_text="计划办公室几点可以打电话").get_by_role("link", name="补充答案").click()
    expect(zh.locator("#question-text")).to_have_text("计划办公室几点可以打电话？")
    zh.get_by_label("分类").select_option("application")
    zh.get_by_role("button", name="撰写事实").click()
    zh.get_by_label("事实编号").fill("office_hours")
    zh.get_by_label("英文内容").fill("The program office takes calls on weekdays from 9:00 to 17:30.")
    zh.get_by_label("中文内容").fill("weekdays")  # no Chinese: refused, nothing saved
    zh.get_by_label("标题（媒体、文件或部门）").fill("计划办公室（电话）")
    zh.get_by_label("日期（2025、2025-02 或 2025-02-10）").fill("2026-03-01")
    zh.get_by_role("button", name="保存事实").click()
    expect(zh.get_by_role("alert")).to_contain_text("中文内容中没有汉字")
    zh.get_by_label("中文内容").fill("计划办公室工作日 9:00 至 17:30 接听来电。")
    shot(zh, "19-knowledge-fact-zh")
    zh.get_by_role("button", name="保存事实").click()
    expect(zh.locator("#change-saved")).to_contain_text("已保存")
    shot(zh, "20-knowledge-saved-zh")
    # Served by the running web app from the edited files (its store looks at them each second): no restart.
    assert _served(server, "zh", "office_hours") == ["计划办公室（电话） (2026-03-01)"]
    assert "计划办公室几点可以打电话？" in (server["data"] / "facts" / "application.yml").read_text(encoding="utf-8")
    zh.get_by_role("link", name="数据看板").click()
    expect(zh.locator("#unanswered")).not_to_contain_text("计划办公室几点可以打电话")  # answered: off the list

    en = pages("en-US")
    log_in(en, EDITOR)
    en.goto("/staff/dashboard")
    en.locator("#unanswered tr", has_text="plus-one").get_by_role("link", name="Answer it").click()
    en.get_by_label("Topic", exact=True).select_option("benefits")
    en.get_by_role("button", name="Add as an example").click()
    expect(en.locator("#change-saved")).to_contain_text("queued for the next training")
    expect(en.locator("#change-queued")).to_be_visible()
    shot(en, "21-knowledge-example-queued-en")
    assert "plus-one" in (server["nlu"] / "en" / "staff.yml").read_text(encoding="utf-8")
    en.goto("/staff/knowledge")
    expect(en.locator("#training-queue")).to_contain_text("1 NLU example change(s) are queued")
    expect(en.locator("#changes")).to_contain_text("facts/application.yml#office_hours")
    shot(en, "22-knowledge-history-en")
    en.locator("#changes tr", has_text="office_hours").get_by_role("link").first.click()
    expect(en.locator("#summary-after")).to_contain_text("9:00 to 17:30")
    en.get_by_role("button", name="Revert this change").click()
    expect(en.locator("#change-saved")).to_contain_text("Reverted: the files are as they were before #")
    expect(en.locator("#summary-after")).to_have_text("(nothing)")
    shot(en, "23-knowledge-reverted-en")
    assert _served(server, "en", "office_hours", present=False) is None
