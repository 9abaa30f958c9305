"""Compose the assistant's answers from program knowledge, in the user's language.

No Rasa here: the actions call these functions, and so can any other front end. Every fact in a
reply comes from `Knowledge`; this module only arranges and labels it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

from bot.program.contact import StaffContact
from bot.program.knowledge import Fact, Knowledge, UnknownTopic

BULLET = "• "
# Intents offered when the assistant is unsure; the rest are never useful as a guess.
CLARIFY_SKIP = {"nlu_fallback", "out_of_scope", "inform", "affirm", "deny", "greet", "goodbye", "thank"}


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: Tuple[Button, ...] = ()


@dataclass
class Answer:
    """What an action sends, plus what it remembers for the next turn."""

    replies: List[Reply] = field(default_factory=list)
    offer: Optional[str] = None
    topic: Optional[str] = None
    unknown: Tuple[str, ...] = ()


def intent_payload(intent: str, category: Optional[str] = None) -> str:
    if category is None:
        return f"/{intent}"
    return f"/{intent}{json.dumps({'partner_category': category})}"


class Composer:
    def __init__(self, knowledge: Knowledge, language: str, contact: StaffContact) -> None:
        self.kb = knowledge
        self.lang = language
        self.contact = contact

    # --- pieces -------------------------------------------------------------------------
    def msg(self, key: str, **values: str) -> str:
        return self.kb.message(key).format(self.lang, **values)

    def bullets(self, lines: Iterable[str]) -> str:
        return "\n".join(BULLET + line for line in lines)

    def facts(self, intro: str, facts: Sequence[Fact]) -> str:
        sources: List[str] = []
        for fact in facts:
            sources.extend(s for s in fact.sources if s not in sources)
        body = self.bullets(fact.text.get(self.lang) for fact in facts)
        return f"{intro}\n{body}\n{self.sources(sources)}"

    def sources(self, keys: Sequence[str]) -> str:
        return self.msg("sources", sources=self.kb.cite(tuple(keys)))

    def category_buttons(self, template: str, intent: str) -> Tuple[Button, ...]:
        return tuple(
            Button(self.msg(template, name=c.name.get(self.lang)), intent_payload(intent, c.key))
            for c in self.kb.categories.values()
        )

    def yes_no(self) -> Tuple[Button, ...]:
        return (Button(self.msg("button_yes"), "/affirm"), Button(self.msg("button_no"), "/deny"))

    def category_lines(self) -> str:
        return self.bullets(
            self.msg("category_line", name=c.name.get(self.lang), summary=c.summary.get(self.lang))
            for c in self.kb.categories.values()
        )

    def contact_details(self) -> str:
        """"email …; phone …" from configuration, or the message that none is configured."""
        if not self.contact.configured:
            return self.msg("contact_missing")
        sep = "；" if self.lang == "zh" else "; "
        return sep.join(
            self.msg(f"contact_{name}", value=getattr(self.contact, name))
            for name in ("email", "phone", "url")
            if self.contact.has(name)
        )

    def contact_text(self) -> str:
        if not self.contact.configured:
            return self.msg("contact_missing")
        return self.msg("contact", details=self.contact_details())

    # --- answers ------------------------------------------------------------------------
    def simple(self, key: str) -> Answer:
        return Answer([Reply(self.msg(key))])

    def capabilities(self) -> Answer:
        items = [item.strip() for item in self.msg("capabilities_list").split("|")]
        buttons = tuple(
            Button(self.kb.intent_labels[i].get(self.lang), intent_payload(i))
            for i in ("ask_program_overview", "ask_categories", "ask_recommendation", "request_human")
        )
        return Answer([Reply(f"{self.msg('capabilities')}\n{self.bullets(items)}", buttons)])

    def overview(self) -> Answer:
        text = self.facts(self.msg("overview_intro"), self.kb.overview)
        return Answer([Reply(text), Reply(self.msg("overview_offer"), self.yes_no())], offer="categories")

    def categories(self) -> Answer:
        keys = sorted({s for c in self.kb.categories.values() for s in c.sources})
        text = f"{self.msg('categories_intro')}\n{self.category_lines()}\n{self.sources(keys)}"
        return Answer(
            [
                Reply(text, self.category_buttons("button_category_info", "ask_category_info")),
                Reply(self.msg("categories_offer"), self.yes_no()),
            ],
            offer="recommendation",
        )

    def category_info(self, key: Optional[str]) -> Answer:
        if key is None:
            return Answer(
                [
                    Reply(
                        f"{self.msg('categories_intro')}\n{self.category_lines()}\n{self.msg('choose_category')}",
                        self.category_buttons("button_category_info", "ask_category_info"),
                    )
                ],
                topic="info",
            )
        category = self.kb.categories[key]
        described = self.msg("category_info", name=category.name.get(self.lang), who=category.who.get(self.lang))
        text = f"{described}\n{self.sources(category.sources)}"
        buttons = (
            Button(self.msg("button_category_benefits", name=category.name.get(self.lang)), intent_payload("ask_benefits", key)),
            Button(self.kb.intent_labels["ask_recommendation"].get(self.lang), intent_payload("ask_recommendation")),
        )
        return Answer([Reply(text, buttons)], topic="info")

    def eligibility(self, key: Optional[str]) -> Answer:
        if key is None:
            text = f"{self.msg('eligibility_intro')}\n{self.category_lines()}\n{self.msg('eligibility_more')}"
            return Answer(
                [Reply(text, self.category_buttons("button_category_eligibility", "ask_eligibility"))], topic="eligibility"
            )
        category = self.kb.categories[key]
        described = self.msg("eligibility_one", name=category.name.get(self.lang), who=category.who.get(self.lang))
        text = f"{described}\n{self.sources(category.sources)}"
        button = Button(
            self.msg("button_category_benefits", name=category.name.get(self.lang)), intent_payload("ask_benefits", key)
        )
        return Answer([Reply(text, (button,))], topic="eligibility")

    def benefits(self, key: Optional[str]) -> Answer:
        if key is None:
            text = self.facts(self.msg("benefits_intro"), self.kb.benefits)
            return Answer(
                [
                    Reply(text),
                    Reply(self.msg("benefits_more"), self.category_buttons("button_category_benefits", "ask_benefits")),
                ],
                topic="benefits",
            )
        category = self.kb.categories[key]
        text = self.facts(self.msg("benefits_category", name=category.name.get(self.lang)), self.kb.benefits)
        button = Button(
            self.msg("button_category_eligibility", name=category.name.get(self.lang)), intent_payload("ask_eligibility", key)
        )
        return Answer([Reply(text, (button,))], topic="benefits")

    def about_category(self, key: str, topic: Optional[str]) -> Answer:
        """A follow-up naming a category answers the question last asked about categories."""
        if topic == "benefits":
            return self.benefits(key)
        if topic == "eligibility":
            return self.eligibility(key)
        return self.category_info(key)

    def recommendation(self) -> Answer:
        text = f"{self.msg('recommendation')}\n{self.category_lines()}\n{self.msg('recommendation_more')}"
        return Answer([Reply(text, self.category_buttons("button_category_info", "ask_category_info"))], topic="info")

    def application_process(self) -> Answer:
        text = self.facts(self.msg("application_intro"), self.kb.application)
        next_step = f"{self.msg('application_next')}\n{self.contact_text()}"
        button = Button(self.kb.intent_labels["ask_recommendation"].get(self.lang), intent_payload("ask_recommendation"))
        return Answer([Reply(text), Reply(next_step, (button,))])

    def progress(self) -> Answer:
        return Answer([Reply(self.facts(self.msg("progress_intro"), self.kb.progress))])

    def guangzhou(self) -> Answer:
        return Answer([Reply(self.facts(self.msg("guangzhou_intro"), self.kb.guangzhou))])

    def request_human(self) -> Answer:
        return Answer([Reply(self.contact_text())])

    def out_of_scope(self) -> Answer:
        return Answer([Reply(self.msg("out_of_scope"))] + self.capabilities().replies)

    def unknown(self, topics: Sequence[UnknownTopic]) -> Answer:
        sep = "、" if self.lang == "zh" else ", "
        labels = sep.join(t.label.get(self.lang) for t in topics)
        text = f"{self.msg('unknown', topic=labels)}\n{self.contact_text()}"
        return Answer([Reply(text)], unknown=tuple(t.key for t in topics))

    def clarify(self, ranking: Sequence[dict]) -> Answer:
        intents = [r.get("name") for r in ranking if r.get("name") in self.kb.intent_labels and r.get("name") not in CLARIFY_SKIP]
        buttons = [Button(self.kb.intent_labels[i].get(self.lang), intent_payload(i)) for i in intents[:3]]
        if len(buttons) < 2:
            for fallback in ("ask_program_overview", "ask_categories"):
                if all(b.payload != intent_payload(fallback) for b in buttons):
                    buttons.append(Button(self.kb.intent_labels[fallback].get(self.lang), intent_payload(fallback)))
        buttons.append(Button(self.msg("clarify_other"), intent_payload("request_human")))
        return Answer([Reply(self.msg("clarify"), tuple(buttons))])

    def offered(self, offer: Optional[str]) -> Answer:
        """Take up what the previous answer offered when the user says yes."""
        builders = {
            "categories": self.categories,
            "recommendation": self.recommendation,
            "human": self.request_human,
        }
        builder = builders.get(offer or "")
        return builder() if builder else self.simple("affirm_default")


def unknown_topics(knowledge: Knowledge, text: str, contact: StaffContact) -> List[UnknownTopic]:
    """The not-known topics a question touches (deadline, fees, ...), per unknowns.yml."""
    lowered = (text or "").lower()
    if not lowered or lowered.startswith("/"):
        return []
    return [
        topic
        for topic in knowledge.unknowns
        if not (topic.unless_configured and contact.has(topic.unless_configured)) and topic.pattern.search(lowered)
    ]
