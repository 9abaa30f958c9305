"""The console's wording in Chinese and English, and which language each request gets.

One source: the console's own words are in `i18n.yml` (checked like the program data: both languages, the same
{placeholders}, Chinese text in Chinese); category names come from the program's categories.yml and profile
answers from eligibility.yml's option labels, never copied here. Pages follow the `staff_lang` cookie (the
switch in the header), else the browser's Accept-Language, else Chinese: the console's users are Guangzhou's
program staff. The JSON API follows Accept-Language, else English.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

from bot.shared.program import default_store
from bot.shared.program.eligibility import default_rules
from bot.shared.program.knowledge import ProgramDataError, Text, _Reader, read_yaml

MESSAGES_FILE = Path(__file__).resolve().parent / "i18n.yml"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"  # pages; the API defaults to English (integrations)
COOKIE = "staff_lang"
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
_TAG = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$")


def _flatten(reader: _Reader, node: Mapping[str, Any], prefix: str, out: Dict[str, Text]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not any(isinstance(v, dict) for v in value.values()):  # a message, not a group
            out[name] = reader.text(value, name)
        elif isinstance(value, dict):
            _flatten(reader, value, f"{name}.", out)
        else:
            raise reader.fail(name, "expected {en, zh} or a group of messages")


@functools.lru_cache(maxsize=1)
def messages(path: Path = MESSAGES_FILE) -> Dict[str, Text]:
    """Every message, by dotted key ("nav.leads", "status.in_review"); ProgramDataError names a broken entry."""
    data = read_yaml(path)[0]
    out: Dict[str, Text] = {}
    reader = _Reader(path.name)
    _flatten(reader, reader.mapping(data.get("messages"), "messages"), "", out)
    return out


@dataclass(frozen=True)
class Term:
    """A value shown in words: a status, role, category, channel or language key (`kind` says which)."""

    kind: str
    key: Optional[str]


@dataclass(frozen=True)
class Terms:
    kind: str
    keys: Tuple[str, ...]


class StaffError(ValueError):
    """A refused action, with a message meant for the person who tried it: a key of i18n.yml and its values.

    str() is the English text (logs, the CLI); pages and the API show `text(translator)` in the reader's
    language. A key that is not in i18n.yml is shown as it is (the CLI's own English messages)."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key, self.values = key, values
        super().__init__(self.text(Translator("en")))

    def text(self, t: Translator) -> str:
        return t(self.key, **self.values)


class Translator:
    """`t("key", name=value)` in one language, plus the names of statuses, categories and profile answers."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE

    def __call__(self, key: str, **values: Any) -> str:
        text = messages().get(key)
        if text is None:
            return key
        shown = {name: self.value(value) for name, value in values.items()}
        return text.get(self.language).format(**shown)

    def has(self, key: str) -> bool:
        return key in messages()

    def value(self, value: Any) -> str:
        if isinstance(value, Term):
            return self.term(value.kind, value.key)
        if isinstance(value, Terms):
            names = [self.term(value.kind, key) for key in value.keys]
            return self("list.empty") if not names else ("、" if self.language == "zh" else ", ").join(names)
        return str(value)

    def term(self, kind: str, key: Optional[str]) -> str:
        if kind == "category":
            return self.category(key)
        if key is None or key == "":
            return self(f"{kind}.none") if self.has(f"{kind}.none") else "—"
        return self(f"{kind}.{key}") if self.has(f"{kind}.{key}") else str(key)

    def status(self, key: str) -> str:
        return self.term("status", key)

    def role(self, key: str) -> str:
        return self.term("role", key)

    def channel(self, key: Optional[str]) -> str:
        return self.term("channel", key)

    def lang_name(self, key: Optional[str]) -> str:
        return self.term("language", key)

    def category(self, key: Optional[str], plural: bool = False) -> str:
        """A category's name from categories.yml ("战略合作伙伴"); no category: "none fits"."""
        if not key:
            return self("category.none")
        category = default_store.current().categories.get(key)
        if category is None:
            return key
        return (category.name if plural else category.singular).get(self.language)

    def unknown_topic(self, key: str) -> str:
        """What an unknowns.yml topic ("deadlines", "fees") is called, for the unanswered questions' list."""
        found = next((u for u in default_store.current().unknowns if u.key == key), None)
        return found.label.get(self.language) if found else key

    def categories(self) -> Sequence[Tuple[str, str]]:
        return [(key, self.category(key)) for key in default_store.current().categories]

    def option(self, group: str, key: Any) -> str:
        """A profile answer in words, from eligibility.yml's option labels (unknown values as they are)."""
        labels = default_rules().options.get(group, {})
        label = labels.get(str(key)) if isinstance(key, (str, int)) else None
        return label.get(self.language) if label else str(key)

    def yes_no(self, value: Optional[bool]) -> str:
        return "—" if value is None else self("common.yes" if value else "common.no")

    def qualified(self, qualified: Optional[bool], review: bool) -> str:
        if qualified:
            return self("qualified.yes")
        return self("qualified.review" if review else "qualified.no")


# Profile fields and the option group their values come from (the others are free text).
PROFILE_OPTIONS = {"org_type": "org_types", "credentials": "credentials", "revenue_band": "revenue_bands",
                   "guangzhou_presence": "guangzhou_presence", "field": "fields", "achievement": "achievements"}
PROFILE_ORDER = ("name", "org_type", "credentials", "employees", "revenue_band", "industry", "country",
                 "guangzhou_presence", "contribution", "field", "achievement", "promotion")


def profile_rows(t: Translator, profile: Optional[Mapping[str, Any]]) -> Iterable[Tuple[str, str]]:
    """A profile as (label, value) rows in words, in a fixed order; answers passed on to staff (details) last."""
    profile = profile or {}
    keys = [k for k in PROFILE_ORDER if k in profile] + sorted(k for k in profile if k not in PROFILE_ORDER)
    for key in keys:
        value = profile[key]
        if value in (None, "", []):
            continue
        if isinstance(value, Mapping):
            for name, answer in value.items():
                yield name.replace("_", " "), str(answer)
            continue
        label = t(f"profile.{key}") if t.has(f"profile.{key}") else key.replace("_", " ")
        group = PROFILE_OPTIONS.get(key)
        if isinstance(value, (list, tuple)):
            shown = ("、" if t.language == "zh" else ", ").join(t.option(group, v) if group else str(v) for v in value)
        else:
            shown = t.option(group, value) if group else str(value)
        yield label, shown


def _accepted(header: str) -> Optional[str]:
    """The first supported language in an Accept-Language header, by quality then order."""
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        match = _TAG.match(part)
        if not match:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        ranked.append((-quality, position, match.group(1).lower()))
    for quality, _, tag in sorted(ranked):
        if quality < 0 and tag.split("-")[0] in LANGUAGES:
            return tag.split("-")[0]
    return None


def page_language(cookies: Mapping[str, str], accept_language: Optional[str]) -> str:
    chosen = cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return str(chosen)
    return _accepted(accept_language or "") or DEFAULT_LANGUAGE


def api_language(accept_language: Optional[str]) -> str:
    return _accepted(accept_language or "") or "en"


def check() -> int:
    """How many messages i18n.yml holds; ProgramDataError when it is broken (tests and start-up)."""
    try:
        return len(messages())
    except ProgramDataError:
        messages.cache_clear()
        raise
