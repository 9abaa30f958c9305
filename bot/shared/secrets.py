"""The secrets every process needs, and the rule that production never runs on a development one.

`.env.example` holds development values (they start with `dev-only-`) so that `make run` works on a fresh
machine. With APP_ENV=production each process calls `refuse_development_secrets()` at start: a secret that
is empty, still a development value, or too short stops it with a message naming the variable (never the
value). Plain Python for both runtimes: the action server, the Rasa add-ons and the web app all call it.
"""

from __future__ import annotations

import sys
from typing import Callable, Dict, List, Optional

from bot.shared.config import env_str
from bot.shared.redis_conn import redis_url_problem

DEVELOPMENT_PREFIX = "dev-only-"
MIN_SECRET_CHARS = 24

# Variable -> what it protects. Every process checks all of them: one .env serves the whole deployment.
SECRETS: Dict[str, str] = {
    "RASA_AUTH_TOKEN": "Rasa's HTTP API",
    "ACTION_SERVER_SECRET": "calls from Rasa to the action server",
    "CONVERSATION_SECRET": "the web chat's conversation tokens and derived ids",
    "INTAKE_API_KEY": "lead intake: creating leads (the action server's key)",
    "INTAKE_ADMIN_KEY": "lead intake: reading leads and erasing conversations",
    "METRICS_TOKEN": "GET /metrics",
}
# Checked only while the WeChat channel is on (WECHAT_TOKEN set): production without WeChat must still start.
WECHAT_SECRETS: Dict[str, str] = {
    "WECHAT_TOKEN": "the signatures of WeChat's calls to /api/wechat",
    "WECHAT_APP_SECRET": "the WeChat API (access tokens, customer-service messages)",
}


def production() -> bool:
    return env_str("APP_ENV", "development").lower() == "production"


def secret_problem(name: str, value: str) -> Optional[str]:
    """Why `value` cannot protect anything in production (None when it can)."""
    if not value:
        return f"{name} is empty ({SECRETS.get(name) or WECHAT_SECRETS.get(name, 'a secret')} needs one)"
    if value.startswith(DEVELOPMENT_PREFIX) or "change-me" in value.lower():
        return f"{name} still has its development value from .env.example"
    if len(value) < MIN_SECRET_CHARS:
        return f"{name} is shorter than {MIN_SECRET_CHARS} characters"
    return None


def redis_problem(url: str) -> Optional[str]:
    """Production Redis holds sessions and personal data: REDIS_URL with a password (bot.shared.redis_conn)."""
    if not url.strip():
        return "REDIS_URL is empty (production Redis needs a password: redis://:PASSWORD@host:6379/0, rediss:// for TLS)"
    return redis_url_problem(url, production=True)


def development_secrets(getenv: Callable[[str], str] = env_str) -> List[str]:
    """Every problem with this environment's secrets (the names only, never the values)."""
    names = list(SECRETS) + (list(WECHAT_SECRETS) if getenv("WECHAT_TOKEN") else [])
    problems = [p for p in (secret_problem(name, getenv(name)) for name in names) if p]
    redis = redis_problem(getenv("REDIS_URL"))
    return problems + ([redis] if redis else [])


EX_CONFIG = 78  # sysexits.h "configuration error": the process runner does not restart such a process


class RefusedToStart(SystemExit):
    """Exit with EX_CONFIG; the message (names only) is printed to stderr before."""

    def __init__(self, message: str) -> None:
        super().__init__(EX_CONFIG)
        self.message = message

    def __str__(self) -> str:
        return self.message


def refuse_development_secrets(process: str) -> None:
    """Stop `process` at start with APP_ENV=production while any secret is empty or a development value."""
    if not production():
        return
    problems = development_secrets()
    if problems:
        message = f"{process}: refusing to start with APP_ENV=production: " + "; ".join(problems)
        print(f"error: {message}", file=sys.stderr)
        raise RefusedToStart(message)

