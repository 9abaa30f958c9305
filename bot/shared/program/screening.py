"""The screening conversation without Rasa: which question comes next, how an answer is read, what is shown.

Answers are a plain dict keyed by question (the form's slot names). Plain Python (3.10+): the action
server drives it, the tests call it directly. Wording and vocabulary come from screening.yml, options
and the judgement from eligibility.yml.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from bot.shared.program.eligibility import Assessment, Profile, assess
from bot.shared.program.language import keyword_regex
from bot.shared.program.parsing import (
    Invalid,
    clean_text,
    find_email,
    mentions_head_count,
    parse_email,
    parse_employees,
    parse_phone,
    parse_revenue,
)
from bot.shared.program.screening_data import Question, ScreeningData, Wording, default_screening
from bot.shared.replies import Button, Reply

Answers = Mapping[str, Any]
BULLET = "• "
SEPARATORS = {"en": ", ", "zh": "、"}
# A person speaking of themselves: only then does a field or a standing say "an individual".
_FIRST_PERSON = re.compile(r"\b(i|i'm|im|i am|i've|my|me|myself)\b|我(?!们)|本人", re.I)
_OTHER_WORD = re.compile(r"\bother\b|\bothers\b|其他|别的", re.I)
# Choices the form's own buttons send, and the message that titles each button.
CHOICE_BUTTONS: Mapping[str, str] = {"yes": "button_yes", "no": "button_no", "send": "button_send",
                                     "edit": "button_edit", "cancel": "button_cancel", "skip": "button_skip"}
FORMS: Mapping[str, str] = {"screening_form": "profile", "handoff_form": "handoff"}  # form -> its own stage


def form_slots() -> Tuple[str, ...]:
    """Every question's slot: all of them are cleared when a form ends."""
    return tuple(default_screening().questions)


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
    """Every decision is made from the question's declaration in screening.yml (its kind, stage, condition,
    what it fills), never from its name."""

    def __init__(self, data: ScreeningData) -> None:
        self.data = data
        self.rules = data.rules
        self.questions = data.questions
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
        # The answers the conditions read, by what the question fills.
        self._slot = {q.profile_field: q.name for q in self.questions.values() if q.profile_field}
        self._consent = data.of_kind("consent")
        self._confirm = data.of_kind("confirm")
        self._wanted = next((q.name for q in self.questions.values() if q.stage == "handoff" and q.kind == "yes_no"), None)

    def answer(self, answers: Answers, field: str) -> Any:
        """The answer that fills profile field `field` (e.g. the organisation type)."""
        slot = self._slot.get(field)
        return answers.get(slot) if slot else None

    # --- which questions ----------------------------------------------------------------------
    def applies(self, question: Question, answers: Answers) -> bool:
        """Whether the question's `when` holds for the answers so far."""
        org_type = self.answer(answers, "org_type")
        when = question.when
        if when is None:
            return True
        if when == "individual":
            return org_type == "individual"
        if when == "organisation":
            return org_type != "individual"
        if when == "size_matters":
            return org_type in self._size_types
        if when == "revenue_matters":
            return self._needs_revenue(answers)
        if when == "industry_matters":
            credentials = set(self.answer(answers, "credentials") or ())
            return org_type in self.rules.industry_check or bool(credentials & self._fit_credentials)
        if when == "handoff_wanted":
            return self.handoff_wanted(answers) is True
        if when == "consented":
            return self.consent(answers) is not False
        raise ValueError(f"unknown condition {when!r}")

    def _stage(self, stage: str, answers: Answers) -> List[str]:
        return [q.name for q in self.questions.values() if q.stage == stage and self.applies(q, answers)]

    def profile_questions(self, answers: Answers) -> List[str]:
        org_type = self.answer(answers, "org_type")
        questions = self._stage("profile", answers)
        if org_type is None:  # only what does not depend on the type is known to be asked yet
            questions = [q for q in questions if self.questions[q].when is None]
        return questions

    def _needs_revenue(self, answers: Answers) -> bool:
        country = str(self.answer(answers, "country") or "").strip().lower()
        if self.answer(answers, "org_type") not in self._equal_types or not country:
            return False
        if country in self.rules.equal_standing.domestic_countries:
            return False
        credentials = self.answer(answers, "credentials")
        if credentials is None or set(credentials) & self._outranking:
            return False
        employees = self.head_count(self.answer(answers, "employees"))
        minimum = self.rules.equal_standing.min_employees
        return employees is not None and (minimum is None or employees < minimum)

    def head_count(self, value: Any) -> Optional[int]:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return next((band.min for band in self.rules.employee_bands if band.key == value), None)

    def profile_complete(self, answers: Answers) -> bool:
        return all(answers.get(q) is not None for q in self.profile_questions(answers))

    def contact_questions(self, answers: Answers) -> List[str]:
        return self._stage("contact", answers)

    def consent(self, answers: Answers) -> Optional[bool]:
        return answers.get(self._consent.name) if self._consent else None

    def confirmation(self, answers: Answers) -> Optional[str]:
        return answers.get(self._confirm.name) if self._confirm else None

    def handoff_wanted(self, answers: Answers) -> Optional[bool]:
        return answers.get(self._wanted) if self._wanted else None

    def required(self, form: str, answers: Answers) -> List[str]:
        """Every question the form needs given the answers so far, in the order they are asked."""
        if form == "handoff_form":
            questions = self._stage("handoff", answers)
            return questions + self.contact_questions(answers) if self.handoff_wanted(answers) is True else questions
        questions = self.profile_questions(answers)
        if not self.passes_on(answers):
            return questions
        return questions + self.contact_questions(answers)

    def passes_on(self, answers: Answers) -> bool:
        """Whether a complete profile goes to staff: it qualifies, or it is close enough for them to review."""
        return self.profile_complete(answers) and self.assessment(answers).outcome in ("qualified", "review")

    def next_question(self, form: str, answers: Answers) -> Optional[str]:
        return next((q for q in self.required(form, answers) if answers.get(q) is None), None)

    # --- the judgement and what is handed over --------------------------------------------------
    def profile_data(self, answers: Answers) -> Dict[str, Any]:
        """The answers the assessment reads, keyed as the intake's `profile` expects, and the `details`."""
        asked = [self.questions[q] for q in self.profile_questions(answers) if answers.get(q) is not None]
        data: Dict[str, Any] = {q.profile_field: answers[q.name] for q in asked if q.profile_field}
        details = {q.name: str(answers[q.name]) for q in self.questions.values()
                   if q.fills == "details" and answers.get(q.name) not in (None, "") and self.applies(q, answers)}
        if details:
            data["details"] = details
        return data

    def contact_data(self, answers: Answers) -> Dict[str, Any]:
        """The contact (person, email, phone); an individual's own name stands for the person."""
        contact: Dict[str, Any] = {f: None for f in ("person", "email", "phone")}
        for q in self.questions.values():
            if q.contact_field and answers.get(q.name) not in (None, ""):
                contact[q.contact_field] = answers[q.name]
        contact["person"] = contact["person"] or self.answer(answers, "name")
        return contact

    def note(self, answers: Answers) -> Optional[str]:
        return next((answers.get(q.name) for q in self.questions.values() if q.fills == "note"), None)

    def assessment(self, answers: Answers) -> Assessment:
        return assess(Profile.from_dict(self.profile_data(answers), self.rules), self.rules)

    # --- reading answers ----------------------------------------------------------------------
    def credential_options(self, org_type: Optional[str]) -> List[str]:
        """The distinctions that matter for this type of organisation, in eligibility.yml's order, then "none"."""
        wanted = {r.credential for c in self.rules.categories if org_type in c.org_types for r in c.routes
                  if r.credential and (not r.org_types or org_type in r.org_types)}
        return [k for k in self.rules.options["credentials"] if k in wanted] + ["none"]

    def read(self, question: str, text: str, choice: Optional[str] = None, intent: Optional[str] = None) -> Reading:
        """Read `text` (or a button's `choice`) as the answer to `question`, by the question's kind."""
        q = self.questions[question]
        text = text or ""
        if q.skippable and (choice == "skip" or self.data.says_briefly("skip", text)):
            return Reading("")
        return self._readers[q.kind](self, q, text, choice, intent)

    def _choice(self, q: Question, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        assert q.options is not None
        key = choice if choice in self.rules.options[q.options] else self.data.options[q.options].best(text)
        if key is None and "other" in self.rules.options[q.options] and self.data.says("skip", text):
            key = "other"  # "skip" where none of the options fits: that is what "other" is for
        return Reading(key) if key else Reading(invalid=Invalid("invalid_choice"))

    def _choices(self, q: Question, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        assert q.options is not None
        if choice in self.rules.options[q.options]:
            return Reading([choice])
        found = self.data.options[q.options].find(text)
        if not found:
            return Reading(invalid=Invalid("invalid_choice"))
        named = [k for k in found if k != "none"]
        return Reading(named or ["none"])

    def _number(self, q: Question, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        bands = [band.key for band in self.rules.employee_bands]
        if choice in bands:
            return Reading(choice)
        number = parse_employees(text)
        if number is not None:
            return Reading(number)
        band = self.data.options["employee_bands"].best(text)
        return Reading(band) if band else Reading(invalid=Invalid("invalid_employees"))

    def _amount(self, q: Question, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        assert q.options is not None
        if choice in self.rules.options[q.options]:
            return Reading(choice)
        named = self.data.options[q.options].exact(text)
        if named:
            return Reading(named)
        band, invalid = parse_revenue(text, self.data.revenue_band_min)
        return Reading(band, invalid)

    def _text(self, q: Question, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        low, high = q.limits
        value, invalid = clean_text(text, low, high)
        if value is not None and (self.data.says("yes", value) or self.data.says("no", value)):
            # "no" is not a company name: ask again rather than store it
            value, invalid = None, Invalid("invalid_text", "a yes or no", (("min", low), ("max", high)))
        return Reading(value, invalid)

    def _email(self, q: Question, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        value, invalid = parse_email(text)
        return Reading(value, invalid)

    def _phone(self, q: Question, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        value, invalid = parse_phone(text)
        return Reading(value, invalid)

    def _yes_no(self, q: Question, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        if choice in ("yes", "no"):
            return Reading(choice == "yes")
        if self.data.says("no", text):  # "no" first: "i don't agree" must not read as "agree"
            return Reading(False)
        if self.data.says("yes", text):
            return Reading(True)
        if intent in ("affirm", "deny"):
            return Reading(intent == "affirm")
        return Reading(invalid=Invalid("invalid_yes_no"))

    def _confirmation(self, q: Question, text: str, choice: Optional[str], intent: Optional[str]) -> Reading:
        if choice and (choice in ("send", "edit", "cancel") or choice.startswith("edit:")):
            return Reading(choice)
        for word in ("cancel", "edit", "send"):
            if self.data.says(word, text):
                return Reading(word)
        field = self.edit_target(text)
        if field and self.data.words["edit"].find(text):
            return Reading(f"edit:{field}")
        for word in ("cancel", "edit", "send"):  # "确认提交", "please don't send it", "yes send it"
            if self.data.says_briefly(word, text):
                return Reading(word)
        if intent in ("affirm", "deny"):
            return Reading("send" if intent == "affirm" else "edit")
        return Reading(invalid=Invalid("invalid_choice"))

    _readers: Mapping[str, Callable[..., Reading]] = {
        "choice": _choice, "choices": _choices, "number": _number, "amount": _amount, "text": _text,
        "email": _email, "phone": _phone, "yes_no": _yes_no, "consent": _yes_no, "confirm": _confirmation,
    }

    def answers_no(self, question: str) -> bool:
        """Whether "no" or "stop" can be this question's answer (yes/no, consent, the summary, a phone to skip)."""
        return self.questions[question].kind in ("yes_no", "consent", "confirm", "phone")

    def edit_target(self, text: str) -> Optional[str]:
        """The question a message names ("change the email" -> email)."""
        return self.data.field_words.best(text)

    def unasked_answers(self, text: str, asked: Optional[str], answers: Answers) -> Dict[str, Any]:
        """Answers given before their question or as a correction ("we are a Fortune 500 firm",
        "actually our email is ...", "actually 500 employees"). Only readings that cannot be mistaken."""
        found: Dict[str, Any] = {}
        at_summary = asked is not None and self.questions[asked].kind == "confirm"
        email = find_email(text)
        for q in self.questions.values():
            if q.name == asked:
                continue
            if q.kind == "email" and email and email != answers.get(q.name):
                found[q.name] = email
        for q in (self.questions[name] for name in self.profile_questions(answers) if name != asked):
            if q.kind == "number" and mentions_head_count(text):
                number = parse_employees(text)
                if number is not None and number != answers.get(q.name):
                    found[q.name] = number
            elif q.kind == "choices" and q.options and not at_summary:
                named = [k for k in self.data.options[q.options].find(text) if k != "none"]
                if named and answers.get(q.name) in (None, ["none"]):
                    found[q.name] = named
        return found

    # --- a self-description ------------------------------------------------------------------
    def describe(self, text: str) -> Dict[str, Any]:
        """What a message says about who the user is ("we're a 200-person 'little giant' manufacturer", "I'm an
        investor"), read with the form's own vocabularies: only readings that cannot be mistaken, for the
        profile questions they answer. The screening starts with these filled in (shown, correctable)."""
        text = text or ""
        if not text.strip() or text.startswith("/"):
            return {}
        found: Dict[str, Any] = {}
        mentions_guangzhou = bool(re.search(r"guangzhou|canton|广州|穗", text, re.I))
        for q in self.questions.values():
            if q.stage != "profile" or not q.profile_field:
                continue
            if q.kind == "choice" and q.options:
                if q.profile_field == "guangzhou_presence" and not mentions_guangzhou:
                    continue  # "we plan to join" says nothing about Guangzhou
                # "Other" as a type only from what names one (a federation, a non-profit), never the word "other"
                said = _OTHER_WORD.sub(" ", text) if q.options == "org_types" else text
                keys = self.data.options[q.options].find(said)
                if keys:
                    found[q.name] = keys[0]
            elif q.kind == "choices" and q.options:
                named = [k for k in self.data.options[q.options].find(text) if k != "none"]
                if named:
                    found[q.name] = named
            elif q.kind == "number" and mentions_head_count(text):
                number = parse_employees(text)
                if number is not None:
                    found[q.name] = number
            elif q.kind == "text" and q.profile_field == "industry":
                words = [w for i in self.rules.industries for w in i.keywords if i.pattern.search(text.lower())
                         and re.search(keyword_regex(w), text.lower())]
                if words:
                    found[q.name] = ", ".join(dict.fromkeys(words))
        return self._consistent(found, text)

    def _consistent(self, found: Dict[str, Any], text: str) -> Dict[str, Any]:
        """Infer the type from what implies it (a distinction, a field of an individual) and keep only the answers
        that type is asked."""
        slot = {field: name for field, name in self._slot.items()}
        org_slot = slot.get("org_type")
        if org_slot and org_slot not in found:
            credentials = found.get(slot.get("credentials", ""), [])
            if credentials:
                found[org_slot] = self._type_of(credentials[0])
            elif (slot.get("field") in found or slot.get("achievement") in found) and _FIRST_PERSON.search(text):
                found[org_slot] = "individual"  # "I'm a marathon champion"; not "an international federation"
        if not org_slot or org_slot not in found:
            return {}  # who they are is the first thing the rules need
        asked = set(self.profile_questions(found))
        return {k: v for k, v in found.items() if k in asked}

    def _type_of(self, credential: str) -> str:
        """The organisation type a distinction implies: its route's type, else its category's first one."""
        for category in self.rules.categories:
            for route in category.routes:
                if route.credential == credential:
                    return (route.org_types or category.org_types)[0]
        return "enterprise"

    def noted(self, answers: Answers, language: str) -> str:
        """The answers as one line ("Type: Enterprise; Employees: 200"), for showing what was understood."""
        colon, sep = ("：", "；") if language == "zh" else (": ", "; ")
        return sep.join(f"{self.label(q, answers, language)}{colon}{self.display(q, answers[q], language)}"
                        for q in self.questions if answers.get(q) not in (None, ""))

    def indication(self, answers: Answers, language: str, contact: str) -> Optional[Reply]:
        """Which category fits what the user said, with the rules' reasons, and the offer to confirm it with the
        screening; None when they said too little (no type)."""
        if self.answer(answers, "org_type") is None:
            return None
        assessment = self.assessment(answers)
        msg = self.data.message
        reasons = [r.get(language) for r in assessment.reasons]
        lines = [msg("indication_intro", language, noted=self.noted(answers, language))]
        if assessment.category and not self.profile_complete(answers):  # a score on half the answers would mislead
            name = self.rules.category(assessment.category).name.get(language)
            lines += [BULLET + msg("indication_likely", language, category=name), BULLET + reasons[1]]
        elif assessment.category or assessment.review:
            lines += [BULLET + r for r in reasons[:2]]
        elif self.profile_complete(answers):  # everything asked and nothing fits: say why, per definition
            lines += [BULLET + r for r in reasons[:-1]]
        else:  # nothing fits what is known so far: most likely something is not known yet (size, standing, ...)
            lines.append(BULLET + msg("indication_more", language))
        lines.append(msg("indication_offer", language))
        buttons = (Button(msg("button_check", language), "/apply"), Button(msg("button_no", language), "/deny"))
        return Reply("\n".join(lines), buttons)

    # --- what is shown ------------------------------------------------------------------------
    def wording(self, question: str, answers: Answers) -> Wording:
        q = self.questions[question]
        return q.individual if q.individual and self.answer(answers, "org_type") == "individual" else q.wording

    def prompt(self, question: str, answers: Answers, language: str) -> Reply:
        msg = self.data.message
        q = self.questions[question]
        if q.kind == "consent":
            return Reply(self.data.notice.render(language), self._yes_no_buttons(language))
        if q.kind == "confirm":
            text = "\n".join([msg("summary_intro", language), self.summary(answers, language),
                              msg("summary_question", language)])
            return Reply(text, (
                Button(msg("button_send", language), choice_payload("send")),
                Button(msg("button_edit", language), choice_payload("edit")),
                Button(msg("button_cancel", language), choice_payload("cancel")),
            ))
        ask = self.wording(question, answers).ask
        text = ask.get(language) if ask else ""
        if q.kind == "yes_no":
            return Reply(text, self._yes_no_buttons(language))
        if q.kind == "phone" and q.skippable:
            return Reply(text, (Button(msg("button_skip", language), choice_payload("skip")),))
        if q.kind == "number":
            return Reply(text, tuple(Button(b.label.get(language), choice_payload(b.key)) for b in self.rules.employee_bands))
        if q.options is None:
            return Reply(text)
        keys: Sequence[str] = list(self.rules.options[q.options])
        if q.kind == "choices" and q.options == "credentials":  # only the distinctions that matter for the type
            keys = self.credential_options(self.answer(answers, "org_type"))
        return Reply(text, tuple(Button(self.rules.label(q.options, k).get(language), choice_payload(k)) for k in keys))

    def _yes_no_buttons(self, language: str) -> Tuple[Button, ...]:
        return (Button(self.data.message("button_yes", language), choice_payload("yes")),
                Button(self.data.message("button_no", language), choice_payload("no")))

    def _shown(self, form: str, answers: Answers) -> List[str]:
        """The answered questions the summary lists (those with a label)."""
        return [q for q in self.required(form, answers) if self.wording(q, answers).label is not None and q in answers]

    def edit_prompt(self, answers: Answers, language: str, form: str) -> Reply:
        """Which answer to change: one button per answered question."""
        shown = [q for q in self._shown(form, answers) if answers.get(q) is not None]
        buttons = [Button(self.label(q, answers, language), choice_payload(f"edit:{q}")) for q in shown]
        buttons.append(Button(self.data.message("button_cancel", language), choice_payload("cancel")))
        return Reply(self.data.message("which_edit", language), tuple(buttons))

    def label(self, question: str, answers: Answers, language: str) -> str:
        label = self.wording(question, answers).label
        return label.get(language) if label else question

    def display(self, question: str, value: Any, language: str) -> str:
        """An answer as the summary shows it: option labels, not keys."""
        q = self.questions[question]
        if value == "" or value is None:
            return self.data.message("skipped", language)
        if q.kind == "number" and not isinstance(value, int):
            return next(b.label.get(language) for b in self.rules.employee_bands if b.key == value)
        if q.kind == "choices" and q.options:
            return SEPARATORS[language].join(self.rules.label(q.options, k).get(language) for k in value)
        if q.options:
            return self.rules.label(q.options, value).get(language)
        return str(value)

    def choice_label(self, choice: str, language: str) -> Optional[str]:
        """The title of the button that sends `choice` (an option, an employee band, yes/no/send/...)."""
        for options in self.rules.options.values():
            if choice in options:
                return options[choice].get(language)
        for band in self.rules.employee_bands:
            if band.key == choice:
                return band.label.get(language)
        if choice in CHOICE_BUTTONS:
            return self.data.message(CHOICE_BUTTONS[choice], language)
        return None

    def summary(self, answers: Answers, language: str) -> str:
        form = "handoff_form" if self.handoff_wanted(answers) else "screening_form"
        colon = "：" if language == "zh" else ": "
        return "\n".join(f"{BULLET}{self.label(q, answers, language)}{colon}{self.display(q, answers.get(q), language)}"
                         for q in self._shown(form, answers))

    def assessment_text(self, assessment: Assessment, language: str, contact: str) -> str:
        reasons = [r.get(language) for r in assessment.reasons]
        lines = [self.data.message("assessment_intro", language)] + [BULLET + r for r in reasons]
        if assessment.qualified:
            lines.append(self.data.message("qualified_next", language))
        elif assessment.review:
            lines.append(self.data.message("review_next", language))
        else:
            lines.append(self.data.message("not_qualified", language, contact=contact))
        return "\n".join(lines)
