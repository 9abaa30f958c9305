"""Where Rasa's Redis stores (rasa_addons.tracker_store, rasa_addons.lock_store) connect: one URL.

endpoints.yml passes `url: ${REDIS_URL}`, which Rasa hands to the store as `host` (tracker store) or
`endpoint_config.url` (lock store). Three forms are accepted:
- a redis://, rediss:// or unix:// URL: used as it is, every option included (password, ACL user, TLS);
- empty (REDIS_URL not set): the environment's REDIS_URL, else REDIS_HOST/PORT/DB (bot.shared.redis_conn);
- a plain host name with Rasa's own `port`/`db`/`password`/`use_ssl`/`ssl_*` keys, as Rasa documents
  endpoints.yml: the URL those describe (older configurations keep working).
"""

from __future__ import annotations

from typing import Any, Dict, Optional
from urllib.parse import quote, urlencode

import redis

from bot.shared.config import ConfigError
from bot.shared.redis_conn import production, redis_url, redis_url_problem, url_from_parts, verify_at_start


def store_url(
    url: Optional[str] = None,
    port: Any = 6379,
    db: Any = 0,
    username: Optional[str] = None,
    password: Optional[str] = None,
    use_ssl: Any = False,
    ssl_keyfile: Optional[str] = None,
    ssl_certfile: Optional[str] = None,
    ssl_ca_certs: Optional[str] = None,
) -> str:
    """The checked URL a store connects to (ConfigError naming REDIS_URL, password masked, when unusable)."""
    url = (url or "").strip()
    if not url:
        return redis_url()
    if "://" not in url:  # Rasa's form: a host name and separate keys
        tls = str(use_ssl).strip().lower() in ("1", "true", "yes", "on")
        built = url_from_parts(url, int(port), int(db))
        if tls:
            built = "rediss" + built[len("redis"):]
        if username or password:
            userinfo = f"{quote(str(username or ''), safe='')}:{quote(str(password or ''), safe='')}@"
            built = built.replace("://", f"://{userinfo}", 1)
        files: Dict[str, str] = {k: v for k, v in (("ssl_keyfile", ssl_keyfile), ("ssl_certfile", ssl_certfile),
                                                   ("ssl_ca_certs", ssl_ca_certs)) if v}
        url = built + (f"?{urlencode(files)}" if files else "")
    problem = redis_url_problem(url, production())
    if problem:
        raise ConfigError(problem)
    return url


def connect(url: str, **kwargs: Any) -> redis.Redis:
    """A client for a store; Rasa does not start on credentials Redis refuses (ConfigError naming REDIS_URL)."""
    verify_at_start(url)
    return redis.Redis.from_url(url, **kwargs)
