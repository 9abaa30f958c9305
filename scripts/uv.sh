#!/usr/bin/env bash
# Run uv, installing it with pip first if this machine has none.
set -u
UV_VERSION=0.13.8
if command -v uv >/dev/null 2>&1; then exec uv "$@"; fi
if python3 -m uv --version >/dev/null 2>&1; then exec python3 -m uv "$@"; fi
echo "setup: installing uv $UV_VERSION with pip" >&2
python3 -m pip install --quiet "uv==$UV_VERSION" >&2 || python3 -m pip install --quiet --user "uv==$UV_VERSION" >&2 \
  || { echo "error: could not install uv; install it (pip install uv) and re-run" >&2; exit 1; }
exec python3 -m uv "$@"
