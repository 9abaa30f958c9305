#!/usr/bin/env bash
# Make sure the Redis of REDIS_URL (else REDIS_HOST/PORT/DB) answers with its credentials: start a local one
# (installing it as root if missing; with the URL's password or ACL user) or say clearly what to do.
# The password never appears in output or in the process list (the config goes to redis-server on stdin).
set -u
py=${APP_PY:-.venv-app/bin/python}
msg=$("$py" -m scripts.redis_check ping 2>&1); rc=$?
if [ "$rc" = 0 ]; then echo "$msg"; exit 0; fi
if [ "$rc" = 2 ]; then echo "$msg" >&2; exit 1; fi  # a setting to fix (bad URL, refused password), not a restart
config=$("$py" -m scripts.redis_check local-config) || exit 1
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis: not installed, installing with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "error: redis-server is not installed; install it (e.g. sudo apt-get install redis-server) and re-run" >&2; exit 1
  fi
fi
port=$(printf '%s\n' "$config" | sed -n 's/^port //p')
echo "redis: starting a local server on 127.0.0.1:$port"
printf '%s\ndaemonize yes\n' "$config" | redis-server - >/dev/null
for _ in $(seq 1 50); do "$py" -m scripts.redis_check ping 2>/dev/null && { echo "redis: up"; exit 0; }; sleep 0.1; done
"$py" -m scripts.redis_check ping; echo "error: redis-server did not come up on port $port" >&2; exit 1
