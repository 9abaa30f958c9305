"""Program knowledge: the sourced facts, categories and wording, loaded from `data/`."""

from bot.program.knowledge import (
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
from bot.program.store import KnowledgeStore, default_store

__all__ = [
    "CATEGORY_KEYS",
    "LANGUAGES",
    "Category",
    "Fact",
    "Knowledge",
    "KnowledgeStore",
    "ProgramDataError",
    "Text",
    "UnknownTopic",
    "default_store",
    "load_knowledge",
]
