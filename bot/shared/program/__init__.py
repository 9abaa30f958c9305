"""Program knowledge: the sourced facts, categories and wording, loaded from `data/`."""

from bot.shared.program.eligibility import Assessment, Profile, Rules, assess, default_rules, load_rules
from bot.shared.program.knowledge import (
    CATEGORY_KEYS,
    LANGUAGES,
    Category,
    Fact,
    Knowledge,
    ProgramDataError,
    Text,
    UnknownTopic,
    load_knowledge,
)
from bot.shared.program.store import KnowledgeStore, default_store

__all__ = [
    "CATEGORY_KEYS",
    "LANGUAGES",
    "Assessment",
    "Category",
    "Fact",
    "Knowledge",
    "KnowledgeStore",
    "Profile",
    "ProgramDataError",
    "Rules",
    "Text",
    "UnknownTopic",
    "assess",
    "default_rules",
    "default_store",
    "load_knowledge",
    "load_rules",
]
