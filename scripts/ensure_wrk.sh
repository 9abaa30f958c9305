#!/usr/bin/env bash
# The intake bench's load generator: wrk from Debian's packages (scripts/bench/intake.py). Installed with
# apt-get as root when missing; otherwise say what to do. `make bench` then uses its Python clients and says so;
# with --required (`make test`: tests/scripts/test_bench_intake.py drives it) a missing wrk is an error.
set -u
command -v wrk >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "wrk: not installed, installing Debian's wrk with apt-get" >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; }; } \
    && exit 0
fi
if [ "${1:-}" = --required ]; then
  echo "error: wrk not found; install it (sudo apt-get install wrk)" >&2
  exit 1
fi
echo "note: wrk not found (sudo apt-get install wrk); the intake bench falls back to Python clients," \
     "which may be the limit for the bare endpoint" >&2
exit 0
