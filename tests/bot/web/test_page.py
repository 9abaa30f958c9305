"""The landing page is built from the program data, in both languages, and serves the widget's files."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient

from bot.main import create_app
from bot.shared.program import default_store

client = TestClient(create_app())


def test_landing_page_shows_every_category_and_fact_in_both_languages() -> None:
    page = html.unescape(client.get("/").text)
    kb = default_store.current()
    for category in kb.categories.values():
        for lang in ("en", "zh"):
            assert category.name.get(lang) in page and category.who.get(lang) in page
    for fact in kb.section("overview") + kb.section("application"):
        assert fact.text.en in page and fact.text.zh in page
    assert 'src="/widget.js"' in page


def test_the_page_follows_the_data_not_a_copy(monkeypatch) -> None:
    kb = default_store.current()
    renamed = kb.categories["city_dreamer"].__class__(
        **{
            **kb.categories["city_dreamer"].__dict__,
            "name": kb.categories["city_dreamer"].name.__class__(en="Dreamers X", zh="梦想家X"),
        }
    )
    changed = kb.__class__(**{**kb.__dict__, "categories": {**kb.categories, "city_dreamer": renamed}})
    monkeypatch.setattr(default_store, "current", lambda: changed)
    page = client.get("/").text
    assert "Dreamers X" in page and "梦想家X" in page


def test_language_choice_from_query_or_browser() -> None:
    assert 'data-lang="zh"' in client.get("/", params={"lang": "zh"}).text
    assert 'data-lang="zh"' in client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert 'data-lang="en"' in client.get("/", headers={"Accept-Language": "en-GB"}).text


def test_widget_files_are_served() -> None:
    js = client.get("/widget.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "/api/chat" in js.text and "aria-live" in js.text
    assert client.get("/widget.css").headers["content-type"].startswith("text/css")
