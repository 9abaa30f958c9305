#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 needs 3.8-3.10): PATH first, then pyenv.
set -u
works() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }
for candidate in "$(command -v python3.10 2>/dev/null)" /usr/bin/python3.10 /usr/local/bin/python3.10; do
  if works "$candidate"; then echo "$candidate"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  prefix=$(pyenv prefix 3.10 2>/dev/null | head -n1)
  if [ -z "$prefix" ]; then
    version=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -V | tail -n1)
    [ -n "$version" ] && prefix="$(pyenv root)/versions/$version"
  fi
  if works "$prefix/bin/python3.10"; then echo "$prefix/bin/python3.10"; exit 0; fi
fi
cat >&2 <<'MSG'
error: no Python 3.10 interpreter found (Rasa 3.6 needs Python 3.8-3.10).
  looked for: python3.10 on PATH, /usr/bin/python3.10, pyenv's 3.10.
  fix: `pyenv install 3.10` (then re-run), or install python3.10 from your distribution.
MSG
exit 1
