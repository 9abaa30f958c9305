#!/usr/bin/env bash
# Start the action server, the Rasa replicas and the web app (and the Telegram bridge when a token is set),
# wait until each answers, and stop them all on Ctrl-C. Logs go to var/log/.
set -u
cd "$(dirname "$0")/.."
mkdir -p var/log
pids=()
stop() { echo; echo "stopping..."; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; wait; exit 0; }
trap stop INT TERM

start() { # name, log, command...
  local name=$1 log=$2; shift 2
  "$@" >"var/log/$log" 2>&1 &
  pids+=($!)
  echo "started $name (pid $!, log var/log/$log)"
}
wait_http() { # name, url, seconds
  for _ in $(seq 1 "$3"); do
    if curl -fsS -o /dev/null "$2" 2>/dev/null; then echo "ready: $1 at $2"; return 0; fi
    sleep 1
  done
  echo "error: $1 did not answer at $2; see var/log/" >&2; stop
}

# Internal servers listen on RASA_HOST/ACTIONS_HOST (loopback by default); the action server takes calls
# only with ACTION_SERVER_SECRET, which Rasa sends (endpoints.yml).
start "action server" actions.log .venv-rasa/bin/python -m actions.server --actions actions --port "$ACTIONS_PORT" \
  --host "${ACTIONS_HOST:-127.0.0.1}" --logging-config-file rasa_logging.yml
# RASA_REPLICAS Rasa servers on RASA_PORT, RASA_PORT+1, ... share the Redis tracker and lock stores;
# the web app and the Telegram bridge spread conversations over them (RASA_URLS).
replicas=${RASA_REPLICAS:-2}
urls=()
for i in $(seq 0 $((replicas - 1))); do
  port=$((RASA_PORT + i))
  start "rasa replica $((i + 1))" "rasa-$port.log" .venv-rasa/bin/rasa run --model models/current.tar.gz --interface "${RASA_HOST:-127.0.0.1}" --port "$port" \
    --enable-api --auth-token "$RASA_AUTH_TOKEN" --endpoints endpoints.yml --credentials credentials.yml \
    --logging-config-file rasa_logging.yml
  urls+=("http://${RASA_HOST:-127.0.0.1}:$port")
done
RASA_URLS=${RASA_URLS:-$(IFS=,; echo "${urls[*]}")}
export RASA_URLS
# The web app's database (SQLite under var/ unless DATABASE_URL says otherwise) must be on the latest schema.
.venv-app/bin/python -m bot.db upgrade >var/log/migrations.log 2>&1 \
  || { echo "error: database migration failed; see var/log/migrations.log" >&2; stop; }
start "web app" app.log .venv-app/bin/uvicorn bot.main:app --host 127.0.0.1 --port "$APP_PORT"
# Takes leads from the Redis outbox to the intake, retrying until each is stored.
start "delivery worker" delivery.log .venv-app/bin/python -m bot.leads.delivery run
# Copies the conversation funnel from Redis into the database each minute: the dashboard's counts survive a Redis restart.
start "funnel sync" funnel-sync.log .venv-app/bin/python -m bot.staff funnel-sync --every 60
if [ -n "${TELEGRAM_BOT_TOKEN:-}" ]; then
  start "telegram bridge" telegram.log .venv-app/bin/python -m bot.telegram
fi
wait_http "action server" "http://${ACTIONS_HOST:-127.0.0.1}:$ACTIONS_PORT/health" 120
wait_http "web app" "http://127.0.0.1:$APP_PORT/healthz" 60
for url in ${RASA_URLS//,/ }; do
  wait_http "rasa" "$url/webhooks/health/ready" 240
done
wait_http "web app (ready)" "http://127.0.0.1:$APP_PORT/readyz" 60
cat <<MSG

All up. Try:
  open http://127.0.0.1:$APP_PORT/ (the chat widget), or
  curl -s localhost:$APP_PORT/api/chat -H 'Content-Type: application/json' \\
    -d '{"message":"What is the City Partner program?"}'
Ctrl-C stops everything.
MSG
wait
