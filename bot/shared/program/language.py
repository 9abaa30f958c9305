"""Which language a user wrote in: Chinese characters mean zh, Latin letters mean en."""

from __future__ import annotations

import re
from typing import Iterable, Optional

# Chinese characters (CJK unified ideographs, extension A, compatibility ideographs).
CJK_CHARS = "\u3400-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{CJK_CHARS}]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: Optional[str]) -> Optional[str]:
    """Return "zh", "en", or None when the text says nothing (empty, digits, a button payload)."""
    if not text or text.startswith("/"):
        return None
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(text):
        return "en"
    return None


def keyword_regex(word: str) -> str:
    """The regex for one lowercase keyword: a Latin one as a whole word (plural s allowed: "ai" must not
    match "said"), a Chinese one anywhere (Chinese has no word breaks). Match it on lowercased text."""
    return rf"(?<![a-z0-9]){re.escape(word)}s?(?![a-z0-9])" if word.isascii() else re.escape(word)


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str]:
    """One regex for lowercase keywords (see keyword_regex)."""
    return re.compile("|".join(keyword_regex(w) for w in keywords))
