#!/usr/bin/env bash
# Start the action server, the Rasa replicas and the web app (and the Telegram bridge when a token is set),
# wait until each answers, and stop them all on Ctrl-C. Logs go to var/log/. Each process runs under
# scripts/supervise.py, which restarts it with a back-off whenever it dies ("restarted <name> (exit <code>)").
# Command lines come from deploy/processes.yml (python -m scripts.processes), as in the images and manifests.
# RUN_ALL_DRY_RUN=1 prints what would be started ("would start <name>: <command>") and starts nothing.
set -u
cd "$(dirname "$0")/.."
mkdir -p var/log
pids=()
stop() { echo; echo "stopping..."; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; wait; exit 0; }
trap stop INT TERM

start() { # name, log, [--every SECONDS,] command...: kept running by the supervisor, which says "started ..."
  local name=$1 log=$2 every=(); shift 2
  if [ "$1" = --every ]; then every=(--every "$2"); shift 2; fi
  if [ -n "${RUN_ALL_DRY_RUN:-}" ]; then printf 'would start %s%s:' "$name" "${every[*]:+ (${every[*]})}"; printf ' %q' "$@"; echo; return; fi
  : >"var/log/$log"
  .venv-app/bin/python -m scripts.supervise --name "$name" --log "var/log/$log" "${every[@]}" -- "$@" &
  pids+=($!)
}
command_of() { # process [VAR=VALUE...]: its command line from deploy/processes.yml, into the array `cmd`
  local file; file=$(mktemp)
  .venv-app/bin/python -m scripts.processes local "$@" >"$file" || { rm -f "$file"; echo "error: no command line for $1" >&2; stop; }
  mapfile -d '' -t cmd <"$file"; rm -f "$file"
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
command_of actions
start "action server" actions.log "${cmd[@]}"
# RASA_REPLICAS Rasa servers on RASA_PORT, RASA_PORT+1, ... share the Redis tracker and lock stores;
# the web app and the Telegram bridge spread conversations over them (RASA_URLS).
replicas=${RASA_REPLICAS:-2}
urls=()
for i in $(seq 0 $((replicas - 1))); do
  port=$((RASA_PORT + i))
  command_of rasa RASA_PORT="$port"
  start "rasa replica $((i + 1))" "rasa-$port.log" "${cmd[@]}"
  urls+=("http://${RASA_HOST:-127.0.0.1}:$port")
done
RASA_URLS=${RASA_URLS:-$(IFS=,; echo "${urls[*]}")}
export RASA_URLS
# The web app's database (SQLite under var/ unless DATABASE_URL says otherwise) must be on the latest schema.
command_of migrate
if [ -n "${RUN_ALL_DRY_RUN:-}" ]; then printf 'would run migrations:'; printf ' %q' "${cmd[@]}"; echo
else "${cmd[@]}" >var/log/migrations.log 2>&1 \
  || { echo "error: database migration failed; see var/log/migrations.log" >&2; stop; }
fi
command_of web  # on APP_HOST (127.0.0.1: put your TLS proxy in front)
start "web app" app.log "${cmd[@]}"
# Takes leads from the Redis outbox to the intake, retrying until each is stored.
command_of worker
start "delivery worker" delivery.log "${cmd[@]}"
# Deletes what is older than the consent notice's retention period: now, then every RETENTION_INTERVAL_SECONDS.
command_of retention
start "retention job" retention.log --every "$(.venv-app/bin/python -m scripts.processes every retention)" "${cmd[@]}"
# Copies the conversation funnel from Redis into the database each minute: the dashboard's counts survive a
# Redis restart.
command_of funnel
start "funnel sync" funnel-sync.log "${cmd[@]}"
if [ -n "${TELEGRAM_BOT_TOKEN:-}" ]; then
  command_of telegram
  start "telegram bridge" telegram.log "${cmd[@]}"
fi
if [ -n "${RUN_ALL_DRY_RUN:-}" ]; then exit 0; fi
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
