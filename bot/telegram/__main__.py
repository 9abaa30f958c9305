"""`python -m bot.telegram`: run the Telegram bridge (polling by default, TELEGRAM_MODE=webhook otherwise)."""

from __future__ import annotations

import asyncio
import logging
import sys

from telegram import Update

from bot.shared import logs
from bot.shared.config import ConfigError as SharedConfigError
from bot.shared.redis_conn import verify_at_start
from bot.shared.secrets import refuse_development_secrets
from bot.telegram.bridge import build_application
from bot.telegram.config import ConfigError, TelegramSettings
from bot.telegram.webhook import ALLOWED_UPDATES, run_webhook


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the bot token in the URL
    logs.install()  # no email or phone number reaches a log in clear
    refuse_development_secrets("telegram bridge")
    try:
        settings = TelegramSettings.from_env()
        verify_at_start()  # a Redis password it refuses stops the bridge here, naming REDIS_URL
    except (ConfigError, SharedConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    application = build_application(settings)
    logging.getLogger(__name__).info("telegram bridge: %s mode", settings.mode)
    if settings.mode == "webhook":
        asyncio.run(run_webhook(application, settings))
    else:
        application.run_polling(allowed_updates=ALLOWED_UPDATES or Update.ALL_TYPES, drop_pending_updates=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
