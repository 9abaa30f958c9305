"""Compose the assistant's answers from program knowledge, in the user's language.

No Rasa here: the actions call these functions, and so can any other front end. Every fact in a
reply comes from `Knowledge`; this module only arranges and labels it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

from bot.shared.program.contact import StaffContact
from bot.shared.program.knowledge import (
    CATEGORY_FIELDS,
    TOPIC_INTENT,
    Category,
    Fact,
    Knowledge,
    Topic,
    TopicButton,
    TopicMessage,
    UnknownTopic,
)
from bot.shared.replies import Button, Reply

BULLET = "• "
# Intents offered when the assistant is unsure; the rest are never useful as a guess.
CLARIFY_SKIP = {"nlu_fallback", "out_of_scope", "inform", "affirm", "deny", "greet", "goodbye", "thank"}
CLARIFY_DEFAULTS = ("overview", "categories")  # topics offered when the guesses are too few
CAPABILITY_BUTTONS = ("overview", "categories", "/ask_recommendation", "/request_human")


@dataclass
class Answer:
    """What an action sends, plus what it remembers for the next turn."""

    replies: List[Reply] = field(default_factory=list)
    offer: Optional[str] = None
    topic: Optional[str] = None
    unknown: Tuple[str, ...] = ()
    fallback: bool = False  # the assistant did not understand: asked back (recorded for staff)


def intent_payload(intent: str) -> str:
    return f"/{intent}"


def topic_payload(topic: str, category: Optional[str] = None) -> str:
    """What a topic's button sends: the topics' intent with the topic (and category) as entities."""
    entities = {"topic": topic, **({"partner_category": category} if category else {})}
    return f"/{TOPIC_INTENT}{json.dumps(entities, separators=(',', ':'))}"  # compact: channels limit payload sizes


def entry_button(kb: Knowledge, entry: str, language: str) -> Button:
    """A way into the conversation: `/intent` (titled by messages.yml intent_labels) or a topic key."""
    if entry.startswith("/"):
        return Button(kb.intent_labels[entry[1:]].get(language), intent_payload(entry[1:]))
    return Button(kb.topics[entry].label.get(language), topic_payload(entry))


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

    def sources(self, keys: Sequence[str]) -> str:
        return self.msg("sources", sources=self.kb.cite(tuple(keys)))

    def yes_no(self) -> Tuple[Button, ...]:
        return (Button(self.msg("button_yes"), "/affirm"), Button(self.msg("button_no"), "/deny"))

    def category_lines(self) -> str:
        return self.bullets(
            self.msg("category_line", name=c.name.get(self.lang), summary=c.summary.get(self.lang))
            for c in self.kb.categories.values()
        )

    def topic_button(self, key: str, category: Optional[Category] = None) -> Button:
        """A button that asks topic `key` (about `category`, titled by the topic's category_button)."""
        topic = self.kb.topics[key]
        if category is not None and topic.category_button is not None:
            return Button(topic.category_button.format(self.lang, name=category.name.get(self.lang)),
                          topic_payload(key, category.key))
        return Button(topic.label.get(self.lang), topic_payload(key))

    def entry_button(self, entry: str) -> Button:
        return entry_button(self.kb, entry, self.lang)

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

    # --- topics (topics.yml) --------------------------------------------------------------
    def topic(self, key: str, category: Optional[str] = None) -> Answer:
        """The answer to a program topic, about one category when one is named and the topic has such answers."""
        topic = self.kb.topics[key]
        about = self.kb.categories[category] if category in self.kb.categories and topic.for_category else None
        messages = topic.for_category if about is not None else topic.answer
        replies = [self._topic_message(topic, message, about) for message in messages]
        return Answer(replies, offer=topic.offer, topic=key if topic.for_category else None)

    def _topic_message(self, topic: Topic, message: TopicMessage, about: Optional[Category]) -> Reply:
        values = {f: getattr(about, f).get(self.lang) for f in CATEGORY_FIELDS} if about is not None else {}
        lines = [message.text.format(self.lang, **values)]
        cited: List[str] = []
        if message.facts is not None:
            facts = self.kb.section(message.facts)
            lines.append(self.bullets(fact.text.get(self.lang) for fact in facts))
            cited += [s for fact in facts for s in fact.sources]
        if message.categories:
            lines.append(self.category_lines())
        if message.after is not None:
            lines.append(message.after.get(self.lang))
        if message.sources == "categories":
            cited += sorted({s for c in self.kb.categories.values() for s in c.sources})
        elif message.sources == "category" and about is not None:
            cited += list(about.sources)
        if cited:
            lines.append(self.sources(list(dict.fromkeys(cited))))
        if message.contact:
            lines.append(self.contact_text())
        return Reply("\n".join(lines), tuple(b for spec in message.buttons for b in self._buttons(topic, spec, about)))

    def _buttons(self, topic: Topic, spec: TopicButton, about: Optional[Category]) -> Tuple[Button, ...]:
        if spec.kind == "each_category":
            return tuple(self.topic_button(spec.target, c) for c in self.kb.categories.values())
        if spec.kind == "topic":
            return (self.topic_button(spec.target, about),)
        if spec.kind == "yes_no":
            return self.yes_no()
        return (self.entry_button(f"/{spec.target}"),)

    def retrieved(self, facts: Sequence[Fact], sure: bool = True) -> Answer:
        """The facts a question was matched with (the fact retrieval), with their sources; when the match is not
        sure, the staff contact too, in case the facts miss the point."""
        sources = list(dict.fromkeys(s for fact in facts for s in fact.sources))
        lines = [self.msg("retrieved"), self.bullets(f.text.get(self.lang) for f in facts), self.sources(sources)]
        if not sure:
            lines.append(self.msg("retrieved_unsure", contact=self.contact_text()))
        return Answer([Reply("\n".join(lines))])

    def about_category(self, key: str, topic: Optional[str]) -> Answer:
        """A follow-up naming a category ("what about city dreamers?") answers the topic last asked about categories."""
        if topic not in self.kb.topics or not self.kb.topics[topic].for_category:
            topic = self.kb.category_follow_up
        return self.topic(topic, key)

    # --- answers ------------------------------------------------------------------------
    def simple(self, key: str) -> Answer:
        return Answer([Reply(self.msg(key))])

    def capabilities(self) -> Answer:
        items = [item.strip() for item in self.msg("capabilities_list").split("|")]
        buttons = tuple(self.entry_button(e) for e in CAPABILITY_BUTTONS)
        return Answer([Reply(f"{self.msg('capabilities')}\n{self.bullets(items)}", buttons)])

    def recommendation(self) -> Answer:
        text = f"{self.msg('recommendation')}\n{self.category_lines()}\n{self.msg('recommendation_more')}"
        follow_up = self.kb.category_follow_up
        buttons = tuple(self.topic_button(follow_up, c) for c in self.kb.categories.values())
        return Answer([Reply(text, buttons)], topic=follow_up)

    def request_human(self) -> Answer:
        return Answer([Reply(self.contact_text())])

    def out_of_scope(self) -> Answer:
        return Answer([Reply(self.msg("out_of_scope"))] + self.capabilities().replies)

    def unknown(self, topics: Sequence[UnknownTopic]) -> Answer:
        sep = "、" if self.lang == "zh" else ", "
        labels = sep.join(t.label.get(self.lang) for t in topics)
        text = f"{self.msg('unknown', topic=labels)}\n{self.contact_text()}"
        return Answer([Reply(text)], unknown=tuple(t.key for t in topics))

    def clarify(self, ranking: Sequence[dict], topic_ranking: Sequence[dict] = ()) -> Answer:
        """Ask back with the likeliest topics and intents as buttons (a topic guess for the topics' intent)."""
        entries: List[str] = []
        topics = [r.get("name") for r in topic_ranking]
        for r in ranking:
            name = r.get("name")
            if name == TOPIC_INTENT:
                entries += [t for t in topics if t in self.kb.topics][:2]
            elif name in self.kb.intent_labels and name not in CLARIFY_SKIP:
                entries.append(f"/{name}")
        entries = list(dict.fromkeys(entries))[:3]
        if len(entries) < 2:
            entries += [t for t in CLARIFY_DEFAULTS if t not in entries]
        buttons = [self.entry_button(e) for e in entries]
        buttons.append(Button(self.msg("clarify_other"), intent_payload("request_human")))
        return Answer([Reply(self.msg("clarify"), tuple(buttons))], fallback=True)

    def offered(self, offer: Optional[str]) -> Answer:
        """Take up what the previous answer offered when the user says yes."""
        if offer in self.kb.topics:
            return self.topic(offer)
        if offer == "recommendation":
            return self.recommendation()
        if offer == "human":
            return self.request_human()
        return self.simple("affirm_default")


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
