"""Telegram updates in, the assistant's replies out.

Sender ids are `telegram-<chat_id>` (the actions derive the lead's channel from the prefix). Updates
run concurrently across chats but one at a time within a chat, so a chat's messages keep their order.
Message texts are never logged at INFO.
"""

from __future__ import annotations

import asyncio
import logging
from typing import List, Optional

from telegram import BotCommand, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.chat import identity
from bot.chat.locks import KeyedLocks
from bot.chat.rasa import RasaClient, RasaUnavailable
from bot.chat.service import GREET, ChatService
from bot.chat.store import LanguageMemory, async_redis_from_env
from bot.metrics.chat import observe_turn
from bot.shared.channels import TELEGRAM
from bot.shared.program.language import detect_language
from bot.shared.replies import Reply
from bot.telegram.config import TelegramSettings
from bot.telegram.keyboards import LANG_PREFIX, PayloadStore, keyboard, language_keyboard
from bot.telegram.text import COMMANDS, split_message, unavailable, word

logger = logging.getLogger(__name__)
RASA_TIMEOUT_SECONDS = 20.0


def sender_of(chat_id: int) -> str:
    """Rasa, the logs and staff see a derived id, never the Telegram chat id (bot.chat.identity)."""
    return TELEGRAM.sender(identity.derive("telegram", str(chat_id)))


class Bridge:
    """What the handlers share: the conversation service, the button store, per-chat order."""

    def __init__(self, service: ChatService, buttons: PayloadStore, rasa: Optional[RasaClient] = None, redis=None) -> None:
        self.service = service
        self.buttons = buttons
        self._rasa = rasa
        self._redis = redis
        self._locks = KeyedLocks()

    @classmethod
    def from_env(cls) -> Bridge:
        rasa = RasaClient.from_env(timeout=RASA_TIMEOUT_SECONDS)
        redis = async_redis_from_env()
        return cls(ChatService(rasa, LanguageMemory(redis)), PayloadStore(redis), rasa, redis)

    async def close(self) -> None:
        if self._rasa is not None:
            await self._rasa.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    def lock(self, chat_id: int) -> asyncio.Lock:
        return self._locks(chat_id)

    async def language(self, chat_id: int, user_language: Optional[str] = None) -> str:
        remembered = await self.service.language_of(sender_of(chat_id))
        if remembered:
            return remembered
        return "zh" if (user_language or "").lower().startswith("zh") else "en"

    async def send_replies(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, replies: List[Reply], language: str) -> None:
        for reply in replies:
            pieces = split_message(reply.text) or ([word("choose", language)] if reply.buttons else [])
            markup = await keyboard(reply.buttons, self.buttons, sender_of(chat_id))
            for i, piece in enumerate(pieces):
                # The keyboard goes under the last piece, next to the question it answers.
                await context.bot.send_message(chat_id, piece, reply_markup=markup if i == len(pieces) - 1 else None)

    async def relay(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, message: str, language: str) -> None:
        """One message to the assistant and its replies back; a polite note when Rasa is down."""
        try:
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError:
            pass  # only a nicety
        try:
            async with observe_turn(self._redis, "telegram"):  # gzcp_chat_messages_total, shared via Redis
                turn = await self.service.converse(sender_of(chat_id), message, language)
        except RasaUnavailable as error:
            logger.warning("telegram: rasa unavailable for a chat (%s)", error)
            await context.bot.send_message(chat_id, unavailable(detect_language(message) or language))
            return
        await self.send_replies(context, chat_id, turn.replies, turn.language)


def _bridge(context: ContextTypes.DEFAULT_TYPE) -> Bridge:
    return context.application.bot_data["bridge"]


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or not message.text:
        return
    bridge = _bridge(context)
    async with bridge.lock(chat.id):
        language = await bridge.language(chat.id, update.effective_user.language_code if update.effective_user else None)
        await bridge.relay(context, chat.id, message.text[:4000], language)


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice: the assistant reads text only."""
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, word("text_only", await _bridge(context).language(chat.id)))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    bridge = _bridge(context)
    data = query.data or ""
    async with bridge.lock(chat.id):
        if data.startswith(LANG_PREFIX):
            await query.answer()
            await _choose_language(bridge, context, chat.id, data[len(LANG_PREFIX) :])
            return
        payload = await bridge.buttons.payload(data, sender_of(chat.id))
        language = await bridge.language(chat.id)
        if payload is None:
            await query.answer(word("expired", language), show_alert=True)
            return
        await query.answer()
        try:  # the question is answered: its buttons go, so they are not pressed twice
            await query.edit_message_reply_markup(reply_markup=None)
        except TelegramError:
            pass
        await bridge.relay(context, chat.id, payload, language)


async def _choose_language(bridge: Bridge, context: ContextTypes.DEFAULT_TYPE, chat_id: int, language: str) -> None:
    if language not in ("en", "zh"):
        return
    try:
        await bridge.service.set_language(sender_of(chat_id), language)
    except RasaUnavailable:
        await context.bot.send_message(chat_id, unavailable(language))
        return
    await context.bot.send_message(chat_id, word("language_set", language))


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    bridge = _bridge(context)
    user_language = update.effective_user.language_code if update.effective_user else None
    language = "zh" if (user_language or "").lower().startswith("zh") else "en"
    async with bridge.lock(chat.id):
        try:
            await bridge.service.set_language(sender_of(chat.id), language)
        except RasaUnavailable:
            await context.bot.send_message(chat.id, unavailable(language))
            return
        await bridge.relay(context, chat.id, GREET, language)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    if chat is not None:
        user_language = update.effective_user.language_code if update.effective_user else None
        await context.bot.send_message(chat.id, word("help", await _bridge(context).language(chat.id, user_language)))


async def on_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/language zh` (or en, 中文, english) sets it; `/language` alone offers both."""
    chat = update.effective_chat
    if chat is None:
        return
    bridge = _bridge(context)
    wanted = " ".join(context.args or []).strip().lower()
    choice = (
        "zh"
        if wanted in ("zh", "cn", "中文", "chinese", "汉语")
        else "en"
        if wanted in ("en", "english", "英文", "英语")
        else None
    )
    async with bridge.lock(chat.id):
        if choice:
            await _choose_language(bridge, context, chat.id, choice)
        else:
            current = await bridge.language(chat.id)
            await context.bot.send_message(chat.id, word("choose_language", current), reply_markup=language_keyboard())


async def on_reset(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    bridge = _bridge(context)
    async with bridge.lock(chat.id):
        language = await bridge.language(chat.id)
        try:
            await bridge.service.restart(sender_of(chat.id), language)
        except RasaUnavailable:
            await context.bot.send_message(chat.id, unavailable(language))
            return
        await context.bot.send_message(chat.id, word("reset", language))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    # Type and message only: a traceback's locals could hold what a user typed.
    logger.error("telegram: update failed: %s: %s", type(context.error).__name__, context.error)


async def _post_init(application: Application) -> None:
    bridge = application.bot_data.get("bridge") or Bridge.from_env()
    application.bot_data["bridge"] = bridge
    try:
        for language, commands in COMMANDS.items():
            await application.bot.set_my_commands(
                [BotCommand(name, text) for name, text in commands], language_code=None if language == "en" else language
            )
    except TelegramError as error:
        logger.warning("telegram: could not set the command menu: %s", error)


async def _post_shutdown(application: Application) -> None:
    bridge = application.bot_data.get("bridge")
    if bridge is not None:
        await bridge.close()


async def on_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command in a group: the assistant works in private chats only (in a group, one member's answers —
    email, phone — would be shown to all, and anyone could erase them). It says so once, and reads nothing."""
    chat = update.effective_chat
    if chat is not None:
        user_language = update.effective_user.language_code if update.effective_user else None
        language = "zh" if (user_language or "").lower().startswith("zh") else "en"
        await context.bot.send_message(chat.id, word("private_only", language))


def build_application(settings: TelegramSettings, bridge: Optional[Bridge] = None) -> Application:
    builder: ApplicationBuilder = Application.builder().token(settings.token)
    urls = settings.bot_api_urls()
    if urls:  # another Bot API server (a local fake in tests, or a self-hosted one)
        builder = builder.base_url(urls[0]).base_file_url(urls[1])
    builder = builder.concurrent_updates(32).post_init(_post_init).post_shutdown(_post_shutdown)
    application = builder.build()
    if bridge is not None:
        application.bot_data["bridge"] = bridge
    private = filters.ChatType.PRIVATE  # groups and channels: see on_group
    application.add_handler(CommandHandler("start", on_start, filters=private))
    application.add_handler(CommandHandler("help", on_help, filters=private))
    application.add_handler(CommandHandler("language", on_language, filters=private))
    application.add_handler(CommandHandler("reset", on_reset, filters=private))
    application.add_handler(MessageHandler(private & filters.COMMAND, on_help))  # unknown commands: show what exists
    application.add_handler(MessageHandler(private & filters.TEXT, on_text))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, on_other))
    application.add_handler(MessageHandler(~private & filters.COMMAND, on_group))
    application.add_error_handler(on_error)
    return application
