"""The screening form's wording and vocabulary (`data/screening.yml`), typed and checked against the rules.

A broken edit raises ProgramDataError naming the file and the place, like every other data file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from bot.program.eligibility_rules import RULES_FILE, Rules, default_rules
from bot.program.knowledge import DATA_DIR, Text, _Reader, read_yaml
from bot.program.parsing import OptionWords
from bot.program.store import Reloading

SCREENING_FILE = DATA_DIR / "screening.yml"
# Every question the forms may ask (slot names in domain.yml), in no particular order.
QUESTIONS: Tuple[str, ...] = (
    "org_type", "org_name", "person_name", "country", "credentials", "employees", "revenue_band", "industry",
    "field", "achievement", "promotion", "guangzhou_presence", "contribution", "contact_person", "email", "phone",
    "consent", "confirmed", "handoff_wanted", "handoff_note",
)
# Questions answered by pressing a button (or naming the option): their eligibility.yml option group.
OPTION_QUESTIONS: Mapping[str, str] = {
    "org_type": "org_types",
    "credentials": "credentials",
    "guangzhou_presence": "guangzhou_presence",
    "field": "fields",
    "achievement": "achievements",
    "revenue_band": "revenue_bands",
}
WORD_LISTS: Tuple[str, ...] = ("yes", "no", "skip", "send", "edit", "cancel")
MESSAGES: Tuple[str, ...] = (
    "start", "resume", "invalid_choice", "invalid_text", "invalid_employees", "invalid_revenue", "invalid_email",
    "invalid_phone", "invalid_yes_no", "help", "corrected", "assessment_intro", "qualified_next", "not_qualified",
    "summary_intro", "summary_question", "button_send", "button_edit", "button_cancel", "button_yes", "button_no",
    "button_skip", "which_edit", "consent_refused", "cancelled", "stopped", "submitted", "submit_failed",
    "handoff_declined", "handoff_submitted", "deleted", "deletion_pending", "skipped",
)
SUMMARY_FIELDS: Tuple[str, ...] = (
    "org_type", "org_name", "person_name", "country", "credentials", "employees", "revenue_band", "industry", "field",
    "achievement", "promotion", "guangzhou_presence", "contribution", "contact_person", "email", "phone", "handoff_note",
)


@dataclass(frozen=True)
class ConsentNotice:
    version: str
    lines: Tuple[Text, ...]
    retention_months: int

    def render(self, language: str) -> str:
        return "\n".join(line.format(language, retention_months=self.retention_months) for line in self.lines)


@dataclass(frozen=True)
class ScreeningData:
    rules: Rules
    notice: ConsentNotice
    questions: Mapping[str, Text]
    labels: Mapping[str, Text]
    messages: Mapping[str, Text]
    options: Mapping[str, OptionWords]  # option group -> words (button labels in both languages + keywords)
    words: Mapping[str, OptionWords]  # yes/no/skip/send/edit/cancel, each as a one-option vocabulary
    field_words: OptionWords  # names of the questions, for "change the email"
    revenue_band_min: Mapping[str, int]

    def message(self, key: str, language: str, **values: Any) -> str:
        return self.messages[key].format(language, **values)

    def says(self, word_list: str, text: str) -> bool:
        """True when the whole answer is one of the words of `word_list` ("yes", "跳过", ...)."""
        return self.words[word_list].exact(text) is not None


class _ScreeningReader(_Reader):
    def texts(self, node: Any, where: str, keys: Tuple[str, ...], allow_blank: bool = False) -> Dict[str, Text]:
        node = self.mapping(node, where)
        missing = [k for k in keys if k not in node]
        if missing:
            raise self.fail(where, f"missing key(s) {', '.join(missing)}")
        unknown = sorted(str(k) for k in node if k not in keys)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}")
        out = {}
        for key in keys:
            value = self.mapping(node[key], f"{where}.{key}")
            if allow_blank and value.get("en") == "" and value.get("zh") == "":
                out[key] = Text(en="", zh="")
            else:
                out[key] = self.text(value, f"{where}.{key}")
        return out

    def words(self, node: Any, where: str) -> Tuple[str, ...]:
        return tuple(w.lower() for w in self.strings(node, where))


def load_screening(path: Path = SCREENING_FILE, rules: Optional[Rules] = None) -> ScreeningData:
    rules = rules or default_rules()  # the cached rules: reloaded themselves when eligibility.yml changes
    data, _ = read_yaml(path)
    reader = _ScreeningReader(path.name)
    notice_node = reader.mapping(data.get("consent_notice"), "consent_notice")
    months = notice_node.get("retention_months")
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        raise reader.fail("consent_notice.retention_months", "expected a whole number of months from 1 to 120")
    notice = ConsentNotice(
        version=reader.string(notice_node.get("version"), "consent_notice.version"),
        lines=tuple(
            reader.text(line, f"consent_notice.lines[{i}]")
            for i, line in enumerate(reader.items(notice_node.get("lines"), "consent_notice.lines"))
        ),
        retention_months=months,
    )
    if len(notice.version) > 32:
        raise reader.fail("consent_notice.version", "at most 32 characters (the intake stores it)")

    keywords = reader.mapping(data.get("keywords"), "keywords")
    options: Dict[str, OptionWords] = {}
    for group in sorted(set(OPTION_QUESTIONS.values())):
        typed = reader.mapping(keywords.get(group, {}), f"keywords.{group}")
        unknown = sorted(k for k in typed if k not in rules.options[group])
        if unknown:
            raise reader.fail(f"keywords.{group}", f"unknown option(s) {', '.join(unknown)} (see eligibility.yml)")
        words = {
            key: [label.en, label.zh] + list(reader.words(typed[key], f"keywords.{group}.{key}") if key in typed else [])
            for key, label in rules.options[group].items()
        }
        options[group] = OptionWords(words)
    bands = {band.key: [band.label.en, band.label.zh] for band in rules.employee_bands}
    options["employee_bands"] = OptionWords(bands)

    band_min = reader.mapping(data.get("revenue_band_min"), "revenue_band_min")
    if sorted(band_min) != sorted(rules.options["revenue_bands"]):
        raise reader.fail("revenue_band_min", f"needs exactly the revenue bands {', '.join(rules.options['revenue_bands'])}")
    for key, value in band_min.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise reader.fail(f"revenue_band_min.{key}", "expected a whole number of RMB")

    field_node = reader.mapping(data.get("field_words"), "field_words")
    unknown_fields = sorted(k for k in field_node if k not in SUMMARY_FIELDS)
    if unknown_fields:
        raise reader.fail("field_words", f"unknown question(s) {', '.join(unknown_fields)}")
    return ScreeningData(
        rules=rules,
        notice=notice,
        questions=reader.texts(data.get("questions"), "questions", QUESTIONS, allow_blank=True),
        labels=reader.texts(data.get("labels"), "labels", SUMMARY_FIELDS),
        messages=reader.texts(data.get("messages"), "messages", MESSAGES),
        options=options,
        words={name: OptionWords({name: reader.words(keywords.get(name), f"keywords.{name}")}) for name in WORD_LISTS},
        field_words=OptionWords({k: reader.words(v, f"field_words.{k}") for k, v in field_node.items()}),
        revenue_band_min={k: int(v) for k, v in band_min.items()},
    )


class ScreeningCache(Reloading[ScreeningData]):
    """The screening data, reloaded when it, the rules or the categories change (a broken edit keeps the last good)."""

    def __init__(self, check_interval: float = 1.0) -> None:
        watched = [SCREENING_FILE, RULES_FILE, DATA_DIR / "categories.yml"]
        super().__init__(load_screening, watched, "screening data", check_interval)


_cache: Optional[ScreeningCache] = None


def default_screening() -> ScreeningData:
    global _cache
    if _cache is None:
        _cache = ScreeningCache()
    return _cache.current()
