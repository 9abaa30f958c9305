"""Read-only program API: the same facts the assistant answers from, for pages and integrations."""

from __future__ import annotations

from typing import Any, Dict, List

from fastapi import APIRouter, HTTPException, Query

from bot.shared.program import default_store
from bot.shared.program.knowledge import Fact, Knowledge

router = APIRouter(prefix="/api/program", tags=["program"])


def _facts(knowledge: Knowledge, facts: tuple, lang: str) -> List[Dict[str, Any]]:
    return [
        {"id": f.id, "text": f.text.get(lang), "sources": [knowledge.sources[s].cite() for s in f.sources]}
        for f in facts
        if isinstance(f, Fact)
    ]


@router.get("")
def program(lang: str = Query("en", pattern="^(en|zh)$")) -> Dict[str, Any]:
    """The overview, the categories, and every other facts section (benefits, application, progress, ...)."""
    kb = default_store.current()
    return {
        "language": lang,
        "overview": _facts(kb, kb.section("overview"), lang),
        "categories": [
            {
                "key": c.key,
                "name": c.name.get(lang),
                "summary": c.summary.get(lang),
                "who": c.who.get(lang),
                "sources": [kb.sources[s].cite() for s in c.sources],
            }
            for c in kb.categories.values()
        ],
        **{section: _facts(kb, facts, lang) for section, facts in kb.facts.items() if section != "overview"},
    }


@router.get("/categories/{key}")
def category(key: str, lang: str = Query("en", pattern="^(en|zh)$")) -> Dict[str, Any]:
    kb = default_store.current()
    if key not in kb.categories:
        raise HTTPException(status_code=404, detail=f"unknown category {key!r}; one of {', '.join(kb.categories)}")
    c = kb.categories[key]
    return {"key": c.key, "name": c.name.get(lang), "summary": c.summary.get(lang), "who": c.who.get(lang)}
