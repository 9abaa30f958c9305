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

from bot.program.language import _CJK, keyword_pattern

DATA_DIR = Path(__file__).resolve().parent / "data"
LANGUAGES: Tuple[str, ...] = ("en", "zh")
# The entity values the NLU model and the domain are built on; the data must define exactly these.
CATEGORY_KEYS: Tuple[str, ...] = (
    "strategic_partner",
    "super_partner",
    "city_dreamer",
    "city_ambassador",
)
DATA_FILES: Tuple[str, ...] = (
    "sources.yml",
    "overview.yml",
    "categories.yml",
    "benefits.yml",
    "process.yml",
    "progress.yml",
    "guangzhou.yml",
    "unknowns.yml",
    "messages.yml",
)


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
class Knowledge:
    sources: Mapping[str, Source]
    overview: Tuple[Fact, ...]
    categories: Mapping[str, Category]
    benefits: Tuple[Fact, ...]
    application: Tuple[Fact, ...]
    progress: Tuple[Fact, ...]
    guangzhou: Tuple[Fact, ...]
    unknowns: Tuple[UnknownTopic, ...]
    messages: Mapping[str, Text]
    intent_labels: Mapping[str, Text] = field(default_factory=dict)

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
            facts.append(
                Fact(
                    id=fact_id,
                    text=self.text({k: node[k] for k in LANGUAGES if k in node}, f"{where}.{fact_id}"),
                    sources=self.source_keys(node.get("sources"), f"{where}.{fact_id}", sources),
                )
            )
        return tuple(facts)

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

    def facts(filename: str, key: str) -> Tuple[Fact, ...]:
        return _Reader(filename).facts(_section(raw[filename], filename, key), key, sources)

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

    return Knowledge(
        sources=sources,
        overview=facts("overview.yml", "overview"),
        categories=categories,
        benefits=facts("benefits.yml", "benefits"),
        application=facts("process.yml", "application"),
        progress=facts("progress.yml", "progress"),
        guangzhou=facts("guangzhou.yml", "guangzhou"),
        unknowns=unknowns,
        messages=messages,
        intent_labels=labels,
    )


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
