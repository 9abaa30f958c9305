"""The console speaks Chinese and English: one wording file, checked like the program data; the language from the
switch's cookie, else Accept-Language, else Chinese; categories and statuses in words on every page, in errors
and in the CSV."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Set

import pytest
from fastapi.testclient import TestClient

from bot.leads.models import STATUSES
from bot.shared.channels import NAMES as CHANNELS
from bot.shared.program import default_store
from bot.shared.program.knowledge import ProgramDataError
from bot.staff import dashboard, i18n, knowledge, service
from bot.staff.i18n import COOKIE, Translator, api_language, messages, page_language
from bot.staff.models import ROLES
from tests.bot.staff.conftest import REVIEW_PROFILE, login, profile, visible_text

STAFF = Path(i18n.__file__).resolve().parent
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
AUDIT_ACTIONS = ("login", "login.failed", "logout", "status", "assign", "note", "export", "review", "erase",
                 "user.create", "user.update", "token.create", "token.revoke", "knowledge.fact", "knowledge.example",
                 "knowledge.revert")


def _keys_used() -> Set[str]:
    """Every key the templates and the code name literally, and the families they build from data."""
    found: Set[str] = set()
    texts = [p.read_text(encoding="utf-8") for p in (STAFF / "templates").glob("*.html")]
    texts += [p.read_text(encoding="utf-8") for p in STAFF.glob("*.py")]
    known = set(messages())
    for text in texts:
        found.update(k for k in re.findall(r"['\"]([a-z_]+(?:\.[a-z0-9_]+)+)['\"]", text) if k in known)
    families = {
        "status": STATUSES, "role": ROLES, "kind": ("lead", "handoff"), "channel": (*CHANNELS, "rest", "none"),
        "language": ("en", "zh", "none"), "sort": service.SORTS, "stage": dashboard.FUNNEL_STAGES,
        "csv": service.CSV_COLUMNS, "action": AUDIT_ACTIONS, "target": ("user", "token", "list", "conversation"),
        "reason": ("unknown_topic", "fallback"), "profile": i18n.PROFILE_ORDER,
        "param": ("status", "category", "qualified", "language", "channel", "date_from", "date_to", "q", "sort", "kind"),
    }
    for family, keys in families.items():
        found.update(f"{family}.{key}" for key in keys)
    found.update(f"live.{n}_{kind}" for n in ("one", "many") for kind in ("lead", "handoff"))
    found.update(f"knowledge.kind_{kind}" for kind in knowledge.KINDS)
    found.update(f"dashboard.{name}_{split}" for name in ("chart", "by") for split in dashboard.SPLITS)
    found.update(k for k in known if k.startswith("knowledge.error."))  # named by EditRefused codes
    found.update(("category.none", "qualified.yes", "qualified.no", "qualified.review", "common.yes", "common.no",
                  "list.empty", "list.result", "list.results"))
    return found


def test_every_word_of_the_console_is_in_both_languages_and_none_is_unused() -> None:
    known = messages()
    assert len(known) > 300 and all(text.en and text.zh for text in known.values())
    used = _keys_used()
    literal = set()
    for path in list((STAFF / "templates").glob("*.html")) + list(STAFF.glob("*.py")):
        literal.update(re.findall(r"\bt\(\s*['\"]([a-z_]+(?:\.[a-z0-9_]+)+)['\"]", path.read_text(encoding="utf-8")))
    literal = {k for k in literal if not k.endswith("_")}  # "live.one_" + kind: a family, checked above
    assert literal - set(known) == set(), "keys used but not in i18n.yml"
    assert set(known) - used == set(), "keys in i18n.yml that nothing uses"


@pytest.mark.parametrize("broken, problem", [
    ("  a: {en: Hello}\n", "missing language(s) zh"),
    ("  a: {en: Hello, zh: Hello}\n", "has no Chinese characters"),
    ("  a: {en: 'Hello {name}', zh: '你好 {who}'}\n", "different {placeholders}"),
    ("  a: plain\n", "expected {en, zh}"),
])
def test_a_broken_wording_file_names_the_entry(tmp_path: Path, broken: str, problem: str) -> None:
    path = tmp_path / "i18n.yml"
    path.write_text("messages:\n" + broken, encoding="utf-8")
    with pytest.raises(ProgramDataError, match=re.escape(problem)):
        messages(path)


@pytest.mark.parametrize("cookie, header, expected", [
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    (None, "en-US,en;q=0.9", "en"),
    (None, "fr-FR, en;q=0.5, zh;q=0.4", "en"),
    (None, "fr-FR, de", "zh"),  # neither: Chinese, the console's first language
    (None, "zh;q=0, en;q=0.1", "en"),  # q=0 means "not this one"
    (None, None, "zh"),
    ("en", "zh-CN", "en"),  # the switch wins over the browser
    ("xx", "en", "en"),  # a made-up cookie counts for nothing
])
def test_the_language_comes_from_the_switch_then_the_browser(cookie, header, expected) -> None:
    assert page_language({COOKIE: cookie} if cookie else {}, header) == expected


def test_the_api_defaults_to_english() -> None:
    assert api_language(None) == "en" and api_language("zh-TW") == "zh" and api_language("ja") == "en"


def test_categories_and_profile_answers_come_from_the_program_data() -> None:
    zh, en = Translator("zh"), Translator("en")
    for key, category in default_store.current().categories.items():
        assert zh.category(key) == category.singular.zh and en.category(key) == category.singular.en
    assert zh.category(None) == "暂无合适类别" and en.category("") == "none fits"
    assert zh.option("org_types", "enterprise") == "企业" and en.option("credentials", "little_giant").startswith("National")
    assert zh.status("in_review") == "审核中" and en.status("in_review") == "in review"


def test_pages_are_chinese_by_default_and_name_categories_and_statuses_in_words(client: TestClient, make_user,
                                                                                make_lead) -> None:
    lead = make_lead(profile=profile(name="广州云科技有限公司"))
    make_lead(conversation_id="r", profile=dict(REVIEW_PROFILE))
    user = make_user("admin")
    login(client, user.email)
    client.headers.update(ZH)
    pages = ["/staff", "/staff/handoffs", f"/staff/leads/{lead.id}", "/staff/review", f"/staff/review/{lead.id}",
             "/staff/dashboard", "/staff/trends", "/staff/knowledge", "/staff/audit"]
    raw_keys = re.compile(r"\b(?:strategic_partner|super_partner|city_dreamer|city_ambassador|in_review)\b")
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, url
        assert '<html lang="zh-CN">' in page.text and page.headers["content-language"] == "zh-CN", url
        text = visible_text(page.text)
        assert not raw_keys.search(text), (url, raw_keys.search(text))
        keys = [k for k in re.findall(r"\b[a-z_]+\.[a-z0-9_]+\b", text) if k in messages()]
        assert keys == [], (url, keys)  # no message shown as its key
    listing = visible_text(client.get("/staff").text)
    assert "意向线索" in listing and "新线索" in listing and "战略合作伙伴" in listing and "超级合伙人" in listing
    assert "待审核" in visible_text(client.get(f"/staff/leads/{lead.id}").text)  # the nav, and the review mark


def test_the_switch_is_remembered_and_goes_back_to_the_page(client: TestClient, make_user) -> None:
    login(client, make_user("viewer").email)
    client.headers.update(ZH)
    assert "数据看板" in client.get("/staff/dashboard").text
    switched = client.get("/staff/language", params={"lang": "en", "next": "/staff/dashboard?start=2025-01-01"},
                          follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/staff/dashboard?start=2025-01-01"
    cookie = switched.headers["set-cookie"]
    assert f"{COOKIE}=en" in cookie and "Max-Age=31536000" in cookie and "SameSite=lax" in cookie
    page = client.get("/staff/dashboard")  # the browser still asks for Chinese: the choice wins
    assert '<html lang="en">' in page.text and "Dashboard" in page.text
    assert 'href="/staff/language?lang=zh&amp;next=%2Fstaff%2Fdashboard"' in page.text  # the way back
    assert client.get("/staff/language", params={"lang": "fr"}).status_code == 400
    away = client.get("/staff/language", params={"lang": "zh", "next": "//evil.example/"}, follow_redirects=False)
    assert away.headers["location"] == "/staff"  # no open redirect


def test_the_login_page_switches_too(client: TestClient) -> None:
    client.cookies.set(COOKIE, "zh")
    page = client.get("/staff/login")
    assert "工作人员登录" in page.text and "English" in page.text and "中文" in page.text


def test_errors_and_refusals_in_the_readers_language(client: TestClient, make_user, make_lead, db) -> None:
    lead = make_lead()
    csrf = login(client, make_user("reviewer").email)
    client.headers.update(ZH)
    refused = client.post(f"/staff/leads/{lead.id}/status", data={"csrf_token": csrf, "status": "declined"})
    assert refused.status_code == 409 and "拒绝时请填写原因" in refused.text
    wrong = client.post(f"/staff/leads/{lead.id}/status", data={"csrf_token": csrf, "status": "accepted"})
    assert "线索不能从“新线索”改为“已接纳”" in wrong.text and "审核中、已拒绝" in wrong.text
    assert "此操作需要“管理员”角色；您的角色是“审核员”" in client.get("/staff/audit").text
    assert "起始日期 应为日期，例如 2025-01-31" in client.get("/staff", params={"date_from": "yesterday"}).text
    assert "找不到该线索" in client.get("/staff/leads/nope").text
    assert "表单已过期或并非来自本工作台" in client.post(f"/staff/leads/{lead.id}/notes", data={"text": "x"}).text
    with db() as session:
        _, token = service.create_token(session, service.find_user(session, "reviewer@staff.example.org"), "t")
    bearer = {"Authorization": f"Bearer {token}"}
    body = {"status": "declined"}
    chinese = client.post(f"/api/staff/leads/{lead.id}/status", json=body, headers={**bearer, **ZH})
    english = client.post(f"/api/staff/leads/{lead.id}/status", json=body, headers={**bearer, "Accept-Language": ""})
    assert chinese.json()["detail"] == "拒绝时请填写原因" and english.json()["detail"] == "give a reason to decline"


def test_the_csv_speaks_the_readers_language_and_the_api_keeps_keys_unless_asked(client: TestClient, make_user,
                                                                                   make_lead, db) -> None:
    make_lead(language="zh", profile=profile(name="广州云科技"))
    login(client, make_user("reviewer").email)
    client.headers.update(ZH)
    rows = list(csv.reader(io.StringIO(client.get("/staff/export.csv").content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["编号（ID）", "类型", "状态", "收到时间"] and "类别" in rows[0]
    record = dict(zip(rows[0], rows[1], strict=True))
    assert (record["状态"], record["类别"], record["是否符合"], record["语言"], record["渠道"]) == (
        "新线索", "战略合作伙伴", "符合", "中文", "网页对话")
    with db() as session:
        _, token = service.create_token(session, service.find_user(session, "reviewer@staff.example.org"), "t")
    bearer = {"Authorization": f"Bearer {token}"}
    plain = client.get("/api/staff/export.csv", headers={**bearer, "Accept-Language": ""}).content.decode("utf-8-sig")
    header, first = list(csv.reader(io.StringIO(plain)))[:2]
    assert header == list(service.CSV_COLUMNS) and first[2] == "new" and "strategic_partner" in first
    english = client.get("/api/staff/export.csv", headers={**bearer, "Accept-Language": "en"}).content.decode("utf-8-sig")
    assert english.splitlines()[0].startswith("ID,Kind,Status,Received")


def test_the_live_notice_wording_comes_from_the_page(client: TestClient, make_user) -> None:
    login(client, make_user("viewer").email)
    client.headers.update(ZH)
    page = client.get("/staff").text
    assert 'data-one="新到 1 条线索。"' in page and 'data-many="新到 {n} 条线索。"' in page
    assert " arrived." not in (STAFF / "static" / "staff.js").read_text()  # no wording in the script


def test_unanswered_questions_name_their_topics_in_words(client: TestClient, make_user, staff_env) -> None:
    from bot.shared.funnel import Funnel

    Funnel(staff_env).record_unanswered("入会要交多少钱？", language="zh", reason="unknown_topic", topics=["fees"])
    login(client, make_user("viewer").email)
    page = visible_text(client.get("/staff/dashboard", headers=ZH).text)
    assert "费用或最低出资要求" in page and "资料中没有相关信息" in page and "中文" in page
