"""Telegram-shaped output: long replies split at 4096 characters, the bridge's own bilingual wording."""

from __future__ import annotations

from typing import Dict, List

from bot.shared.splitting import split

TELEGRAM_LIMIT = 4096  # characters in one message (Telegram counts UTF-16 code units)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> List[str]:
    """Pieces of at most `limit`, cut at a paragraph, else a line, else a space, else anywhere."""
    return split(text, limit, _units, ("\n\n", "\n", " "))


# The bridge's own words (not program facts).
WORDS: Dict[str, Dict[str, str]] = {
    "private_only": {
        "en": "I only talk in private chats, so that what you tell me stays between us. Please message me directly.",
        "zh": "为保护您的信息，我只在私聊中回复。请直接私信我。",
    },
    "help": {
        "en": (
            "I am the assistant of Guangzhou's City Partner program. Ask me anything about the program, "
            "its four partner categories, who can join and what partners get, in English or Chinese.\n\n"
            "/start - start and greet\n/language - choose English or Chinese\n"
            "/reset - start the conversation over\n/help - this message"
        ),
        "zh": (
            "我是广州“城市合伙人”计划的智能助手。您可以用中文或英文向我咨询计划内容、四类合伙人、加入条件和合伙人权益。\n\n"
            "/start - 开始\n/language - 选择中文或英文\n/reset - 重新开始对话\n/help - 查看帮助"
        ),
    },
    "choose_language": {"en": "Which language should I use?", "zh": "请选择对话语言："},
    "language_set": {"en": "OK, I will answer in English.", "zh": "好的，接下来我会用中文回答。"},
    "reset": {"en": "Done: we are starting over. What would you like to know?", "zh": "已重新开始对话。请问您想了解什么？"},
    "choose": {"en": "Please choose:", "zh": "请选择："},
    "expired": {"en": "This button has expired. Please type your question.", "zh": "此按钮已失效，请直接输入您的问题。"},
    "text_only": {"en": "Please send your question as text.", "zh": "请以文字形式发送您的问题。"},
}
# Rasa down: both languages, since we cannot be sure which one the user reads.
UNAVAILABLE = {
    "en": "Sorry, the assistant is not available right now. Please try again in a few minutes.",
    "zh": "抱歉，智能助手暂时无法使用，请几分钟后再试。",
}
COMMANDS = {
    "en": [("start", "Start"), ("help", "What I can do"), ("language", "English or Chinese"), ("reset", "Start over")],
    "zh": [("start", "开始"), ("help", "帮助"), ("language", "选择语言"), ("reset", "重新开始")],
}


def word(key: str, language: str) -> str:
    return WORDS[key]["zh" if language == "zh" else "en"]


def unavailable(language: str) -> str:
    first, second = ("zh", "en") if language == "zh" else ("en", "zh")
    return f"{UNAVAILABLE[first]}\n\n{UNAVAILABLE[second]}"
