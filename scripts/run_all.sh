#!/usr/bin/env bash
# Start the action server, Rasa and the web app (and the Telegram bridge when a token is set),
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

start "action server" actions.log .venv-rasa/bin/rasa run actions --actions actions --port "$ACTIONS_PORT" \
  --logging-config-file rasa_logging.yml
start "rasa" rasa.log .venv-rasa/bin/rasa run --model models/current.tar.gz --port "$RASA_PORT" \
  --enable-api --auth-token "$RASA_AUTH_TOKEN" --endpoints endpoints.yml --credentials credentials.yml \
  --logging-config-file rasa_logging.yml
# The web app's database (SQLite under var/ unless DATABASE_URL says otherwise) must be on the latest schema.
.venv-app/bin/python -m bot.db upgrade >var/log/migrations.log 2>&1 \
  || { echo "error: database migration failed; see var/log/migrations.log" >&2; stop; }
start "web app" app.log .venv-app/bin/uvicorn bot.main:app --host 127.0.0.1 --port "$APP_PORT"
# Takes leads from the Redis outbox to the intake, retrying until each is stored.
start "delivery worker" delivery.log .venv-app/bin/python -m bot.leads.delivery run
if [ -n "${TELEGRAM_BOT_TOKEN:-}" ]; then
  start "telegram bridge" telegram.log .venv-app/bin/python -m bot.telegram
fi
wait_http "action server" "http://127.0.0.1:$ACTIONS_PORT/health" 120
wait_http "web app" "http://127.0.0.1:$APP_PORT/healthz" 60
wait_http "rasa" "http://127.0.0.1:$RASA_PORT/status?token=$RASA_AUTH_TOKEN" 180
cat <<MSG

All up. Try:
  curl -s localhost:$RASA_PORT/webhooks/rest/webhook -H 'Content-Type: application/json' \\
    -d '{"sender":"me","message":"What is the City Partner program?"}'
Ctrl-C stops everything.
MSG
wait
