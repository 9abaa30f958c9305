"""`python -m scripts.healthcheck URL [--timeout SECONDS]`: exit 0 when URL answers 2xx, 1 otherwise.

The containers' health check (compose.yaml): the images have no curl, and a probe should need nothing the
process itself does not. Standard library only (Python 3.10 and 3.11). It says why it failed in one line.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from typing import List, Optional


def check(url: str, timeout: float) -> Optional[str]:
    """None when `url` answers 2xx; otherwise why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.healthcheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"{args.url!r} is not an http(s) URL")
    problem = check(args.url, args.timeout)
    if problem:
        print(f"unhealthy: {args.url}: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
