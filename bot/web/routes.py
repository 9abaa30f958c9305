"""`/`: a bilingual landing page built from the same program data the assistant answers from, and the
widget's static files (`/widget.js`, `/widget.css`) that any site can embed with one script tag.

Both languages are rendered into the page and the toggle only switches which one is shown, so the
widget and its conversation stay put while the language changes. Only the page chrome (headings that
are not intent labels, button captions) lives here; every program fact comes from bot/shared/program/data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.shared.program import LANGUAGES, default_store
from bot.shared.program.contact import StaffContact
from bot.shared.program.knowledge import Fact, Knowledge

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))

# Page chrome only: not program facts.
CHROME: Dict[str, Dict[str, str]] = {
    "title": {"en": "Guangzhou City Partner program", "zh": "广州“城市合伙人”计划"},
    "tagline": {
        "en": "Ask our assistant anything about the program, in English or Chinese.",
        "zh": "欢迎用中文或英文向智能助手咨询计划详情。",
    },
    "switch": {"en": "中文", "zh": "English"},
    "switch_label": {"en": "中文: switch the page to Chinese", "zh": "English: 切换到英文"},
    "who": {"en": "Who it is for", "zh": "适用对象"},
    "chat": {"en": "Chat with the assistant", "zh": "咨询智能助手"},
    "join_chat": {
        "en": "The assistant can check which category fits you and pass your details to program staff.",
        "zh": "智能助手可以帮您判断适合的类别，并将您的信息转交项目工作人员。",
    },
    "contact": {"en": "Program staff", "zh": "项目工作人员"},
    "sources": {"en": "Sources", "zh": "资料来源"},
}
PAGE_TOPICS = ("overview", "categories", "application")  # the page's sections, titled by their topic labels


def _facts(kb: Knowledge, facts: tuple) -> List[Dict[str, Any]]:
    return [{"text": {lang: f.text.get(lang) for lang in LANGUAGES}, "sources": f.sources} for f in facts if isinstance(f, Fact)]


def page_context(kb: Knowledge) -> Dict[str, Any]:
    """Everything the template shows, in both languages, straight from the program data."""
    overview, application = _facts(kb, kb.section("overview")), _facts(kb, kb.section("application"))
    categories = [
        {
            "key": c.key,
            "name": {lang: c.name.get(lang) for lang in LANGUAGES},
            "summary": {lang: c.summary.get(lang) for lang in LANGUAGES},
            "who": {lang: c.who.get(lang) for lang in LANGUAGES},
            "sources": c.sources,
        }
        for c in kb.categories.values()
    ]
    used = [s for item in overview + application + categories for s in item["sources"]]
    sources = [kb.sources[key].cite() for key in dict.fromkeys(used)]
    headings = {t: {lang: kb.topics[t].label.get(lang) for lang in LANGUAGES} for t in PAGE_TOPICS if t in kb.topics}
    return {"overview": overview, "categories": categories, "application": application, "sources": sources, "headings": headings}


def _preferred(request: Request, lang: Optional[str]) -> str:
    if lang in LANGUAGES:
        return lang
    return "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"


router = APIRouter(tags=["web"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing(request: Request, lang: Optional[str] = Query(None)) -> HTMLResponse:
    contact = StaffContact.from_env()
    html = _templates.get_template("index.html").render(
        lang=_preferred(request, lang),
        explicit=lang in LANGUAGES,
        chrome=CHROME,
        contact=contact if contact.configured else None,
        **page_context(default_store.current()),
    )
    return HTMLResponse(html)


def _static(name: str, media_type: str) -> FileResponse:
    # Short cache: the widget updates with the app, and embedding sites always load it from here.
    return FileResponse(STATIC / name, media_type=media_type, headers={"Cache-Control": "public, max-age=300"})


@router.get("/widget.js", include_in_schema=False)
def widget_js() -> FileResponse:
    return _static("widget.js", "text/javascript; charset=utf-8")


@router.get("/widget.css", include_in_schema=False)
def widget_css() -> FileResponse:
    return _static("widget.css", "text/css; charset=utf-8")


@router.get("/site.css", include_in_schema=False)
def site_css() -> FileResponse:
    return _static("site.css", "text/css; charset=utf-8")
