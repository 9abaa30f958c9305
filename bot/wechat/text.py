"""WeChat-shaped output: the assistant's replies as one text (split within WeChat's limit), the channel's words.

A WeChat text message (passive reply or customer-service message) holds at most 2048 bytes of UTF-8, so a
Chinese answer fits about 680 characters. A turn's replies are joined into as few messages as possible: the
customer-service API limits how many messages an account may send a user.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

from bot.shared.splitting import split

TEXT_LIMIT = 2048  # bytes of UTF-8 in one text message


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def split_text(text: str, limit: int = TEXT_LIMIT) -> List[str]:
    """Pieces of at most `limit` bytes, cut at a paragraph, else a line, else a space (or a Chinese full stop),
    else anywhere."""
    return split(text, limit, _size, ("\n\n", "\n", "。", " "), kept=("。",))  # the full stop stays with its sentence


def messages(blocks: Sequence[str], limit: int = TEXT_LIMIT) -> List[str]:
    """The blocks (one per reply) in as few messages as fit, in order, a blank line between blocks."""
    out: List[str] = []
    for block in blocks:
        for piece in split_text(block, limit):
            if out and _size(out[-1]) + 2 + _size(piece) <= limit:
                out[-1] = f"{out[-1]}\n\n{piece}"
            else:
                out.append(piece)
    return out


# The channel's own words (not program facts).
WORDS: Dict[str, Dict[str, str]] = {
    "choose_number": {"en": "Reply with a number to choose (e.g. 1).", "zh": "回复序号即可选择（如 1）。"},
    "choose_letter": {"en": "Reply with a letter to choose (e.g. A).", "zh": "回复字母即可选择（如 A）。"},
    "text_only": {
        "en": "Sorry, I can only read text messages. Please type your question.",
        "zh": "抱歉，我目前只能阅读文字消息，请直接输入您的问题。",
    },
    "voice_unclear": {
        "en": "Sorry, I could not make out that voice message. Please type your question.",
        "zh": "抱歉，没能识别这条语音，请直接输入文字。",
    },
}
# Under the Chinese greeting a new follower gets: the assistant answers in the language written to it.
ENGLISH_HINT = "Prefer English? Just write to me in English."
# Rasa down: both languages, since we cannot be sure which one the user reads.
UNAVAILABLE = {
    "zh": "抱歉，智能助手暂时无法使用，请几分钟后再试。",
    "en": "Sorry, the assistant is not available right now. Please try again in a few minutes.",
}


def word(key: str, language: str) -> str:
    return WORDS[key]["zh" if language == "zh" else "en"]


def unavailable(language: str) -> str:
    first, second = ("en", "zh") if language == "en" else ("zh", "en")
    return f"{UNAVAILABLE[first]}\n\n{UNAVAILABLE[second]}"
