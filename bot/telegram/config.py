"""The bridge's configuration, from the environment (see .env.example)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Tuple
from urllib.parse import urlparse

from bot.settings import ENV_NAMES
from bot.settings import settings as app_settings


class ConfigError(ValueError):
    """The bridge cannot start with this configuration."""


@dataclass(frozen=True)
class TelegramSettings:
    token: str
    mode: str  # "polling" or "webhook"
    api_base_url: Optional[str]  # a Bot API server root (a local one in tests); None: Telegram's
    webhook_url: Optional[str]
    webhook_secret: Optional[str]
    webhook_listen: str
    webhook_port: int

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> TelegramSettings:
        if environ is None:  # the app's settings: a value that does not parse has stopped start-up already
            config = app_settings()
            environ = {name: str(getattr(config, name.lower())) for name in ENV_NAMES if name.startswith("TELEGRAM_")}
        env = environ
        token = (env.get("TELEGRAM_BOT_TOKEN") or "").strip()
        if not token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set: the bridge has nothing to connect to")
        mode = (env.get("TELEGRAM_MODE") or "polling").strip().lower()
        if mode not in ("polling", "webhook"):
            raise ConfigError(f"TELEGRAM_MODE must be polling or webhook, not {mode!r}")
        settings = cls(
            token=token,
            mode=mode,
            api_base_url=(env.get("TELEGRAM_API_BASE_URL") or "").strip().rstrip("/") or None,
            webhook_url=(env.get("TELEGRAM_WEBHOOK_URL") or "").strip() or None,
            webhook_secret=(env.get("TELEGRAM_WEBHOOK_SECRET") or "").strip() or None,
            webhook_listen=(env.get("TELEGRAM_WEBHOOK_LISTEN") or "127.0.0.1").strip(),
            webhook_port=int(env.get("TELEGRAM_WEBHOOK_PORT") or "8443"),
        )
        if mode == "webhook":
            if not settings.webhook_url or urlparse(settings.webhook_url).scheme != "https":
                raise ConfigError("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL, an https:// URL Telegram can reach")
            # Telegram allows 1-256 characters A-Z a-z 0-9 _ -; without it anyone could post fake updates.
            secret = settings.webhook_secret or ""
            if not (1 <= len(secret) <= 256) or not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret):
                raise ConfigError("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -)")
        return settings

    def bot_api_urls(self) -> Optional[Tuple[str, str]]:
        """PTB's (base_url, base_file_url) for TELEGRAM_API_BASE_URL, given either PTB-style
        (`http://host:8081/bot`, as bot.staff.alerts passes it on) or as the server root (`http://host:8081`)."""
        if not self.api_base_url:
            return None
        root = self.api_base_url[: -len("/bot")] if self.api_base_url.endswith("/bot") else self.api_base_url
        return f"{root}/bot", f"{root}/file/bot"

    @property
    def webhook_path(self) -> str:
        return urlparse(self.webhook_url or "").path or "/telegram"
