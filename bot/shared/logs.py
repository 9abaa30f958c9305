"""Logs never carry emails or phone numbers in clear: a filter masks them in messages, arguments and tracebacks.
Access log lines (uvicorn's) lose their query strings.

`install()` runs the filter on every record as it is created, so it covers every logger and every handler —
uvicorn's, pytest's, ones configured later — without anyone having to attach it to each. The filter can also
be attached to a handler directly (`handler.addFilter(PiiFilter())`) in a logging dictConfig.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Mapping

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

# Internationalised addresses (张三@例子.中国) too. The local part takes the usual characters only, so in a URL
# (/api/leads?conversation_id=li@example.cn) the address is masked and the path stays readable.
_EMAIL = re.compile(r"[\w.%+-]+@(?:[\w-]+\.)+[\w-]{2,}")
# A run of digits with the usual phone separators (space, dash, parentheses), optionally starting with +.
# The edges are ASCII-only so a number right after Chinese text (电话13800138000) is still caught, while parts
# of ids (550e8400-e29b-41d4-a716-446655440000) and words (v2024) are not. Dots are no separator, which keeps
# IP addresses and the decimals of a number readable.
_PHONE = re.compile(r"(?<![A-Za-z0-9_+-])(?<!\d\.)\+?\(?\d[\d \t()-]{4,}\d(?![A-Za-z0-9_]|-[A-Za-z0-9])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?")
_MIN_DIGITS, _MAX_DIGITS = 7, 15  # E.164 numbers have at most 15 digits; fewer than 7 is a count, not a phone


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if _DATE.fullmatch(text.strip()) or not _MIN_DIGITS <= digits <= _MAX_DIGITS:
        return text
    return PHONE_MASK


def mask(text: str) -> str:
    """The text with every email address and phone-like number replaced by a placeholder."""
    if not text:
        return text
    return _PHONE.sub(_phone, _EMAIL.sub(EMAIL_MASK, text))


def _mask_arg(value: Any) -> Any:
    # Numbers stay numbers so %d and %.2f still work; anything else is formatted the way %s would and masked.
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return mask(value)
    return mask(str(value))


class PiiFilter(logging.Filter):
    """Masks emails and phone numbers in a record's message, arguments, traceback and stack text; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pii_masked", False):
            return True
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        else:  # an object logged directly (logger.info(error)) is formatted with str() later: mask that now
            record.msg = mask(str(record.msg))
        if isinstance(record.args, Mapping):
            record.args = {key: _mask_arg(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            # Keep the tuple's length: some formatters (uvicorn's access log) unpack the arguments.
            record.args = tuple(_mask_arg(value) for value in record.args)
            if record.name == "uvicorn.access" and len(record.args) == 5:
                # (client, method, path, http version, status): the path without its query string, which can
                # carry staff search terms or anything a client put there.
                args = list(record.args)
                args[2] = str(args[2]).split("?", 1)[0]
                record.args = tuple(args)
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the masked traceback is the one printed.
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        record._pii_masked = True
        return True


_FILTER = PiiFilter()


def install() -> None:
    """Mask every log record from now on, whichever logger or handler it goes through (idempotent)."""
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(previous, "_pii_masking", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _FILTER.filter(record)
        return record

    factory._pii_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
