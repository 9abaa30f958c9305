"""`python -m scripts.redis_check ping|local-config`: scripts/ensure_redis.sh's view of the configured Redis.

ping          exit 0 when Redis answers with these credentials, 2 when the setting is wrong (a bad REDIS_URL or
              a password Redis refuses: a fix, not a restart), 1 when nothing answers. Messages mask the password.
local-config  for a Redis to start on this machine: its redis-server configuration (port, loopback, and the
              URL's password or ACL user) on stdout, to be piped into `redis-server -` so the password never
              shows in a process list. Exit 1 when the URL is not a plain local redis:// one.
"""

from __future__ import annotations

import sys
from typing import List, Optional

from redis.connection import parse_url

from bot.shared.config import ConfigError
from bot.shared.redis_conn import check_credentials, mask_url, redis_url

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def local_config(url: str) -> Optional[List[str]]:
    """redis-server configuration lines for the URL's local Redis, or None when it is not one we may start."""
    if not url.startswith("redis://"):
        return None
    options = parse_url(url)
    if options.get("host", "localhost") not in LOCAL_HOSTS:
        return None
    lines = [f"port {int(options.get('port', 6379))}", "bind 127.0.0.1", 'save ""', "appendonly no"]
    password = options.get("password")
    if password and options.get("username"):  # an ACL user with every right; the default user is switched off
        lines += [f"user {_quoted(options['username'])} on {_quoted('>' + password)} ~* &* +@all", "user default off"]
    elif password:
        lines.append(f"requirepass {_quoted(password)}")
    return lines


def main(argv: List[str]) -> int:
    command = argv[0] if argv else ""
    try:
        url = redis_url()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if command == "ping":
        try:
            unreachable = check_credentials(url)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if unreachable:
            print(unreachable, file=sys.stderr)
            return 1
        print(f"redis: reachable at {mask_url(url)}")
        return 0
    if command == "local-config":
        lines = local_config(url)
        if lines is None:
            print(f"error: Redis at {mask_url(url)} (REDIS_URL) is not reachable and is not a local redis:// server "
                  "this script may start; start it, or fix REDIS_URL in .env", file=sys.stderr)
            return 1
        print("\n".join(lines))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
