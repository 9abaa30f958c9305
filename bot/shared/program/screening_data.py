"""The screening form's wording and vocabulary (`data/screening.yml`), typed and checked against the rules.

A broken edit raises ProgramDataError naming the file and the place, like every other data file.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from bot.shared.program.eligibility import Profile
from bot.shared.program.eligibility_rules import RULES_FILE, Rules, default_rules
from bot.shared.program.knowledge import DATA_DIR, Text, _Reader, read_yaml
from bot.shared.program.parsing import OptionWords, text_length
from bot.shared.program.store import Reloading

SCREENING_FILE = DATA_DIR / "screening.yml"
# How a question's answer is read (bot/shared/program/screening.py has one reader per kind).
KINDS: Tuple[str, ...] = ("choice", "choices", "number", "amount", "text", "email", "phone", "yes_no", "consent", "confirm")
OPTION_KINDS: Tuple[str, ...] = ("choice", "choices", "amount")
STAGES: Tuple[str, ...] = ("profile", "handoff", "contact")
# When a question is asked (worked out in Screening.applies).
CONDITIONS: Tuple[str, ...] = (
    "individual", "organisation", "size_matters", "revenue_matters", "industry_matters", "handoff_wanted", "consented",
)
CONTACT_FIELDS: Tuple[str, ...] = ("person", "email", "phone")
SHORT_ANSWER = 24  # text_length of an answer short enough to be just "skip" or "send" in other words
WORD_LISTS: Tuple[str, ...] = ("yes", "no", "skip", "send", "edit", "cancel")
MESSAGES: Tuple[str, ...] = (
    "start", "resume", "recommendation_in_form", "invalid_choice", "invalid_text", "invalid_employees",
    "invalid_revenue", "invalid_email", "invalid_phone", "invalid_yes_no", "help", "corrected", "assessment_intro",
    "qualified_next", "review_next", "indication_intro", "indication_likely", "indication_more",
    "indication_offer", "button_check", "noted", "not_qualified", "summary_intro", "summary_question",
    "button_send", "button_edit", "button_cancel", "button_yes", "button_no", "button_skip", "which_edit",
    "consent_refused", "cancelled", "stopped", "submitted", "submit_failed", "handoff_declined",
    "handoff_submitted", "deleted", "deletion_pending", "skipped",
)


@dataclass(frozen=True)
class Wording:
    ask: Optional[Text]  # None: the consent notice or the summary is the question
    label: Optional[Text]  # None: not shown in the summary
    words: Tuple[str, ...]  # words naming the question ("change the email")


@dataclass(frozen=True)
class Question:
    """One question of the forms, as screening.yml declares it."""

    name: str  # the slot it fills in domain.yml
    kind: str
    stage: str
    wording: Wording
    fills: str = ""  # "profile.<field>", "contact.<field>", "note", "details", or "" (kept in the form only)
    options: Optional[str] = None  # option group in eligibility.yml
    limits: Tuple[int, int] = (0, 0)
    skippable: bool = False
    when: Optional[str] = None
    individual: Optional[Wording] = None  # the wording for an individual, when it differs

    @property
    def profile_field(self) -> Optional[str]:
        return self.fills.partition(".")[2] if self.fills.startswith("profile.") else None

    @property
    def contact_field(self) -> Optional[str]:
        return self.fills.partition(".")[2] if self.fills.startswith("contact.") else None


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
    questions: Mapping[str, Question]  # in the order they are asked
    messages: Mapping[str, Text]
    options: Mapping[str, OptionWords]  # option group -> words (button labels in both languages + keywords)
    words: Mapping[str, OptionWords]  # yes/no/skip/send/edit/cancel, each as a one-option vocabulary
    field_words: OptionWords  # names of the questions, for "change the email"
    revenue_band_min: Mapping[str, int]

    def of_kind(self, kind: str) -> Optional[Question]:
        """The (first) question of a kind: the consent question, the confirmation."""
        return next((q for q in self.questions.values() if q.kind == kind), None)

    def message(self, key: str, language: str, **values: Any) -> str:
        return self.messages[key].format(language, **values)

    def says(self, word_list: str, text: str) -> bool:
        """True when the whole answer is one of the words of `word_list` ("yes", "跳过", ...)."""
        return self.words[word_list].exact(text) is not None

    def says_briefly(self, word_list: str, text: str) -> bool:
        """True when a short answer without figures is made of such words ("确认提交", "I'd rather not share
        it"): a longer one is an answer in its own right."""
        if self.says(word_list, text):
            return True
        if text_length(text) > SHORT_ANSWER or re.search(r"\d", text):
            return False
        return any(len(word) >= 2 for word, _ in self.words[word_list].matches(text))  # not 无 in 无锡


class _ScreeningReader(_Reader):
    def texts(self, node: Any, where: str, keys: Tuple[str, ...]) -> Dict[str, Text]:
        node = self.mapping(node, where)
        missing = [k for k in keys if k not in node]
        if missing:
            raise self.fail(where, f"missing key(s) {', '.join(missing)}")
        unknown = sorted(str(k) for k in node if k not in keys)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}")
        return {key: self.text(self.mapping(node[key], f"{where}.{key}"), f"{where}.{key}") for key in keys}

    def words(self, node: Any, where: str) -> Tuple[str, ...]:
        return tuple(w.lower() for w in self.strings(node, where))

    def wording(self, node: Dict[str, Any], where: str, asks: bool) -> Wording:
        if asks and node.get("ask") is None:
            raise self.fail(f"{where}.ask", "missing: the question in both languages")
        return Wording(
            ask=self.text(node["ask"], f"{where}.ask") if node.get("ask") is not None else None,
            label=self.text(node["label"], f"{where}.label") if node.get("label") is not None else None,
            words=self.words(node["words"], f"{where}.words") if node.get("words") is not None else (),
        )

    def question(self, name: str, node: Any, rules: Rules) -> Question:
        where = f"questions.{name}"
        node = self.mapping(node, where)
        unknown = sorted(set(node) - {"kind", "options", "limits", "skippable", "fills", "stage", "when", "ask", "label",
                                      "words", "individual"})
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}")
        kind, stage, when = node.get("kind"), node.get("stage"), node.get("when")
        if kind not in KINDS:
            raise self.fail(f"{where}.kind", f"expected one of {', '.join(KINDS)}")
        if stage not in STAGES:
            raise self.fail(f"{where}.stage", f"expected one of {', '.join(STAGES)}")
        if when is not None and when not in CONDITIONS:
            raise self.fail(f"{where}.when", f"expected one of {', '.join(CONDITIONS)}")
        options = node.get("options")
        if (kind in OPTION_KINDS) != (options is not None) or (options is not None and options not in rules.options):
            raise self.fail(f"{where}.options", f"{kind} questions {'need' if kind in OPTION_KINDS else 'take no'} an option "
                                                f"group of eligibility.yml ({', '.join(rules.options)})")
        limits = node.get("limits")
        if kind == "text":
            if (not isinstance(limits, list) or len(limits) != 2 or not all(isinstance(n, int) for n in limits)
                    or not 1 <= limits[0] <= limits[1]):
                raise self.fail(f"{where}.limits", "a text question needs [shortest, longest], whole numbers from 1")
        elif limits is not None:
            raise self.fail(f"{where}.limits", "only text questions take limits")
        fills = str(node.get("fills") or "")
        profile_fields = [f.name for f in dataclasses.fields(Profile) if f.name != "details"]
        valid = {f"profile.{f}" for f in profile_fields} | {f"contact.{f}" for f in CONTACT_FIELDS} | {"note", "details", ""}
        if fills not in valid:
            raise self.fail(f"{where}.fills", "expected profile.<field> (a field of the eligibility profile: "
                                              f"{', '.join(profile_fields)}), contact.person|email|phone, note or details")
        if kind in ("consent", "confirm", "yes_no") and fills:
            raise self.fail(f"{where}.fills", f"a {kind} answer steers the form and fills nothing")
        individual = node.get("individual")
        return Question(
            name=name,
            kind=kind,
            stage=stage,
            wording=self.wording(node, where, asks=kind not in ("consent", "confirm")),
            fills=fills,
            options=options,
            limits=(limits[0], limits[1]) if kind == "text" else (0, 0),
            skippable=node.get("skippable") is True,
            when=when,
            individual=self.wording(self.mapping(individual, f"{where}.individual"), f"{where}.individual", asks=True)
            if individual is not None else None,
        )


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

    question_nodes = reader.mapping(data.get("questions"), "questions")
    questions = {str(name): reader.question(str(name), node, rules) for name, node in question_nodes.items()}
    for kind in ("consent", "confirm"):
        if sum(q.kind == kind for q in questions.values()) != 1:
            raise reader.fail("questions", f"exactly one question of kind {kind} is needed")
    filled = [q.fills for q in questions.values() if q.fills not in ("", "details")]
    twice = sorted({f for f in filled if filled.count(f) > 1})
    if twice:
        raise reader.fail("questions", f"more than one question fills {', '.join(twice)}")

    keywords = reader.mapping(data.get("keywords"), "keywords")
    options: Dict[str, OptionWords] = {}
    for group in sorted({q.options for q in questions.values() if q.options}):
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

    field_words = {q.name: q.wording.words + (q.individual.words if q.individual else ()) for q in questions.values()}
    return ScreeningData(
        rules=rules,
        notice=notice,
        questions=questions,
        messages=reader.texts(data.get("messages"), "messages", MESSAGES),
        options=options,
        words={name: OptionWords({name: reader.words(keywords.get(name), f"keywords.{name}")}) for name in WORD_LISTS},
        field_words=OptionWords({k: v for k, v in field_words.items() if v}),
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
