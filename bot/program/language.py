"""Which language a user wrote in: Chinese characters mean zh, Latin letters mean en."""

from __future__ import annotations

import re
from typing import Optional

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
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
