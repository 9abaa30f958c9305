"""One way to reach the project's Redis, for the action server, Rasa's stores and the web app alike.

The connection is one URL, REDIS_URL (`redis://:PASSWORD@host:6379/0`, an ACL user `redis://USER:PASSWORD@...`,
TLS `rediss://...?ssl_cert_reqs=required&ssl_ca_certs=/path/ca.pem`, or `unix:///path/redis.sock?db=0`), read
by redis-py's `from_url` everywhere. When it is empty, REDIS_HOST/REDIS_PORT/REDIS_DB (older configurations)
describe a URL without a password. A URL is only ever printed through `mask_url`.

Plain Python that runs on Rasa's 3.10 and the app's 3.11: only redis-py and the standard library.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.connection import SSLConnection, parse_url

from bot.shared.config import ConfigError, env_int, env_str

logger = logging.getLogger(__name__)

KEY_PREFIX = "gzcp"  # every key this project writes starts with it (endpoints.yml uses the same for Rasa)
SCHEMES = ("redis", "rediss", "unix")
SECRET_QUERY_WORDS = ("pass", "secret", "token")  # ?password=, ?ssl_password=, ...
MASK = "***"

# Short timeouts so a dead Redis fails fast, not silently (a URL's own ?socket_timeout= wins).
CLIENT_DEFAULTS: Dict[str, Any] = {"socket_timeout": 3.0, "socket_connect_timeout": 2.0, "decode_responses": True}


def mask_url(url: str) -> str:
    """The URL safe to print: the password (and any user info given without one, which may be a password
    written in the wrong place) and secret-looking query values replaced by ***."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here rather than later
    except ValueError:
        return f"{url.split('://', 1)[0]}://{MASK}" if "://" in url else MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if any(w in k.lower() for w in SECRET_QUERY_WORDS) else v) for k, v in pairs], safe="/*:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_from_parts(host: str, port: int, db: int) -> str:
    """The URL REDIS_HOST/REDIS_PORT/REDIS_DB describe (no password: that needs REDIS_URL)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host  # an IPv6 address
    return f"redis://{shown}:{port}/{db}"


def resolve_url(url: str, host: str = "127.0.0.1", port: int = 6379, db: int = 0) -> str:
    """REDIS_URL when set, else the URL of the older REDIS_HOST/PORT/DB settings."""
    return url.strip() or url_from_parts(host.strip() or "127.0.0.1", port, db)


def redis_url_problem(url: str, production: bool) -> Optional[str]:
    """What is wrong with this Redis URL, in a sentence that names REDIS_URL and never shows the password;
    None when it is usable. With `production`, a URL without a password is refused (Redis holds staff
    sessions, the outbox with personal data and the conversations)."""
    shown = mask_url(url)
    if not url.strip():
        return "REDIS_URL is empty (and so are REDIS_HOST/REDIS_PORT/REDIS_DB)"
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        return f"REDIS_URL={shown!r}: must start with redis://, rediss:// (TLS) or unix://"
    try:
        parts = urlsplit(url)
        _ = parts.port
        options = parse_url(url)
    except ValueError as error:  # redis-py's and urllib's messages hold no part of the URL
        return f"REDIS_URL={shown!r}: {error}"
    if scheme != "unix" and not parts.hostname:
        return f"REDIS_URL={shown!r}: no host (e.g. redis://:PASSWORD@127.0.0.1:6379/0)"
    if scheme != "unix" and parts.path not in ("", "/") and "db" not in options:
        return f"REDIS_URL={shown!r}: the path must be the database number (e.g. /0)"
    if options.get("username") and not options.get("password"):
        return (f"REDIS_URL={shown!r}: a user without a password; write redis://USER:PASSWORD@host:port/db "
                "(ACL user) or redis://:PASSWORD@host:port/db")
    if production and not options.get("password"):
        return (f"REDIS_URL={shown!r}: no password, and APP_ENV=production refuses a Redis without one: "
                "set REDIS_URL=redis://:PASSWORD@host:port/db (or rediss://USER:PASSWORD@host:port/db for TLS)")
    return None


def settings_problem(url: str, host: str, port: int, db: int, production: bool) -> Optional[str]:
    """redis_url_problem for the settings as written: REDIS_URL, or REDIS_HOST/PORT/DB when it is empty."""
    problem = redis_url_problem(resolve_url(url, host, port, db), production)
    if problem and not url.strip():
        return "REDIS_URL is empty; REDIS_HOST/PORT/DB give " + problem.removeprefix("REDIS_URL=")
    return problem


def production() -> bool:
    return env_str("APP_ENV", "development").lower() == "production"


def redis_url() -> str:
    """The Redis URL of this process's environment, checked (ConfigError naming REDIS_URL when unusable)."""
    parts = (env_str("REDIS_URL"), env_str("REDIS_HOST", "127.0.0.1"), env_int("REDIS_PORT", 6379, minimum=1),
             env_int("REDIS_DB", 0, minimum=0))
    problem = settings_problem(*parts, production=production())
    if problem:
        raise ConfigError(problem)
    return resolve_url(*parts)


def with_db(url: str, db: int) -> str:
    """The same Redis with another database number (tests and the bench keep their data apart this way)."""
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "db"], safe="/")
    if parts.scheme == "unix":  # the database goes in the query (urlunsplit would drop the empty host's //)
        query = urlencode([*parse_qsl(query, keep_blank_values=True), ("db", str(db))], safe="/")
        return f"unix://{parts.netloc}{parts.path}?{query}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", query, parts.fragment))


def env_for_db(environ: Mapping[str, str], db: int) -> Dict[str, str]:
    """The variables that point a child process (or a test) at database `db` of the configured Redis."""
    url = (environ.get("REDIS_URL") or "").strip()
    return {"REDIS_DB": str(db), "REDIS_URL": with_db(url, db) if url else ""}  # always set: endpoints.yml reads it


def url_db(url: str) -> int:
    return int(parse_url(url).get("db", 0))


def client_from_url(url: str, **kwargs: Any) -> redis.Redis:
    options = {**CLIENT_DEFAULTS, **kwargs}
    return redis.Redis.from_url(url, **options)


@functools.lru_cache(maxsize=8)
def shared_client(url: str, socket_timeout: float = CLIENT_DEFAULTS["socket_timeout"],
                  socket_connect_timeout: float = CLIENT_DEFAULTS["socket_connect_timeout"]) -> redis.Redis:
    """One pooled client per URL and timeouts, for a process's request paths: a new client per call would open
    a new connection each time (redis-py's pool is safe to share between threads)."""
    return client_from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=socket_connect_timeout)


def redis_from_env(**kwargs: Any) -> redis.Redis:
    """A client for REDIS_URL (or REDIS_HOST/PORT/DB); keyword arguments override the short timeouts."""
    return client_from_url(redis_url(), **kwargs)


def rasa_store_options(url: str) -> Dict[str, Any]:
    """The connection keywords Rasa 3.6's RedisTrackerStore/RedisLockStore constructors take, from a URL."""
    options = parse_url(url)
    return {
        "host": options.get("host", "localhost"),
        "port": int(options.get("port", 6379)),
        "db": int(options.get("db", 0)),
        "username": options.get("username"),
        "password": options.get("password"),
        "use_ssl": options.get("connection_class") is SSLConnection,
        "ssl_keyfile": options.get("ssl_keyfile"),
        "ssl_certfile": options.get("ssl_certfile"),
        "ssl_ca_certs": options.get("ssl_ca_certs"),
    }


def verify_at_start(url: Optional[str] = None) -> None:
    """A process's first contact: ConfigError (naming REDIS_URL) when Redis refuses the credentials, a logged
    warning when it is merely down (the health checks report that; clients retry on their own)."""
    unreachable = check_credentials(url or redis_url())
    if unreachable:
        logger.warning("%s; going on, it is used once it answers", unreachable)


def check_credentials(url: str, timeout: float = 2.0) -> Optional[str]:
    """Ping once at start. Redis refusing the credentials is a setting to fix, not an outage: ConfigError
    naming REDIS_URL (password masked). Redis unreachable right now: a masked description (the caller
    logs it and goes on; the health checks report it). None when Redis answers."""
    client = client_from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
        return None
    except redis.AuthenticationError as error:  # Redis's words never hold the password
        if parse_url(url).get("password"):
            reason = f"Redis refused the password (and user) in it ({str(error).rstrip('.')})"
        else:
            reason = "Redis wants a password and the URL has none"
        raise ConfigError(f"REDIS_URL={mask_url(url)!r}: {reason}; put the right password (and ACL user) in REDIS_URL") from None
    except redis.RedisError as error:
        return f"Redis at {mask_url(url)} (REDIS_URL) is not reachable now: {type(error).__name__}: {error}"
    finally:
        client.close()


@dataclass(frozen=True)
class ConversationKeys:
    """Where one conversation lives in Redis: Rasa's stores (rasa_addons) write these, the delivery
    worker erases them. One definition for both sides."""

    tracker: str  # Rasa's tracker: the conversation's events, a list (rasa_addons.tracker_store)
    session: str  # where the current session starts in that list, and its slots after the last turn
    lock_queue: str  # conversation lock: tickets in arrival order (rasa_addons.lock_store)
    lock_leases: str  # ticket -> lease expiry
    lock_seq: str  # arrival counter
    turns: str  # message ids of the stored turns (rasa_addons.tracker_store)
    language: str  # the language the channel last told Rasa (bot.chat.store.LanguageMemory)
    buttons: str  # payloads behind this conversation's Telegram buttons (bot.telegram.keyboards)
    choices: str  # payloads behind the numbered list last shown on WeChat (bot.wechat.choices)

    @property
    def lock(self) -> Tuple[str, str, str]:
        return (self.lock_queue, self.lock_leases, self.lock_seq)

    @property
    def all(self) -> Tuple[str, ...]:
        return (self.tracker, self.session, self.lock_queue, self.lock_leases, self.lock_seq, self.turns, self.language,
                self.buttons, self.choices)


def conversation_keys(conversation_id: str, prefix: str = KEY_PREFIX) -> ConversationKeys:
    lock = f"{prefix}:lock:{conversation_id}"
    return ConversationKeys(
        tracker=f"{prefix}:tracker:{conversation_id}",
        session=f"{prefix}:session:{conversation_id}",
        lock_queue=f"{lock}:q",
        lock_leases=f"{lock}:l",
        lock_seq=f"{lock}:n",
        turns=f"{prefix}:turns:{conversation_id}",
        language=f"{prefix}:chat:lang:{conversation_id}",
        buttons=f"{prefix}:telegram:buttons:{conversation_id}",
        choices=f"{prefix}:wechat:choices:{conversation_id}",
    )
