"""The screening conversation without Rasa: which question comes next, how an answer is read, what is shown.

Answers are a plain dict keyed by question (the form's slot names). Plain Python (3.10+): the action
server drives it, the tests call it directly. Wording and vocabulary come from screening.yml, options
and the judgement from eligibility.yml.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from bot.program.answers import Button, Reply
from bot.program.eligibility import Assessment, Profile, assess
from bot.program.parsing import (
    Invalid,
    clean_text,
    find_email,
    mentions_head_count,
    parse_email,
    parse_employees,
    parse_phone,
    parse_revenue,
)
from bot.program.screening_data import OPTION_QUESTIONS, ScreeningData

Answers = Mapping[str, Any]
BULLET = "• "
SEPARATORS = {"en": ", ", "zh": "、"}
# Questions whose answer goes into the eligibility profile (slot name -> Profile field).
PROFILE_FIELDS: Mapping[str, str] = {
    "org_name": "name", "org_type": "org_type", "country": "country", "credentials": "credentials",
    "employees": "employees", "revenue_band": "revenue_band", "industry": "industry", "field": "field",
    "achievement": "achievement", "promotion": "promotion", "guangzhou_presence": "guangzhou_presence",
    "contribution": "contribution",
}
# Free-text questions: (shortest, longest) answer, Chinese characters counting double.
TEXT_LIMITS: Mapping[str, Tuple[int, int]] = {
    "org_name": (2, 120), "country": (2, 80), "industry": (2, 200), "promotion": (2, 1000),
    "contribution": (2, 1000), "contact_person": (2, 120), "handoff_note": (2, 1000),
}
SKIPPABLE = ("phone", "contribution", "promotion")  # "skip" stores an empty answer
YES_NO = ("consent", "handoff_wanted")
# After a form ends, everything it asked is cleared (slot names, for the actions).
FORM_SLOTS: Tuple[str, ...] = tuple(PROFILE_FIELDS) + (
    "contact_person", "email", "phone", "consent", "confirmed", "handoff_wanted", "handoff_note",
)


def choice_payload(value: str) -> str:
    """The message a button sends: an `inform` with the option key, read back as `choice`."""
    return "/inform" + json.dumps({"choice": value}, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Reading:
    """What an answer was read as: a value, or why it could not be read."""

    value: Any = None
    invalid: Optional[Invalid] = None

    @property
    def ok(self) -> bool:
        return self.invalid is None


class Screening:
    def __init__(self, data: ScreeningData) -> None:
        self.data = data
        self.rules = data.rules
        self._size_types = {t for c in self.rules.categories for r in c.routes if r.sizes or r.equal_standing
                            for t in (r.org_types or c.org_types)}
        self._equal_types = {t for c in self.rules.categories for r in c.routes if r.equal_standing
                             for t in (r.org_types or c.org_types)}
        # Credentials that lead at least as high as the equal-standing route: with one, revenue decides nothing.
        ranks = [i for i, c in enumerate(self.rules.categories) if any(r.equal_standing for r in c.routes)]
        last = ranks[0] if ranks else -1
        self._outranking = {r.credential for c in self.rules.categories[: last + 1] for r in c.routes if r.credential}
        self._fit_credentials = {r.credential for c in self.rules.categories for r in c.routes
                                 if r.credential and r.needs_industry_fit}

    # --- which questions ----------------------------------------------------------------------
    def profile_questions(self, answers: Answers) -> List[str]:
        questions = ["org_type", "org_name", "country"]
        org_type = answers.get("org_type")
        if org_type == "individual":
            questions += ["field", "achievement", "promotion"]
        elif org_type is not None:
            questions.append("credentials")
            if org_type in self._size_types:
                questions.append("employees")
            if self._needs_revenue(answers):
                questions.append("revenue_band")
            credentials = set(answers.get("credentials") or ())
            if org_type in self.rules.industry_check or credentials & self._fit_credentials:
                questions.append("industry")
        return questions + ["guangzhou_presence", "contribution"]

    def _needs_revenue(self, answers: Answers) -> bool:
        country = str(answers.get("country") or "").strip().lower()
        if answers.get("org_type") not in self._equal_types or not country:
            return False
        if country in self.rules.equal_standing.domestic_countries:
            return False
        if answers.get("credentials") is None or set(answers["credentials"]) & self._outranking:
            return False
        employees = self.head_count(answers.get("employees"))
        minimum = self.rules.equal_standing.min_employees
        return employees is not None and (minimum is None or employees < minimum)

    def head_count(self, value: Any) -> Optional[int]:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return next((band.min for band in self.rules.employee_bands if band.key == value), None)

    def profile_complete(self, answers: Answers) -> bool:
        return all(answers.get(q) is not None for q in self.profile_questions(answers))

    def contact_questions(self, answers: Answers) -> List[str]:
        questions = [] if answers.get("org_type") == "individual" else ["contact_person"]
        questions += ["email", "phone", "consent"]
        return questions if answers.get("consent") is False else questions + ["confirmed"]

    def required(self, form: str, answers: Answers) -> List[str]:
        """Every question the form needs given the answers so far, in the order they are asked."""
        if form == "handoff_form":
            if answers.get("handoff_wanted") is not True:
                return ["handoff_wanted"]
            return ["handoff_wanted", "handoff_note"] + self.contact_questions(answers)
        questions = self.profile_questions(answers)
        if not self.profile_complete(answers) or not self.assessment(answers).qualified:
            return questions
        return questions + self.contact_questions(answers)

    def next_question(self, form: str, answers: Answers) -> Optional[str]:
        return next((q for q in self.required(form, answers) if answers.get(q) is None), None)

    # --- the judgement ------------------------------------------------------------------------
    def profile_data(self, answers: Answers) -> Dict[str, Any]:
        """The answers the assessment reads, keyed as the intake's `profile` expects."""
        asked = self.profile_questions(answers)
        return {PROFILE_FIELDS[q]: answers[q] for q in asked if answers.get(q) is not None}

    def assessment(self, answers: Answers) -> Assessment:
        return assess(Profile.from_dict(self.profile_data(answers), self.rules), self.rules)

    # --- reading answers ----------------------------------------------------------------------
    def credential_options(self, org_type: Optional[str]) -> List[str]:
        """The distinctions that matter for this type of organisation, in eligibility.yml's order, then "none"."""
        wanted = {r.credential for c in self.rules.categories if org_type in c.org_types for r in c.routes
                  if r.credential and (not r.org_types or org_type in r.org_types)}
        return [k for k in self.rules.options["credentials"] if k in wanted] + ["none"]

    def read(self, question: str, text: str, choice: Optional[str] = None, intent: Optional[str] = None) -> Reading:
        """Read `text` (or a button's `choice`) as the answer to `question`."""
        text = text or ""
        if question in SKIPPABLE and (choice == "skip" or self.data.says("skip", text)):
            return Reading("")
        if question == "employees":
            return self._employees(text, choice)
        if question == "revenue_band":
            return self._revenue(text, choice)
        if question == "credentials":
            return self._credentials(text, choice)
        if question in OPTION_QUESTIONS:
            options = self.rules.options[OPTION_QUESTIONS[question]]
            key = choice if choice in options else self.data.options[OPTION_QUESTIONS[question]].best(text)
            return Reading(key) if key else Reading(invalid=Invalid("invalid_choice"))
        if question in YES_NO:
            return self._yes_no(text, choice, intent)
        if question == "confirmed":
            return self._confirmation(text, choice, intent)
        if question == "email":
            value, invalid = parse_email(text)
            return Reading(value, invalid)
        if question == "phone":
            value, invalid = parse_phone(text)
            return Reading(value, invalid)
        low, high = TEXT_LIMITS[question]
        value, invalid = clean_text(text, low, high)
        if value is not None and (self.data.says("yes", value) or self.data.says("no", value)):
            # "no" is not a company name: ask again rather than store it
            value, invalid = None, Invalid("invalid_text", "a yes or no", (("min", low), ("max", high)))
        return Reading(value, invalid)

    def _employees(self, text: str, choice: Optional[str]) -> Reading:
        bands = [band.key for band in self.rules.employee_bands]
        if choice in bands:
            return Reading(choice)
        number = parse_employees(text)
        if number is not None:
            return Reading(number)
        band = self.data.options["employee_bands"].best(text)
        return Reading(band) if band else Reading(invalid=Invalid("invalid_employees"))

    def _revenue(self, text: str, choice: Optional[str]) -> Reading:
        if choice in self.rules.options["revenue_bands"]:
            return Reading(choice)
        named = self.data.options["revenue_bands"].exact(text)
        if named:
            return Reading(named)
        band, invalid = parse_revenue(text, self.data.revenue_band_min)
        return Reading(band, invalid)

    def _credentials(self, text: str, choice: Optional[str]) -> Reading:
        if choice in self.rules.options["credentials"]:
            return Reading([choice])
        found = self.data.options["credentials"].find(text)
        if not found:
            return Reading(invalid=Invalid("invalid_choice"))
        named = [k for k in found if k != "none"]
        return Reading(named or ["none"])

    def _yes_no(self, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        if choice in ("yes", "no"):
            return Reading(choice == "yes")
        if self.data.says("no", text):  # "no" first: "i don't agree" must not read as "agree"
            return Reading(False)
        if self.data.says("yes", text):
            return Reading(True)
        if intent in ("affirm", "deny"):
            return Reading(intent == "affirm")
        return Reading(invalid=Invalid("invalid_yes_no"))

    def _confirmation(self, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        if choice and (choice in ("send", "edit", "cancel") or choice.startswith("edit:")):
            return Reading(choice)
        for word in ("cancel", "edit", "send"):
            if self.data.says(word, text):
                return Reading(word)
        field = self.edit_target(text)
        if field and self.data.words["edit"].find(text):
            return Reading(f"edit:{field}")
        if intent in ("affirm", "deny"):
            return Reading("send" if intent == "affirm" else "edit")
        return Reading(invalid=Invalid("invalid_choice"))

    def edit_target(self, text: str) -> Optional[str]:
        """The question a message names ("change the email" -> email)."""
        field = self.data.field_words.best(text)
        return "org_name" if field == "person_name" else field

    def unasked_answers(self, text: str, asked: Optional[str], answers: Answers) -> Dict[str, Any]:
        """Answers given before their question or as a correction ("we are a Fortune 500 firm",
        "actually our email is ...", "actually 500 employees"). Only readings that cannot be mistaken."""
        found: Dict[str, Any] = {}
        questions = set(self.profile_questions(answers)) | {"email"}
        email = find_email(text)
        if email and asked != "email" and "email" in questions and email != answers.get("email"):
            found["email"] = email
        if "employees" in questions and asked != "employees" and mentions_head_count(text):
            number = parse_employees(text)
            if number is not None and number != answers.get("employees"):
                found["employees"] = number
        if "credentials" in questions and asked not in ("credentials", "confirmed"):
            named = [k for k in self.data.options["credentials"].find(text) if k != "none"]
            if named and answers.get("credentials") in (None, ["none"]):
                found["credentials"] = named
        return found

    # --- what is shown ------------------------------------------------------------------------
    def question_key(self, question: str, answers: Answers) -> str:
        return "person_name" if question == "org_name" and answers.get("org_type") == "individual" else question

    def prompt(self, question: str, answers: Answers, language: str) -> Reply:
        msg = self.data.message
        if question == "consent":
            return Reply(self.data.notice.render(language), self._yes_no_buttons(language))
        if question == "confirmed":
            text = "\n".join([msg("summary_intro", language), self.summary(answers, language),
                              msg("summary_question", language)])
            return Reply(text, (
                Button(msg("button_send", language), choice_payload("send")),
                Button(msg("button_edit", language), choice_payload("edit")),
                Button(msg("button_cancel", language), choice_payload("cancel")),
            ))
        text = self.data.questions[self.question_key(question, answers)].get(language)
        if question == "handoff_wanted":
            return Reply(text, self._yes_no_buttons(language))
        if question == "phone":
            return Reply(text, (Button(msg("button_skip", language), choice_payload("skip")),))
        keys: Sequence[str] = ()
        if question == "credentials":
            keys = self.credential_options(answers.get("org_type"))
        elif question == "employees":
            return Reply(text, tuple(Button(b.label.get(language), choice_payload(b.key)) for b in self.rules.employee_bands))
        elif question in OPTION_QUESTIONS:
            keys = list(self.rules.options[OPTION_QUESTIONS[question]])
        group = OPTION_QUESTIONS.get(question)
        buttons = tuple(Button(self.rules.label(group, k).get(language), choice_payload(k)) for k in keys) if group else ()
        return Reply(text, buttons)

    def _yes_no_buttons(self, language: str) -> Tuple[Button, ...]:
        return (Button(self.data.message("button_yes", language), choice_payload("yes")),
                Button(self.data.message("button_no", language), choice_payload("no")))

    def edit_prompt(self, answers: Answers, language: str, form: str) -> Reply:
        """Which answer to change: one button per answered question."""
        shown = [q for q in self.required(form, answers) if q not in ("consent", "confirmed", "handoff_wanted")
                 and answers.get(q) is not None]
        buttons = [Button(self.label(q, answers, language), choice_payload(f"edit:{q}")) for q in shown]
        buttons.append(Button(self.data.message("button_cancel", language), choice_payload("cancel")))
        return Reply(self.data.message("which_edit", language), tuple(buttons))

    def label(self, question: str, answers: Answers, language: str) -> str:
        return self.data.labels[self.question_key(question, answers)].get(language)

    def display(self, question: str, value: Any, language: str) -> str:
        """An answer as the summary shows it: option labels, not keys."""
        if value == "" or value is None:
            return self.data.message("skipped", language)
        if question == "employees" and not isinstance(value, int):
            return next(b.label.get(language) for b in self.rules.employee_bands if b.key == value)
        if question == "credentials":
            return SEPARATORS[language].join(self.rules.label("credentials", k).get(language) for k in value)
        if question in OPTION_QUESTIONS:
            return self.rules.label(OPTION_QUESTIONS[question], value).get(language)
        return str(value)

    def summary(self, answers: Answers, language: str) -> str:
        questions = [q for q in self.required("handoff_form" if answers.get("handoff_wanted") else "screening_form",
                                              answers)
                     if q not in ("consent", "confirmed", "handoff_wanted") and q in answers]
        colon = "：" if language == "zh" else ": "
        return "\n".join(f"{BULLET}{self.label(q, answers, language)}{colon}{self.display(q, answers.get(q), language)}"
                         for q in questions)

    def assessment_text(self, assessment: Assessment, language: str, contact: str) -> str:
        reasons = [r.get(language) for r in assessment.reasons]
        lines = [self.data.message("assessment_intro", language)] + [BULLET + r for r in reasons]
        if assessment.qualified:
            lines.append(self.data.message("qualified_next", language))
        else:
            lines.append(self.data.message("not_qualified", language, contact=contact))
        return "\n".join(lines)
