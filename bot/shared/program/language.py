"""Which language a user wrote in: Chinese characters mean zh, English words mean en, anything else neither."""

from __future__ import annotations

import re
from typing import Iterable, Optional

# Chinese characters (CJK unified ideographs, extension A, compatibility ideographs).
CJK_CHARS = "\u3400-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{CJK_CHARS}]")


# Words that make a Latin-script message English. Anything else in Latin letters alone (a name, a company,
# an email address, "Germany", "OK") does not change the language of the conversation: a Chinese user who
# types their email address is still answered in Chinese.
ENGLISH_WORDS = frozenset("""
a about after all also am an and any are as at be been but by can could did do does dont don't for from get
give got had has have hello help hey hi how i i'm im in is it its just know let like looking may me more
my need no not now of on or our please pls plz send should so some sure tell thank thanks thx that the their
them then there they this to us want was we what whats what's when where which who why will with would
yes yeah yep you your bye goodbye great good fine nope cancel stop skip delete join apply wanna gonna
benefit benefits partner partners program programme category categories eligible eligibility requirement
requirements fee fees deadline application company business contact staff
""".split())
_EMAIL_OR_URL = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.I)
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def detect_language(text: Optional[str]) -> Optional[str]:
    """Return "zh", "en", or None when the text says nothing about it (empty, a button payload, digits, an
    email address or phone number, a name or other Latin words that are not English sentence words)."""
    if not text or text.startswith("/"):
        return None
    if _CJK.search(text):
        return "zh"
    words = _LATIN_WORD.findall(_EMAIL_OR_URL.sub(" ", text).lower())
    if any(w.replace("’", "'") in ENGLISH_WORDS for w in words):
        return "en"
    return None


def _whole_word(alternatives: str) -> str:
    # A Latin keyword as a whole word, plural s allowed; `alternatives` is one escaped word or several joined by |.
    return rf"(?<![a-z0-9])(?:{alternatives})s?(?![a-z0-9])"


def keyword_regex(word: str) -> str:
    """The regex for one lowercase keyword: a Latin one as a whole word (plural s allowed: "ai" must not
    match "said"), a Chinese one anywhere (Chinese has no word breaks). Match it on lowercased text."""
    return _whole_word(re.escape(word)) if word.isascii() else re.escape(word)


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str]:
    """One regex for lowercase keywords, matching what keyword_regex's alternatives would. The Latin words share
    one word-boundary check (one lookbehind per position instead of one per keyword: several times faster on
    the intake's assessment and the FAQ search)."""
    words = list(dict.fromkeys(keywords))
    latin = [re.escape(w) for w in words if w.isascii()]
    parts = [_whole_word("|".join(latin))] if latin else []
    parts += [re.escape(w) for w in words if not w.isascii()]
    return re.compile("|".join(parts)) if parts else re.compile(r"(?!)")
