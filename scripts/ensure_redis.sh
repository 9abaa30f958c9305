#!/usr/bin/env bash
# Make sure Redis answers at $REDIS_HOST:$REDIS_PORT: start a local one (installing it as root
# if missing) or say clearly what to do.
set -u
host=${REDIS_HOST:-127.0.0.1}
port=${REDIS_PORT:-6379}
ping() { (exec 3<>"/dev/tcp/$host/$port" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
if ping; then echo "redis: reachable at $host:$port"; exit 0; fi
if [ "$host" != "127.0.0.1" ] && [ "$host" != "localhost" ]; then
  echo "error: Redis at $host:$port is not reachable; start it or set REDIS_HOST/REDIS_PORT in .env" >&2; exit 1
fi
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis: not installed, installing with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "error: redis-server is not installed; install it (e.g. sudo apt-get install redis-server) and re-run" >&2; exit 1
  fi
fi
echo "redis: starting a local server on $host:$port"
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no >/dev/null
for _ in $(seq 1 50); do ping && { echo "redis: up"; exit 0; }; sleep 0.1; done
echo "error: redis-server did not come up on port $port" >&2; exit 1
