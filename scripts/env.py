"""`python -m scripts.env -- <command>`: run a command with the project's configuration.

The development defaults in .env.example, then the git-ignored .env, read with dotenv's rules and taken
as written: a secret holding `$` or `#` reaches the processes unchanged (Make's `include` would expand
or cut it). A variable already set in the environment wins over both files, so `REDIS_DB=15 make test`
means what it says.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]
FILES = (".env.example", ".env")


def environment(root: Path = ROOT, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    merged: Dict[str, str] = {}
    for name in FILES:
        path = root / name
        if path.is_file():
            merged.update({k: v for k, v in dotenv_values(path, interpolate=False).items() if v is not None})
    return {**merged, **(dict(os.environ) if base is None else base)}


def main(argv: List[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print("usage: python -m scripts.env -- <command> [args...]", file=sys.stderr)
        return 2
    os.execvpe(argv[0], argv, environment())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
