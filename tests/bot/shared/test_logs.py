"""Emails and phone numbers never reach a log in clear; ids, dates and numbers stay readable."""

from __future__ import annotations

import logging

import pytest

from bot.shared import logs
from bot.shared.logs import EMAIL_MASK, PHONE_MASK, PiiFilter, mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail john.doe+x@example.org now", f"mail {EMAIL_MASK} now"),
        ("邮箱 张三@例子.中国", f"邮箱 {EMAIL_MASK}"),
        ("电话13800138000", f"电话{PHONE_MASK}"),
        ("call +86 138-0013-8000.", f"call {PHONE_MASK}."),
        ("(020) 8888 8888", PHONE_MASK),
        ("+1 (415) 555-2671", PHONE_MASK),
        ("E.164 +8613800138000", f"E.164 {PHONE_MASK}"),
        ("DELETE /api/leads?conversation_id=li@example.cn HTTP/1.1", f"DELETE /api/leads?conversation_id={EMAIL_MASK} HTTP/1.1"),
    ],
)
def test_emails_and_phone_numbers_are_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "lead 550e8400-e29b-41d4-a716-446655440000 stored",
        "12345678-1234-4abc-8def-123456789012",
        "on 2025-01-02 10:00",
        "db at 192.168.100.200:5432",
        "took 0.123456789 s",
        "deleted 12345 rows",
        "rules v20240501",
    ],
)
def test_ids_dates_and_counts_are_left_alone(text: str) -> None:
    assert mask(text) == text


def _record(msg: object, args: object = (), exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


def test_the_filter_masks_arguments_and_keeps_numbers_formattable() -> None:
    record = _record("%s called from %s, %d times, %.1f%%", ("a@b.cn", ValueError("13800138000"), 3, 99.5))
    assert PiiFilter().filter(record) is True
    assert record.getMessage() == f"{EMAIL_MASK} called from {PHONE_MASK}, 3 times, 99.5%"
    mapping = _record("%(who)s", ({"who": "a@b.cn"},))
    PiiFilter().filter(mapping)
    assert mapping.getMessage() == EMAIL_MASK


def test_the_filter_masks_tracebacks() -> None:
    try:
        raise ValueError("duplicate li@example.com")
    except ValueError:
        import sys

        record = _record("failed", exc_info=sys.exc_info())
    PiiFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "li@example.com" not in text and EMAIL_MASK in text and "ValueError" in text


def test_install_masks_every_logger_and_handler(caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    # A uvicorn started by an earlier test stops "uvicorn.access" propagating; caplog listens at the root.
    access_logger = logging.getLogger("uvicorn.access")
    monkeypatch.setattr(access_logger, "propagate", True)
    monkeypatch.setattr(access_logger, "disabled", False)
    monkeypatch.setattr(access_logger, "level", logging.NOTSET)
    logs.install()
    logs.install()  # twice is harmless
    with caplog.at_level(logging.INFO):
        logging.getLogger("uvicorn.access").info('%s - "%s %s"', "127.0.0.1:5000", "GET", "/x?email=a@b.cn")
        logging.getLogger("some.library").info("user %s", "+852 2345 6789")
    assert "a@b.cn" not in caplog.text and "2345 6789" not in caplog.text
    access = next(r for r in caplog.records if r.name == "uvicorn.access")
    assert access.args[0] == "127.0.0.1:5000"  # the tuple keeps its shape for uvicorn's formatter


def test_access_log_lines_lose_their_query_strings() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/staff/leads?q=Li+Hua&status=new", "1.1", 200), None)
    PiiFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /staff/leads HTTP/1.1" 200'
