"""A message to the staff Telegram chat when a qualified lead arrives (python-telegram-bot).

Configured by TELEGRAM_BOT_TOKEN and STAFF_TELEGRAM_CHAT_ID (both needed); TELEGRAM_API_BASE_URL points it
at another Bot API server (tests). The message carries no contact details: Telegram is a third party, and
staff open the lead in the console (STAFF_CONSOLE_URL makes the link absolute).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.settings import settings

logger = logging.getLogger(__name__)


def _config() -> Optional[Dict[str, str]]:
    config = settings()
    token, chat_id = config.telegram_bot_token.strip(), config.staff_telegram_chat_id.strip()
    if not token or not chat_id:
        return None
    return {"token": token, "chat_id": chat_id, "base_url": _ptb_base_url(config.telegram_api_base_url)}


def _ptb_base_url(value: str) -> str:
    """PTB's base_url for TELEGRAM_API_BASE_URL given as a server root (http://host:8081) or PTB-style (.../bot),
    the same two forms the Telegram bridge (bot/telegram/config.py) accepts; empty for api.telegram.org."""
    root = value.strip().rstrip("/")
    if not root:
        return ""
    return root if root.endswith("/bot") else f"{root}/bot"


def message(data: Dict[str, Any]) -> str:
    base = settings().staff_console_url.rstrip("/")
    link = f"{base}/staff/leads/{data['id']}" if base else f"/staff/leads/{data['id']}"
    return (
        f"New qualified lead: {data.get('category') or 'no category'} (score {data.get('score')}), "
        f"language {data.get('language')}, via {data.get('channel')}.\n{link}"
    )


async def _send(config: Dict[str, str], text: str) -> None:
    options: Dict[str, Any] = {"request": HTTPXRequest(connect_timeout=5.0, read_timeout=10.0)}
    if config["base_url"]:
        options["base_url"] = config["base_url"]
    bot = Bot(config["token"], **options)
    await bot.send_message(chat_id=config["chat_id"], text=text, disable_web_page_preview=True)
    await bot.shutdown()


def send_qualified_alert(data: Dict[str, Any]) -> bool:
    """Send the alert (blocking: run it off the request path); True if Telegram took it."""
    config = _config()
    if config is None:
        return False
    try:
        asyncio.run(_send(config, message(data)))
    except Exception as error:  # noqa: BLE001
        # The type only: PTB error texts can quote the request, and the token sits in its URL.
        logger.warning("staff Telegram alert for lead %s failed: %s", data.get("id"), type(error).__name__)
        return False
    logger.info("staff Telegram alert sent for lead %s", data.get("id"))
    return True
