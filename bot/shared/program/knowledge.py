"""Typed, validated program knowledge read from the YAML files in `data/`.

Plain Python (3.10+) with PyYAML only: Rasa's action server and the FastAPI app both import it.
A broken file raises ProgramDataError naming the file and the place in it.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from bot.shared.config import env_str
from bot.shared.program.language import _CJK, keyword_pattern

# PROGRAM_DATA_DIR points every process (web app, action server, checks) at another copy of the data, e.g. a
# test's scratch copy that the staff console may edit; empty: the data shipped beside this file.
DATA_DIR = Path(env_str("PROGRAM_DATA_DIR") or Path(__file__).resolve().parent / "data")
LANGUAGES: Tuple[str, ...] = ("en", "zh")
# The entity values the NLU model and the domain are built on; the data must define exactly these.
CATEGORY_KEYS: Tuple[str, ...] = (
    "strategic_partner",
    "super_partner",
    "city_dreamer",
    "city_ambassador",
)
DATA_FILES: Tuple[str, ...] = ("sources.yml", "categories.yml", "unknowns.yml", "messages.yml", "topics.yml")
# Facts come in sections, one file each (facts/<section>.yml): found by listing the folder, never named in code.
FACTS_DIR = "facts"
TOPIC_INTENT = "ask_program"  # the NLU retrieval intent of every topic: ask_program/<topic key>
# What a "yes" may take up besides a topic: a recommendation, the staff contact, or the screening itself.
OFFERS = ("recommendation", "human", "screening")
CATEGORY_FIELDS = ("name", "who", "summary")  # placeholders a for_category text may use


class ProgramDataError(ValueError):
    """A program data file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Text:
    """The same text in every supported language."""

    en: str
    zh: str

    def get(self, language: str) -> str:
        return self.zh if language == "zh" else self.en

    def format(self, language: str, **values: Any) -> str:
        return self.get(language).format(**values)


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    date: str

    def cite(self) -> str:
        return f"{self.title} ({self.date})" if self.date else self.title


@dataclass(frozen=True)
class Fact:
    id: str
    text: Text
    sources: Tuple[str, ...]
    # How people ask for it, per language: what the fact retrieval matches questions against.
    asked: Mapping[str, Tuple[str, ...]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Category:
    key: str
    name: Text
    singular: Text
    summary: Text
    who: Text
    synonyms: Tuple[str, ...]
    short_forms: Tuple[str, ...]
    sources: Tuple[str, ...]


@dataclass(frozen=True)
class UnknownTopic:
    key: str
    label: Text
    keywords: Tuple[str, ...]
    pattern: re.Pattern[str] = field(compare=False)
    unless_configured: Optional[str] = None


@dataclass(frozen=True)
class TopicButton:
    kind: str  # "each_category" | "topic" | "yes_no" | "intent"
    target: str = ""  # the topic key (each_category, topic) or the intent name (intent)


@dataclass(frozen=True)
class TopicMessage:
    text: Text
    facts: Optional[str] = None  # a facts section, shown as bullets with their sources
    categories: bool = False  # a line per category: "{name}: {summary}"
    after: Optional[Text] = None
    sources: Optional[str] = None  # "categories" or "category": cite the categories' sources
    contact: bool = False  # end with the staff contact line
    buttons: Tuple[TopicButton, ...] = ()


@dataclass(frozen=True)
class Topic:
    key: str
    label: Text
    category_button: Optional[Text]
    answer: Tuple[TopicMessage, ...]
    for_category: Tuple[TopicMessage, ...]
    offer: Optional[str]
    interrupts_screening: bool
    checks_unknowns: bool
    indicates: bool = False  # a question that also says who the user is gets which category fits them
    retrieves: bool = False  # a broad topic: the facts that best match the question answer it, when some do


@dataclass(frozen=True)
class Knowledge:
    sources: Mapping[str, Source]
    facts: Mapping[str, Tuple[Fact, ...]]  # section (the file name in facts/) -> facts, in file order
    section_titles: Mapping[str, Text]
    categories: Mapping[str, Category]
    topics: Mapping[str, Topic]
    unknowns: Tuple[UnknownTopic, ...]
    messages: Mapping[str, Text]
    intent_labels: Mapping[str, Text] = field(default_factory=dict)
    category_follow_up: str = ""  # the topic a bare category name answers when no topic was asked before

    def section(self, name: str) -> Tuple[Fact, ...]:
        try:
            return self.facts[name]
        except KeyError:
            raise ProgramDataError(f"facts/: no section {name!r}") from None

    def message(self, key: str) -> Text:
        try:
            return self.messages[key]
        except KeyError:
            raise ProgramDataError(f"messages.yml: no message {key!r}") from None

    def cite(self, source_keys: Tuple[str, ...]) -> str:
        return "; ".join(self.sources[key].cite() for key in source_keys)


class _Reader:
    """Walks one parsed file and reports problems with their location."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, where: str, problem: str) -> ProgramDataError:
        return ProgramDataError(f"{self.filename}: {where}: {problem}")

    def mapping(self, value: Any, where: str) -> Dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "expected a mapping")
        return value

    def items(self, value: Any, where: str) -> List[Any]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a non-empty list")
        return value

    def string(self, value: Any, where: str, allow_empty: bool = False) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.fail(where, "expected a non-empty string")
        return " ".join(value.split()) if value else value

    def strings(self, value: Any, where: str) -> Tuple[str, ...]:
        return tuple(self.string(v, f"{where}[{i}]") for i, v in enumerate(self.items(value, where)))

    def text(self, value: Any, where: str) -> Text:
        node = self.mapping(value, where)
        missing = [lang for lang in LANGUAGES if lang not in node]
        if missing:
            raise self.fail(where, f"missing language(s) {', '.join(missing)}")
        en = self.string(node["en"], f"{where}.en")
        zh = self.string(node["zh"], f"{where}.zh")
        if not _CJK.search(zh) and _CJK.search(en) is None and not _placeholders_only(zh):
            raise self.fail(f"{where}.zh", "the Chinese text has no Chinese characters")
        if _placeholders(en) != _placeholders(zh):
            raise self.fail(where, "en and zh use different {placeholders}")
        return Text(en=en, zh=zh)

    def facts(self, value: Any, where: str, sources: Mapping[str, Source]) -> Tuple[Fact, ...]:
        facts = []
        seen = set()
        for i, item in enumerate(self.items(value, where)):
            node = self.mapping(item, f"{where}[{i}]")
            fact_id = self.string(node.get("id"), f"{where}[{i}].id")
            if fact_id in seen:
                raise self.fail(f"{where}[{i}]", f"duplicate id {fact_id!r}")
            seen.add(fact_id)
            unknown = sorted(set(node) - {"id", "sources", "asked", *LANGUAGES})
            if unknown:
                raise self.fail(f"{where}.{fact_id}", f"unknown key(s) {', '.join(unknown)}")
            facts.append(
                Fact(
                    id=fact_id,
                    text=self.text({k: node[k] for k in LANGUAGES if k in node}, f"{where}.{fact_id}"),
                    sources=self.source_keys(node.get("sources"), f"{where}.{fact_id}", sources),
                    asked=self.asked(node.get("asked"), f"{where}.{fact_id}.asked"),
                )
            )
        return tuple(facts)

    def asked(self, value: Any, where: str) -> Dict[str, Tuple[str, ...]]:
        if value is None:
            return {}
        node = self.mapping(value, where)
        unknown = sorted(str(k) for k in node if k not in LANGUAGES)
        if unknown:
            raise self.fail(where, f"unknown language(s) {', '.join(unknown)}")
        return {lang: self.strings(node[lang], f"{where}.{lang}") for lang in LANGUAGES if lang in node}

    def source_keys(self, value: Any, where: str, sources: Mapping[str, Source]) -> Tuple[str, ...]:
        keys = self.strings(value, f"{where}.sources")
        unknown = [key for key in keys if key not in sources]
        if unknown:
            raise self.fail(f"{where}.sources", f"unknown source(s) {', '.join(unknown)}")
        return keys


def _placeholders(text: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _placeholders_only(text: str) -> bool:
    return not re.sub(r"\{[^}]*\}|[\W\d_]", "", text)


def read_yaml(path: Path) -> Tuple[Dict[str, Any], bytes]:
    """A data file's top-level mapping and its raw bytes (for versioning what judged a lead)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProgramDataError(f"{path.name}: file is missing from {path.parent}") from None
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise ProgramDataError(f"{path.name}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ProgramDataError(f"{path.name}: expected a mapping at the top level")
    return data, raw


def _section(data: Dict[str, Any], filename: str, key: str) -> Any:
    if key not in data:
        raise ProgramDataError(f"{filename}: missing top-level key {key!r}")
    return data[key]


def fact_files(data_dir: Path = DATA_DIR) -> List[Path]:
    return sorted((Path(data_dir) / FACTS_DIR).glob("*.yml"))


def data_files(data_dir: Path = DATA_DIR) -> List[Path]:
    """Every file the knowledge is read from (the store watches them for edits)."""
    return [Path(data_dir) / name for name in DATA_FILES] + fact_files(data_dir)


def load_knowledge(data_dir: Path = DATA_DIR) -> Knowledge:
    """Read and validate every data file; raise ProgramDataError on the first problem."""
    raw = {name: read_yaml(Path(data_dir) / name)[0] for name in DATA_FILES}

    reader = _Reader("sources.yml")
    sources: Dict[str, Source] = {}
    for key, node in reader.mapping(_section(raw["sources.yml"], "sources.yml", "sources"), "sources").items():
        node = reader.mapping(node, f"sources.{key}")
        sources[str(key)] = Source(
            key=str(key),
            title=reader.string(node.get("title"), f"sources.{key}.title"),
            date=reader.string(node.get("date", ""), f"sources.{key}.date", allow_empty=True),
        )

    facts: Dict[str, Tuple[Fact, ...]] = {}
    titles: Dict[str, Text] = {}
    seen_ids: Dict[str, str] = {}
    for path in fact_files(data_dir):
        filename = f"{FACTS_DIR}/{path.name}"
        section = path.stem
        content = read_yaml(path)[0]
        titles[section] = _Reader(filename).text(_section(content, filename, "title"), "title")
        loaded = _Reader(filename).facts(_section(content, filename, "facts"), section, sources)
        for fact in loaded:
            if fact.id in seen_ids:
                raise ProgramDataError(f"{filename}: fact id {fact.id!r} is also in facts/{seen_ids[fact.id]}.yml")
            seen_ids[fact.id] = section
        facts[section] = loaded
    if not facts:
        raise ProgramDataError(f"{FACTS_DIR}/: no facts files in {Path(data_dir) / FACTS_DIR}")

    categories = _load_categories(raw["categories.yml"], sources)
    unknowns = _load_unknowns(raw["unknowns.yml"])

    reader = _Reader("messages.yml")
    messages = {
        str(key): reader.text(node, f"messages.{key}")
        for key, node in reader.mapping(_section(raw["messages.yml"], "messages.yml", "messages"), "messages").items()
    }
    labels = {
        str(key): reader.text(node, f"intent_labels.{key}")
        for key, node in reader.mapping(raw["messages.yml"].get("intent_labels", {}), "intent_labels").items()
    }

    topics = _load_topics(raw["topics.yml"], facts, labels)
    follow_up = raw["topics.yml"].get("category_follow_up")
    if follow_up not in topics or not topics[follow_up].for_category:
        raise ProgramDataError("topics.yml: category_follow_up must name a topic that has for_category")
    return Knowledge(
        sources=sources,
        facts=facts,
        section_titles=titles,
        categories=categories,
        topics=topics,
        unknowns=unknowns,
        messages=messages,
        intent_labels=labels,
        category_follow_up=follow_up,
    )


def _load_topics(data: Dict[str, Any], facts: Mapping[str, Tuple[Fact, ...]], labels: Mapping[str, Text]) -> Dict[str, Topic]:
    reader = _Reader("topics.yml")
    nodes = reader.mapping(_section(data, "topics.yml", "topics"), "topics")
    keys = [str(k) for k in nodes]
    topics: Dict[str, Topic] = {}
    for key in keys:
        where = f"topics.{key}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise reader.fail(where, "a topic key is lowercase letters, digits and _ (it is part of an NLU intent)")
        node = reader.mapping(nodes[key], where)
        unknown = sorted(set(node) - {"label", "category_button", "answer", "for_category", "offer",
                                      "interrupts_screening", "checks_unknowns", "indicates", "retrieves"})
        if unknown:
            raise reader.fail(where, f"unknown key(s) {', '.join(unknown)}")
        offer = node.get("offer")
        if offer is not None and offer not in keys and offer not in OFFERS:
            raise reader.fail(f"{where}.offer", f"{offer!r} is neither a topic nor one of {', '.join(OFFERS)}")
        topics[key] = Topic(
            key=key,
            label=reader.text(node.get("label"), f"{where}.label"),
            category_button=reader.text(node["category_button"], f"{where}.category_button")
            if node.get("category_button") is not None else None,
            answer=_topic_messages(reader, node.get("answer"), f"{where}.answer", keys, facts, labels, False, offer),
            for_category=_topic_messages(reader, node.get("for_category"), f"{where}.for_category", keys, facts, labels,
                                         True, offer) if node.get("for_category") is not None else (),
            offer=offer,
            interrupts_screening=_flag(reader, node, "interrupts_screening", where),
            checks_unknowns=_flag(reader, node, "checks_unknowns", where),
            indicates=_flag(reader, node, "indicates", where) if "indicates" in node else False,
            retrieves=_flag(reader, node, "retrieves", where) if "retrieves" in node else False,
        )
    for topic in topics.values():  # buttons that ask a topic about one category need its button title
        for message in topic.answer + topic.for_category:
            for button in message.buttons:
                target = topics.get(button.target)
                if button.kind == "each_category" and target is not None and not (target.for_category and target.category_button):
                    raise reader.fail(f"topics.{topic.key}", f"each_category: {button.target} needs that topic's "
                                                              "for_category and category_button")
                if (button.kind == "topic" and target is not None and message in topic.for_category
                        and target.category_button is None):
                    raise reader.fail(f"topics.{topic.key}", f"a button to {button.target} for a category needs that "
                                                              "topic's category_button")
    return topics


def _flag(reader: _Reader, node: Dict[str, Any], name: str, where: str) -> bool:
    value = node.get(name)
    if not isinstance(value, bool):
        raise reader.fail(f"{where}.{name}", "expected true or false")
    return value


def _topic_messages(reader: _Reader, value: Any, where: str, topics: List[str], facts: Mapping[str, Tuple[Fact, ...]],
                    labels: Mapping[str, Text], for_category: bool, offer: Optional[str]) -> Tuple[TopicMessage, ...]:
    messages = []
    for i, item in enumerate(reader.items(value, where)):
        at = f"{where}[{i}]"
        node = reader.mapping(item, at)
        unknown = sorted(set(node) - {"text", "facts", "categories", "after", "sources", "contact", "buttons"})
        if unknown:
            raise reader.fail(at, f"unknown key(s) {', '.join(unknown)}")
        text = reader.text(node.get("text"), f"{at}.text")
        allowed = set(CATEGORY_FIELDS) if for_category else set()
        if not _placeholders(text.en) <= allowed:
            raise reader.fail(f"{at}.text", f"placeholders allowed here: {', '.join(sorted(allowed)) or 'none'}")
        section = node.get("facts")
        if section is not None and section not in facts:
            raise reader.fail(f"{at}.facts", f"no facts section {section!r} (files in facts/: {', '.join(facts)})")
        sources = node.get("sources")
        if sources not in (None, "categories", "category") or (sources == "category" and not for_category):
            raise reader.fail(f"{at}.sources", "expected `categories`, or `category` in for_category")
        buttons = []
        for j, raw in enumerate(node.get("buttons") or []):
            buttons.append(_topic_button(reader, raw, f"{at}.buttons[{j}]", topics, labels, offer))
        messages.append(TopicMessage(
            text=text,
            facts=section,
            categories=node.get("categories") is True,
            after=reader.text(node["after"], f"{at}.after") if node.get("after") is not None else None,
            sources=sources,
            contact=node.get("contact") is True,
            buttons=tuple(buttons),
        ))
    return tuple(messages)


def _topic_button(reader: _Reader, raw: Any, where: str, topics: List[str], labels: Mapping[str, Text],
                  offer: Optional[str]) -> TopicButton:
    topic_key = where.split(".")[1]
    if raw == "each_category":
        return TopicButton("each_category", topic_key)
    if isinstance(raw, dict) and list(raw) == ["each_category"] and raw["each_category"] in topics:
        return TopicButton("each_category", str(raw["each_category"]))
    if raw == "yes_no":
        if offer is None:
            raise reader.fail(where, "yes_no buttons need the topic's `offer` (what a yes takes up)")
        return TopicButton("yes_no")
    if isinstance(raw, str) and raw.startswith("/"):
        if raw[1:] not in labels:
            raise reader.fail(where, f"{raw}: no title for it in messages.yml intent_labels")
        return TopicButton("intent", raw[1:])
    if isinstance(raw, str) and raw in topics:
        return TopicButton("topic", raw)
    raise reader.fail(where, f"{raw!r}: expected each_category, each_category: <topic>, yes_no, /<intent> or a topic key")


def _load_categories(data: Dict[str, Any], sources: Mapping[str, Source]) -> Dict[str, Category]:
    reader = _Reader("categories.yml")
    categories: Dict[str, Category] = {}
    owner: Dict[str, str] = {}
    for i, item in enumerate(reader.items(_section(data, "categories.yml", "categories"), "categories")):
        node = reader.mapping(item, f"categories[{i}]")
        key = reader.string(node.get("key"), f"categories[{i}].key")
        if key not in CATEGORY_KEYS:
            raise reader.fail(f"categories[{i}].key", f"{key!r} is not one of {', '.join(CATEGORY_KEYS)}")
        if key in categories:
            raise reader.fail(f"categories[{i}].key", f"duplicate category {key!r}")
        where = f"categories.{key}"
        synonyms = tuple(s.lower() for s in reader.strings(node.get("synonyms"), f"{where}.synonyms"))
        short_forms = tuple(
            s.lower() for s in reader.strings(node.get("short_forms") or ["-"], f"{where}.short_forms") if s != "-"
        )
        for surface in synonyms + short_forms:
            if owner.get(surface, key) != key:
                raise reader.fail(where, f"{surface!r} is also a synonym of {owner[surface]}")
            owner[surface] = key
        categories[key] = Category(
            key=key,
            name=reader.text(node.get("name"), f"{where}.name"),
            singular=reader.text(node.get("singular"), f"{where}.singular"),
            summary=reader.text(node.get("summary"), f"{where}.summary"),
            who=reader.text(node.get("who"), f"{where}.who"),
            synonyms=synonyms,
            short_forms=short_forms,
            sources=reader.source_keys(node.get("sources"), where, sources),
        )
    missing = [key for key in CATEGORY_KEYS if key not in categories]
    if missing:
        raise ProgramDataError(f"categories.yml: missing categor(ies) {', '.join(missing)}")
    return {key: categories[key] for key in CATEGORY_KEYS}


def _load_unknowns(data: Dict[str, Any]) -> Tuple[UnknownTopic, ...]:
    reader = _Reader("unknowns.yml")
    topics = []
    for i, item in enumerate(reader.items(_section(data, "unknowns.yml", "unknowns"), "unknowns")):
        node = reader.mapping(item, f"unknowns[{i}]")
        key = reader.string(node.get("key"), f"unknowns[{i}].key")
        unless = node.get("unless_configured")
        keywords = tuple(k.lower() for k in reader.strings(node.get("keywords"), f"unknowns.{key}.keywords"))
        topics.append(
            UnknownTopic(
                key=key,
                label=reader.text(node.get("label"), f"unknowns.{key}.label"),
                keywords=keywords,
                pattern=keyword_pattern(keywords),
                unless_configured=reader.string(unless, f"unknowns.{key}.unless_configured") if unless else None,
            )
        )
    return tuple(topics)
