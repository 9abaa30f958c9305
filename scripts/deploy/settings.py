"""Which environment variable goes where: secrets by reference, settings from .env.example, and the values that
differ inside containers (interfaces, ports, the other services' addresses)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

from dotenv import dotenv_values

from bot.shared.secrets import SECRETS
from scripts.deploy import ROOT

# Every process checks all of SECRETS at start in production (bot/shared/secrets.py), and REDIS_URL.
COMMON_SECRETS: Tuple[str, ...] = (*SECRETS, "REDIS_URL")
# (name, optional) per process: only what it reads. Optional: the Secret may leave the key out.
SECRETS_OF: Dict[str, List[Tuple[str, bool]]] = {
    "rasa": [(name, False) for name in COMMON_SECRETS],
    "actions": [(name, False) for name in COMMON_SECRETS],
    "web": [*((name, False) for name in COMMON_SECRETS), ("DATABASE_URL", False), ("TELEGRAM_BOT_TOKEN", True),
            # the WeChat channel (/api/wechat) runs in the web app; off while WECHAT_TOKEN is empty
            ("WECHAT_TOKEN", True), ("WECHAT_AES_KEY", True), ("WECHAT_APP_SECRET", True)],
    "worker": [(name, False) for name in COMMON_SECRETS],
    "retention": [*((name, False) for name in COMMON_SECRETS), ("DATABASE_URL", False)],
    "funnel": [*((name, False) for name in COMMON_SECRETS), ("DATABASE_URL", False)],
    "telegram": [*((name, False) for name in COMMON_SECRETS), ("TELEGRAM_BOT_TOKEN", False),
                 ("TELEGRAM_WEBHOOK_SECRET", True)],
    "migrate": [("REDIS_URL", False), ("DATABASE_URL", False)],  # settings refuse a production Redis without password
}
SECRET_VARIABLES = {name for pairs in SECRETS_OF.values() for name, _ in pairs}

# Set per container, not taken from .env.example: where each process listens and how it reaches the others.
PLACED = {
    "APP_ENV", "RASA_HOST", "ACTIONS_HOST", "APP_HOST", "RASA_PORT", "ACTIONS_PORT", "APP_PORT", "RASA_URL",
    "RASA_URLS", "RASA_REPLICAS", "ACTION_ENDPOINT_URL", "INTAKE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB",
    "TELEGRAM_WEBHOOK_LISTEN",
}
# Production values for settings whose .env.example default suits only a development machine.
PRODUCTION = {"STAFF_COOKIE_SECURE": "true"}


def example(path: Path = ROOT / ".env.example") -> Dict[str, str]:
    """.env.example's variables and values, in order (dotenv's rules, as scripts/env.py reads it)."""
    return {name: value or "" for name, value in dotenv_values(path).items()}


SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "_KEY", "CREDENTIAL")


class UnplacedSecret(ValueError):
    """A variable that looks like a secret is not listed in SECRETS_OF: it would be written into a manifest."""


def settings(path: Path = ROOT / ".env.example") -> Dict[str, str]:
    """The settings every container gets as they are: .env.example less secrets and placed variables. A new
    variable named like a secret must be placed in SECRETS_OF first (never written as a plain value)."""
    values = {name: value for name, value in example(path).items() if name not in SECRET_VARIABLES | PLACED}
    unplaced = sorted(name for name in values if any(word in name for word in SECRET_WORDS))
    if unplaced:
        raise UnplacedSecret(f"{', '.join(unplaced)} in .env.example look(s) like a secret: list it in SECRETS_OF "
                             "(scripts/deploy/settings.py) so the manifests reference it instead of writing its value")
    values.update({name: value for name, value in PRODUCTION.items() if name in values})
    return values
