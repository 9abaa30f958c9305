"""Rendering console pages: Jinja2 templates in the reader's language, time filters, and the headers every staff
page carries."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from bot.staff.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, page_language, profile_rows
from bot.staff.models import StaffUser
from bot.staff.service import local_zone

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))

# Pages hold personal data: not cached, not framed, no inline script (the SVG charts are markup, not script).
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Content-Language": "",  # set per response
    "Vary": "Accept-Language, Cookie",
}


def _local(value: Union[datetime, float, int, None], fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, timezone.utc)
    return value.astimezone(local_zone()).strftime(fmt)


TEMPLATES.env.filters["local"] = _local
TEMPLATES.env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}  # Chinese stays readable


def translator(request: Request) -> Translator:
    """The reader's language: the switch's cookie, else the browser's Accept-Language, else Chinese."""
    return Translator(page_language(request.cookies, request.headers.get("accept-language")))


def _language_links(request: Request) -> List[Tuple[str, Dict[str, str]]]:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not here.startswith("/staff") or request.method != "GET":
        here = "/staff"
    return [(code, {"href": "/staff/language?" + urlencode({"lang": code, "next": here}), "label": LANGUAGE_NAMES[code]})
            for code in LANGUAGES]


def render(request: Request, name: str, context: Dict[str, Any], status_code: int = 200,
           user: Optional[StaffUser] = None) -> HTMLResponse:
    staff_session = getattr(request.state, "staff_session", None)
    t = translator(request)
    context = {
        "user": user, "csrf_token": staff_session.csrf if staff_session else "", "zone": str(local_zone()),
        "t": t, "lang": t.language, "html_lang": "zh-CN" if t.language == "zh" else "en",
        "language_links": _language_links(request), "profile_rows": lambda profile: list(profile_rows(t, profile)),
        **context,
    }
    headers = {**HEADERS, "Content-Language": "zh-CN" if t.language == "zh" else "en"}
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code, headers=headers)
