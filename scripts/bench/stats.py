"""Percentiles and the summary of one load level (pure functions, unit-tested)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class LoadSummary:
    """What one load level measured: latencies in milliseconds, rate in successful requests per second."""

    label: str
    concurrency: int
    requests: int  # answered with a success status (these are the latencies)
    errors: int  # failed: no answer or an error status
    elapsed_s: float
    p50_ms: Optional[float]  # None when nothing was answered
    p95_ms: Optional[float]
    mean_ms: Optional[float]
    max_ms: Optional[float]
    rate_per_s: float
    empty: int = 0  # chat messages answered with nothing to show (counted in requests too)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def summarize(
    label: str, concurrency: int, latencies_s: Sequence[float], errors: int, elapsed_s: float, empty: int = 0
) -> LoadSummary:
    """Summarise the latencies (seconds) of the successful requests of one level that took elapsed_s in all."""
    ms = [value * 1000 for value in latencies_s]

    def stat(value: Optional[float]) -> Optional[float]:
        return None if value is None else round(value, 2)

    return LoadSummary(
        label=label,
        concurrency=concurrency,
        requests=len(ms),
        errors=errors,
        elapsed_s=round(elapsed_s, 3),
        p50_ms=stat(percentile(ms, 50) if ms else None),
        p95_ms=stat(percentile(ms, 95) if ms else None),
        mean_ms=stat(sum(ms) / len(ms) if ms else None),
        max_ms=stat(max(ms) if ms else None),
        rate_per_s=round(len(ms) / elapsed_s, 2) if elapsed_s > 0 else 0.0,
        empty=empty,
    )
