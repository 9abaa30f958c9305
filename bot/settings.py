"""The web app's settings (and the delivery worker's and the Telegram bridge's): one typed object from the
environment (`make` and scripts/run_all.sh load .env.example, then .env, with dotenv rules: see scripts/env.py).

A value that does not parse stops start-up with a message naming the variable, rather than silently
falling back to a default (`CHAT_RATE_PER_MINUTE=2O` is an error; `STAFF_COOKIE_SECURE=on` is true).
`settings()` is cheap: it re-reads the environment only when one of these variables changed (tests
change them freely).
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from typing import Annotated, Any, List, Literal, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.shared.redis_conn import mask_url, resolve_url, settings_problem

Port = Annotated[int, Field(ge=1, le=65535)]
CommaList = Annotated[List[str], NoDecode]  # "a, b,c" in the environment


class ConfigError(ValueError):
    """A setting has a value the app cannot run with; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_file=None, frozen=True)

    app_env: Literal["development", "test", "production"] = "development"

    # Redis: Rasa's tracker and lock stores, the outbox, sessions, limits, metrics. REDIS_URL is the way
    # (password, ACL user, rediss:// for TLS); REDIS_HOST/PORT/DB only when it is empty (bot.shared.redis_conn).
    redis_host: str = "127.0.0.1"
    redis_port: Port = 6379
    redis_db: Annotated[int, Field(ge=0, le=1023)] = 0
    redis_url: str = ""
    tracker_ttl_seconds: Annotated[int, Field(ge=60)] = 30 * 86400

    # Rasa, as the chat gateway and the Telegram bridge reach it.
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_urls: CommaList = Field(default_factory=list)
    rasa_auth_token: str = ""

    # Chat gateway (/api/chat): the key that signs conversation tokens and derives the ids everyone else sees.
    conversation_secret: str = ""
    chat_max_message_chars: Annotated[int, Field(ge=1, le=100_000)] = 1000
    chat_rate_per_minute: Annotated[int, Field(ge=1)] = 20
    chat_rate_per_minute_ip: Annotated[int, Field(ge=1)] = 60
    chat_allowed_origins: CommaList = Field(default_factory=list)
    chat_rasa_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 20.0
    chat_rasa_retry_delays: Annotated[Tuple[float, ...], NoDecode] = (0.5, 1.0, 2.0)

    # Lead intake and its delivery worker.
    intake_api_key: str = ""  # scope "create" (bot/leads/access.py)
    intake_admin_key: str = ""  # scope "read/erase"
    intake_max_body_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    intake_url: str = "http://127.0.0.1:8000"
    database_url: str = ""

    # Staff console.
    staff_session_ttl_seconds: Annotated[int, Field(ge=60)] = 8 * 3600  # idle timeout
    staff_session_max_seconds: Annotated[int, Field(ge=60)] = 12 * 3600  # absolute lifetime
    staff_cookie_secure: bool = False
    staff_login_free_failures: Annotated[int, Field(ge=1)] = 5  # per account and address, before the back-off
    staff_login_backoff_seconds: Annotated[float, Field(gt=0)] = 1.0  # first wait; doubles per further failure
    staff_login_max_per_account: Annotated[int, Field(ge=1)] = 20  # then every failing address waits
    staff_login_max_per_ip: Annotated[int, Field(ge=1)] = 20
    staff_login_window_seconds: Annotated[int, Field(ge=1)] = 900
    staff_timezone: str = "Asia/Shanghai"
    staff_telegram_chat_id: str = ""
    staff_console_url: str = ""
    staff_sse_max_seconds: Annotated[float, Field(ge=0)] = 3600.0  # 0: a stream ends at once
    staff_sse_check_seconds: Annotated[float, Field(gt=0)] = 15.0  # how often a stream re-checks its session
    staff_events: Literal["on", "off"] = "on"
    staff_nlu_dir: str = ""  # where the knowledge editor adds NLU examples; empty: nlu/ in the repository
    staff_model_file: str = ""  # the model in use (which examples wait for training); empty: models/current.tar.gz

    metrics_token: str = ""

    # The retention job (python -m bot.retention): `make run` runs it at start, then every this many seconds.
    retention_interval_seconds: Annotated[int, Field(ge=60)] = 86400

    # Telegram bridge (python -m bot.telegram) and staff alerts.
    telegram_bot_token: str = ""
    telegram_api_base_url: str = ""
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: Port = 8443

    # WeChat Official Account channel (/api/wechat, bot/wechat). Empty WECHAT_TOKEN: the channel is off (404).
    wechat_token: str = ""  # the Token of the account's server configuration (3-32 letters and digits)
    wechat_aes_key: str = ""  # its EncodingAESKey (43 characters), for safe (encrypted) mode
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_api_base_url: str = ""  # empty: https://api.weixin.qq.com (tests point it at a fake)
    wechat_reply_seconds: Annotated[float, Field(gt=0, le=4.5)] = 4.0  # WeChat waits 5 s for a passive reply

    @field_validator("rasa_urls", "chat_allowed_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
        return value

    @field_validator("chat_rasa_retry_delays", mode="before")
    @classmethod
    def _delays(cls, value: Any) -> Any:
        if isinstance(value, str):  # "0.5,1,2"; empty: no second attempt
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("chat_rasa_retry_delays")
    @classmethod
    def _non_negative(cls, value: Tuple[float, ...]) -> Tuple[float, ...]:
        if any(d < 0 for d in value):
            raise ValueError("pauses cannot be negative")
        return value

    @field_validator("staff_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str, info: ValidationInfo) -> str:
        data = info.data
        problem = settings_problem(value, data.get("redis_host", "127.0.0.1"), data.get("redis_port", 6379),
                                   data.get("redis_db", 0), production=data.get("app_env") == "production")
        if problem:
            raise ValueError(problem)
        return value.strip()

    @property
    def redis_connection_url(self) -> str:
        """What every client connects to: REDIS_URL, else the URL of REDIS_HOST/PORT/DB."""
        return resolve_url(self.redis_url, self.redis_host, self.redis_port, self.redis_db)

    @field_validator("staff_events", "telegram_mode", "app_env", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("wechat_token")
    @classmethod
    def _wechat_token(cls, value: str) -> str:
        value = value.strip()
        if value and not (3 <= len(value) <= 32 and value.isascii() and value.isalnum()):
            raise ValueError("must be 3-32 letters and digits, as the Official Account's server settings take it")
        return value

    @field_validator("wechat_aes_key")
    @classmethod
    def _wechat_aes_key(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                key = base64.b64decode(value + "=", validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if len(value) != 43 or len(key) != 32:
                raise ValueError("must be the account's EncodingAESKey: 43 letters and digits")
        return value

    @field_validator("wechat_app_secret")
    @classmethod
    def _wechat_app(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if info.data.get("wechat_token") and not (value and (info.data.get("wechat_app_id") or "").strip()):
            raise ValueError("WECHAT_TOKEN turns the WeChat channel on, which needs WECHAT_APP_ID and WECHAT_APP_SECRET "
                             "too (slow answers go out through the customer-service message API)")
        return value

    @property
    def wechat_enabled(self) -> bool:
        return bool(self.wechat_token)

    @property
    def rasa_replicas(self) -> List[str]:
        """RASA_URLS, else RASA_URL: never empty, in order, without repeats."""
        urls = self.rasa_urls or [u.strip().rstrip("/") for u in self.rasa_url.split(",") if u.strip()]
        return list(dict.fromkeys(urls)) or ["http://127.0.0.1:5005"]


ENV_NAMES: Tuple[str, ...] = tuple(name.upper() for name in Settings.model_fields)


def _message(error: ValidationError) -> str:
    problems = []
    for issue in error.errors():
        name = str(issue["loc"][0]).upper() if issue.get("loc") else "?"
        value = os.environ.get(name)
        if value is not None and name.endswith("_URL"):
            value = mask_url(value)  # a URL's password never reaches an error message
        shown = f"={value!r}" if value is not None and "TOKEN" not in name and "KEY" not in name and "SECRET" not in name else ""
        message = str(issue["msg"]).removeprefix("Value error, ")
        problems.append(message if message.startswith(name) else f"{name}{shown}: {message}")  # REDIS_URL's say it
    return "invalid configuration: " + "; ".join(problems)


@functools.lru_cache(maxsize=16)
def _load(_snapshot: Tuple[Optional[str], ...]) -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(_message(error)) from None


# os.environ.get decodes every value on each call (40 µs for all names, several calls per request); CPython's
# os.environ keeps its raw values in `_data`, and reading those is the same snapshot at a thirtieth of the cost.
_RAW = getattr(os.environ, "_data", None)
_RAW_NAMES = tuple(os.environ.encodekey(name) for name in ENV_NAMES) if _RAW is not None else ()  # type: ignore[attr-defined]


def settings() -> Settings:
    """The settings for the environment as it is now (ConfigError naming the variable when one is bad)."""
    if _RAW is not None:
        return _load(tuple(map(_RAW.get, _RAW_NAMES)))
    return _load(tuple(os.environ.get(name) for name in ENV_NAMES))
