"""Splitting long replies for Telegram's 4096-character limit."""

from __future__ import annotations

from bot.telegram.text import TELEGRAM_LIMIT, split_message, unavailable, word


def test_short_text_is_one_piece() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("   ") == []


def test_split_on_paragraphs_first() -> None:
    first, second = "a" * 3000, "b" * 3000
    assert split_message(f"{first}\n\n{second}") == [first, second]


def test_split_on_lines_then_spaces_then_anywhere() -> None:
    lines = "\n".join(["x" * 100] * 60)  # 6059 characters, no blank line
    pieces = split_message(lines)
    assert len(pieces) == 2 and all(len(p) <= TELEGRAM_LIMIT for p in pieces)
    assert all(set(p) <= {"x", "\n"} and not p.startswith("\n") for p in pieces)
    assert "".join(pieces).replace("\n", "") == "x" * 6000

    words = " ".join(["word"] * 2000)
    assert all(len(p) <= TELEGRAM_LIMIT and not p.endswith(" wor") for p in split_message(words))
    assert " ".join(split_message(words)) == words

    solid = "y" * 9000
    assert [len(p) for p in split_message(solid)] == [4096, 4096, 808]


def test_chinese_and_emoji_respect_the_limit_in_utf16_units() -> None:
    text = "城市合伙人" * 1000  # 5000 characters, no spaces
    assert "".join(split_message(text)) == text and max(len(p) for p in split_message(text)) <= TELEGRAM_LIMIT
    emoji = "😀" * 3000  # two UTF-16 units each
    pieces = split_message(emoji)
    assert "".join(pieces) == emoji and all(len(p.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT for p in pieces)


def test_small_limit_for_readability() -> None:
    assert split_message("one two three four", limit=8) == ["one two", "three", "four"]


def test_bridge_wording_is_bilingual() -> None:
    assert "中文" in word("help", "zh") and "/language" in word("help", "en")
    down = unavailable("zh")
    assert down.index("抱歉") < down.index("Sorry")
