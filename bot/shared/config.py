"""Typed settings from the environment for code both runtimes run (the action server has no pydantic-settings;
the web app uses bot.settings). A value that does not parse is an error naming the variable, never a silent
default."""

from __future__ import annotations

import os
from typing import Optional


class ConfigError(ValueError):
    """A setting has a value the process cannot run with; the message names the variable."""


def env_str(name: str, default: str = "") -> str:
    value = os.environ.get(name)
    return default if value is None or not value.strip() else value.strip()


def env_int(name: str, default: int, minimum: Optional[int] = None) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def env_float(name: str, default: float, minimum: Optional[float] = None) -> float:
    raw = env_str(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: expected true or false")
