"""Reading free-text answers: options named in words, head counts, RMB amounts, emails and phone numbers.

Plain Python (3.10+): used by the screening form on the action server and testable on both interpreters.
Emails are checked by `email-validator` and phone numbers by `phonenumbers`, not by patterns of our own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Mapping, Optional, Tuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.shared.intake import DEFAULT_PHONE_REGION, InvalidPhone, normalise_phone
from bot.shared.program.language import CJK_CHARS, keyword_regex

MAX_EMPLOYEES = 5_000_000

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_EN_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "few": 3, "several": 3, "dozen": 12,
}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "k": 1000, "million": 1_000_000, "m": 1_000_000, "mn": 1_000_000,
              "billion": 1_000_000_000, "bn": 1_000_000_000, "b": 1_000_000_000}
# A number in digits (1,200 / 1.5 / 300) with an optional scale word or Chinese unit right after it.
_AMOUNT = re.compile(
    r"(\d+(?:[.,]\d+)*)\s*(千万|百万|万|亿|千|百|k|m|mn|million|bn|b|billion|thousand|hundred)?(?![a-z])", re.I
)
# Chinese numerals start with a digit or 十 and never right after an Arabic digit ("3千" is read above).
_CN_NUMBER = re.compile(r"(?<![\d.])[零〇一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*")
_RANGE = re.compile(r"(\d[\d.,]*\s*(?:千|万|k)?)\s*(?:-|–|~|to|到|至)\s*\d")
# An ASCII local part (so "邮箱是bob@x.com" yields bob@x.com); the domain may be internationalised.
_EMAIL_CANDIDATE = re.compile(r"[A-Za-z0-9._%+!#$&'*/=?^`{|}~-]+@[^\s,;，；<>()\[\]\"'。！？、]+")
_EN_WORD_NUMBER = re.compile(
    r"\b((?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|few|several|dozen)(?:[\s-]+(?:hundred|thousand|million|dozen))+)\b",
    re.I,
)
EMPLOYEE_UNITS = re.compile(r"\b(people|persons?|employees|staff|workers|headcount|team members|fte)\b|人|员工|名", re.I)
_FOREIGN_CURRENCY = re.compile(r"\$|€|£|\b(usd|eur|euros?|dollars?|gbp|pounds?|jpy|yen|hkd)\b|美元|欧元|英镑|日元|港币", re.I)


@dataclass(frozen=True)
class Invalid:
    """Why an answer could not be read: a message key in screening.yml and a detail for English readers."""

    reason: str
    detail: str = ""
    values: Tuple[Tuple[str, int], ...] = ()  # placeholders of the message ({min}, {max})


def normalise(text: str) -> str:
    """Lowercase, single spaces, full-width punctuation and digits folded to ASCII."""
    folded = (text or "").translate({0xFF01 + i: 0x21 + i for i in range(94)}).replace("\u3000", " ")
    return re.sub(r"\s+", " ", folded).strip().lower()


_CONTRAST = re.compile(r"\b(?:but|however|though)\b|但是|但|不过|可是")


def _split_contrast(text: str) -> Tuple[str, str]:
    """The text before and after its last "but" ("" after when there is none)."""
    folded = normalise(text)
    parts = _CONTRAST.split(folded)
    return (folded, "") if len(parts) == 1 else (" ".join(parts[:-1]), parts[-1])


class OptionWords:
    """The options of one question, found in free text by their button labels and keywords."""

    def __init__(self, words: Mapping[str, Iterable[str]]) -> None:
        pairs = [(normalise(w), key) for key, ws in words.items() for w in ws if normalise(w)]
        pairs.sort(key=lambda pair: -len(pair[0]))  # longest first: "law firm" before "firm"
        self._pairs: List[Tuple[str, str]] = pairs
        # One group per keyword, so a match says which option it names.
        self._pattern = re.compile("|".join(f"({keyword_regex(w)})" for w, _ in pairs)) if pairs else None

    def find(self, text: str) -> List[str]:
        """Every option named in `text`, in order of appearance, without repeats (overlaps: the longest wins)."""
        if self._pattern is None:
            return []
        found: List[str] = []
        for match in self._pattern.finditer(normalise(text)):
            key = self._pairs[match.lastindex - 1][1] if match.lastindex else None
            if key is not None and key not in found:
                found.append(key)
        return found

    def matches(self, text: str) -> List[Tuple[str, str]]:
        """Each (keyword, option) named in `text`, in order of appearance."""
        if self._pattern is None:
            return []
        return [self._pairs[m.lastindex - 1] for m in self._pattern.finditer(normalise(text)) if m.lastindex]

    def exact(self, text: str) -> Optional[str]:
        """The option whose label or keyword is the whole answer ("Enterprise", "否")."""
        wanted = normalise(text).strip(" .!?。！？")
        return next((key for word, key in self._pairs if word == wanted), None)

    def best(self, text: str) -> Optional[str]:
        """The option the answer names; with several, the one named by the longest keyword ("yes, we plan to
        come" is planning, not a bare "yes"); ties go to the first named."""
        exact = self.exact(text)
        if exact or self._pattern is None:
            return exact
        _, tail = _split_contrast(text)
        if tail and self.find(tail):  # "no, but we plan to come": what follows the "but" is the answer
            text = tail
        matches = [(match.end() - match.start(), -match.start(), self._pairs[match.lastindex - 1][1])
                   for match in self._pattern.finditer(normalise(text)) if match.lastindex]
        return max(matches)[2] if matches else None


def _digits_number(text: str) -> float:
    text = text.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", text) else text.replace(",", ".")
    return float(text)


def chinese_number(text: str) -> Optional[int]:
    """三百 → 300, 两千五百 → 2500, 一万二 → 12000 (a trailing digit after a unit counts one unit lower)."""
    if not text or not _CN_NUMBER.fullmatch(text):
        return None
    total, section, digit, last_unit = 0, 0, None, 1
    for ch in text:
        if ch in "零〇":
            last_unit = 10  # 三千零五: the digit after a zero is a plain unit, not hundreds
            continue
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
            continue
        unit = _CN_UNITS[ch]
        if unit >= 10_000:
            section = (section + (digit or 0)) * unit if (section or digit) else unit
            total += section
            section, digit, last_unit = 0, None, unit
        else:
            section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
    if digit is not None:
        section += digit * (last_unit // 10 if last_unit >= 10 and total + section > 0 else 1)
    return total + section


def _english_number(words: str) -> Optional[int]:
    value, current = 0, 0
    for word in re.split(r"[\s-]+", words.lower()):
        if word in _EN_NUMBERS:
            current += _EN_NUMBERS[word]
        elif word in _EN_SCALES:
            current = max(current, 1) * _EN_SCALES[word]
            if _EN_SCALES[word] >= 1000:
                value, current = value + current, 0
    return value + current or None


def amounts(text: str) -> List[float]:
    """Every amount written in `text`, scale words applied: "3千" → 3000, "1.2万" → 12000, "2 billion" → 2e9."""
    lowered = normalise(text)
    found: List[float] = []
    for match in _AMOUNT.finditer(lowered):
        number, unit = match.group(1), (match.group(2) or "").lower()
        value = _digits_number(number)
        if unit == "千万":
            value *= 10_000_000
        elif unit == "百万":
            value *= 1_000_000
        elif unit:
            value *= _CN_UNITS.get(unit) or _EN_SCALES[unit]
        found.append(value)
    found += [float(n) for n in (chinese_number(m.group(0)) for m in _CN_NUMBER.finditer(lowered)) if n]
    found += [float(n) for n in (_english_number(m.group(1)) for m in _EN_WORD_NUMBER.finditer(lowered)) if n]
    return found


def parse_employees(text: str) -> Optional[int]:
    """A head count in `text` ("about 300 people", "3千人", "1.2万", "two hundred"); the lower end of a range."""
    ranged = _RANGE.search(normalise(text))
    values = [v for v in amounts(ranged.group(1) if ranged else text) if 0 <= v <= MAX_EMPLOYEES]
    # "300 people in 2 offices": the head count is the largest number.
    return int(max(values)) if values else None


def mentions_head_count(text: str) -> bool:
    """True when a number comes with a word for people ("500 employees", "300人"): safe to read unasked."""
    return bool(EMPLOYEE_UNITS.search(text or "")) and parse_employees(text) is not None


def parse_revenue(text: str, band_minimums: Mapping[str, int]) -> Tuple[Optional[str], Optional[Invalid]]:
    """The revenue band of an RMB amount in `text`; amounts in another currency are refused (no exchange rates)."""
    if _FOREIGN_CURRENCY.search(text or ""):
        return None, Invalid("invalid_revenue", "not in RMB")
    values = amounts(text)
    if not values:
        return None, Invalid("invalid_revenue", "no amount")
    value = values[0]
    band = None
    for key, minimum in sorted(band_minimums.items(), key=lambda item: item[1]):
        if value >= minimum:
            band = key
    return band, None


def parse_email(text: str) -> Tuple[Optional[str], Optional[Invalid]]:
    """The address in `text`, normalised by email-validator (no DNS lookup: the user is waiting)."""
    candidates = [c.rstrip(".") for c in _EMAIL_CANDIDATE.findall(text or "")]
    if not candidates and "@" in (text or ""):
        return None, Invalid("invalid_email", "not a complete address")
    if not candidates:
        return None, Invalid("invalid_email", "no @ sign")
    try:
        return validate_email(candidates[0], check_deliverability=False).normalized, None
    except EmailNotValidError as error:
        return None, Invalid("invalid_email", str(error))


def find_email(text: str) -> Optional[str]:
    value, _ = parse_email(text)
    return value


def parse_phone(text: str, region: str = DEFAULT_PHONE_REGION) -> Tuple[Optional[str], Optional[Invalid]]:
    """The phone number in `text` in E.164 (+8613800138000), checked by phonenumbers (bot.shared.intake's
    rules: valid, or possible when written with its country code)."""
    matches = list(phonenumbers.PhoneNumberMatcher(text or "", region, leniency=phonenumbers.Leniency.VALID))
    if matches:
        return phonenumbers.format_number(matches[0].number, phonenumbers.PhoneNumberFormat.E164), None
    for match in phonenumbers.PhoneNumberMatcher(text or "", region, leniency=phonenumbers.Leniency.POSSIBLE):
        try:  # "mine is +44 7700 900456": possible, written with its country code
            return normalise_phone(match.raw_string, region), None
        except InvalidPhone:
            continue
    try:
        return normalise_phone(text or "", region), None
    except InvalidPhone as error:
        return None, Invalid("invalid_phone", str(error))


def text_length(text: str) -> int:
    """Length that counts a Chinese character as two: "张伟" is as long an answer as "Li Wei"."""
    return len(text) + len(re.findall(f"[{CJK_CHARS}]", text))


def clean_text(text: str, minimum: int, maximum: int) -> Tuple[Optional[str], Optional[Invalid]]:
    value = re.sub(r"\s+", " ", (text or "").replace("\x00", "")).strip()
    if not minimum <= text_length(value) <= maximum or value.startswith("/"):
        return None, Invalid("invalid_text", f"{minimum}-{maximum} characters", (("min", minimum), ("max", maximum)))
    return value, None

