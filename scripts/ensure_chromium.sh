#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (Playwright's own browser downloads fail here).
# Print its path; install it with apt-get as root when missing, or say what to do.
set -u
path=${CHROMIUM_PATH:-/usr/bin/chromium}
# A Chinese font, so screenshots of Chinese text show characters rather than boxes.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk"; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1 || true
fi
if [ -x "$path" ]; then echo "$path"; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed, installing Debian's chromium with apt-get" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { echo "error: apt-get could not install chromium" >&2; exit 1; }
  [ -x "$path" ] && { echo "$path"; exit 0; }
fi
echo "error: Chromium not found at $path; install it (sudo apt-get install chromium) or set CHROMIUM_PATH" >&2
exit 1
