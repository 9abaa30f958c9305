"""Long replies cut into messages a channel accepts: one algorithm, each channel with its own measure (Telegram
counts UTF-16 units, WeChat UTF-8 bytes) and its own places to cut."""

from __future__ import annotations

from typing import Callable, List, Sequence

Size = Callable[[str], int]


def longest_prefix(text: str, limit: int, size: Size) -> int:
    """The longest prefix length (in characters) whose size fits `limit` (sizes grow with the prefix)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if size(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def split(text: str, limit: int, size: Size, separators: Sequence[str], kept: Sequence[str] = ()) -> List[str]:
    """Pieces of at most `limit`, cut at the first of `separators` found (in order of preference) in the window
    that fits, else anywhere. A separator in `kept` stays at the end of the piece before the cut."""
    pieces: List[str] = []
    rest = text.strip()
    while rest:
        if size(rest) <= limit:
            pieces.append(rest)
            break
        window = rest[: longest_prefix(rest, limit, size)]
        for separator in separators:
            at = window.rfind(separator)
            if at > 0:
                at += len(separator) if separator in kept else 0
                break
        else:
            at = len(window)
        piece, rest = rest[:at].rstrip(), rest[at:].lstrip()
        if piece:
            pieces.append(piece)
    return pieces
