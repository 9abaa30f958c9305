"""Map what users write ("city dreamrs", "梦想家") to the four category keys.

Shared by the NLU pipeline (which normalises the partner_category entity) and by the actions.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from bot.shared.program.knowledge import Knowledge
from bot.shared.program.language import _CJK

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_FUZZY_CUTOFF = 0.84
# A short form ("super", "战略") names a category only next to words like these; alone it is an
# ordinary word ("super useful"), unless it is the whole message ("super?" answering a question).
_CATEGORY_CONTEXT = re.compile(r"partner|categor|tier|type|level|kind|class|one|伙伴|合伙|类|档|级|种")


@dataclass(frozen=True)
class CategoryMention:
    key: str
    start: int
    end: int
    text: str


def _clean(text: str) -> str:
    return " ".join(_WORD.findall(text.lower())) if not _CJK.search(text) else re.sub(r"\s+", "", text.lower())


class CategoryMatcher:
    """Exact, then fuzzy, matching of category names built from categories.yml."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.synonyms: Dict[str, str] = {}
        self.short_forms: Dict[str, str] = {}
        for category in knowledge.categories.values():
            for surface in category.synonyms:
                self.synonyms[_clean(surface)] = category.key
            for surface in category.short_forms:
                self.short_forms[_clean(surface)] = category.key
        self._latin = sorted((s for s in self.synonyms if not _CJK.search(s)), key=len, reverse=True)
        self._cjk = sorted((s for s in self.synonyms if _CJK.search(s)), key=len, reverse=True)

    def normalize(self, span: str, text: Optional[str] = None) -> Optional[str]:
        """The category a span (already marked as a category) names, or None.

        With the whole message as `text`, a short form counts only in a category context.
        """
        cleaned = _clean(span)
        if not cleaned:
            return None
        if cleaned in self.synonyms:
            return self.synonyms[cleaned]
        if cleaned in self.short_forms:
            return self.short_forms[cleaned] if self._short_form_fits(span, text) else None
        if _CJK.search(cleaned):
            for surface in self._cjk:
                if surface in cleaned:
                    return self.synonyms[surface]
            return None
        for candidate in (cleaned, cleaned.rstrip("s")):
            match = difflib.get_close_matches(candidate, list(self.synonyms), n=1, cutoff=_FUZZY_CUTOFF)
            if match:
                return self.synonyms[match[0]]
        return None

    @staticmethod
    def _short_form_fits(span: str, text: Optional[str]) -> bool:
        if text is None:
            return True
        rest = text.lower().replace(span.lower(), " ", 1)
        return _CATEGORY_CONTEXT.search(rest) is not None or not _WORD.search(rest) and not _CJK.search(rest)

    def _fuzzy(self, phrase: str, size: int) -> Optional[str]:
        if len(phrase) < 7:
            return None
        same_size = [s for s in self._latin if s.count(" ") == size - 1]
        match = difflib.get_close_matches(phrase, same_size, n=1, cutoff=_FUZZY_CUTOFF + 0.04)
        return self.synonyms[match[0]] if match else None

    def find(self, text: str) -> List[CategoryMention]:
        """Every category named in free text, left to right, without overlaps."""
        lowered = text.lower()
        taken: List[Tuple[int, int]] = []
        found: List[CategoryMention] = []

        def free(start: int, end: int) -> bool:
            return all(end <= s or start >= e for s, e in taken)

        for surface in self._cjk:
            for match in re.finditer(re.escape(surface), lowered):
                if free(match.start(), match.end()):
                    taken.append((match.start(), match.end()))
                    found.append(
                        CategoryMention(self.synonyms[surface], match.start(), match.end(), text[match.start() : match.end()])
                    )

        words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(lowered)]
        # Exact names first, everywhere; only then typos, so "a citydreamer" is not a fuzzy
        # match for "city dreamer" when "citydreamer" is written exactly.
        for fuzzy in (False, True):
            for size in (4, 3, 2, 1):
                for i in range(len(words) - size + 1):
                    start, end = words[i][0], words[i + size - 1][1]
                    if not free(start, end):
                        continue
                    phrase = " ".join(w for _, _, w in words[i : i + size])
                    key = self._fuzzy(phrase, size) if fuzzy else self.synonyms.get(phrase)
                    if key:
                        taken.append((start, end))
                        found.append(CategoryMention(key, start, end, text[start:end]))
        return sorted(found, key=lambda m: m.start)
