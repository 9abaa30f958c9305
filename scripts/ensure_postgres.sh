#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 with a `test` database (the intake tests run on
# it): start the local cluster, or install it as root, or say clearly what to do.
set -u
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "postgres: not installed, installing with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || exit 1
  else
    echo "error: PostgreSQL is not installed; install it (sudo apt-get install postgresql) or set TEST_DATABASE_URL" >&2; exit 1
  fi
fi
if ! ready && command -v pg_ctlcluster >/dev/null 2>&1; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  [ -n "$version" ] && { echo "postgres: starting cluster $version/main"; pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null; }
  for _ in $(seq 1 50); do ready && break; sleep 0.2; done
fi
ready || { echo "error: PostgreSQL is not answering on 127.0.0.1:5432; start it or set TEST_DATABASE_URL" >&2; exit 1; }
# The tests connect as postgres without a password (trust on loopback, as on the project's machines).
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    su postgres -c "createdb test" 2>/dev/null
    hba=$(su postgres -c "psql -tAc 'show hba_file'" 2>/dev/null)
    if [ -n "$hba" ] && ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
      sed -i '1i host all all 127.0.0.1/32 trust' "$hba" && su postgres -c "psql -qc 'select pg_reload_conf()'" >/dev/null
    fi
  fi
  psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1 \
    || { echo "error: cannot connect as postgres to database test on 127.0.0.1; set TEST_DATABASE_URL" >&2; exit 1; }
fi
echo "postgres: reachable at 127.0.0.1:5432 (database test)"
