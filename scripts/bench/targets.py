"""The targets of the comparison and their verdicts (pure functions on results/bench.json's content).

A missed target is reported, never an error: `passed` is True, False, or None when it was not measured.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence

GIB_MB = 1024.0


@dataclass(frozen=True)
class Verdict:
    name: str
    goal: str  # the target in words, e.g. "≤ 1/3 of stock"
    ours: Optional[float]
    reference: Optional[float]  # stock's (or the bare endpoint's) figure, None for an absolute limit
    unit: str
    ratio: Optional[float]  # ours / reference
    passed: Optional[bool]
    note: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def relative(
    name: str,
    ours: Any,
    reference: Any,
    unit: str,
    *,
    at_most: Optional[float] = None,
    at_least: Optional[float] = None,
    goal: str,
) -> Verdict:
    """ours / reference must be ≤ at_most (or ≥ at_least)."""
    mine, theirs = _number(ours), _number(reference)
    if mine is None or theirs is None or theirs == 0:
        return Verdict(name, goal, mine, theirs, unit, None, None, "not measured")
    ratio = mine / theirs
    passed = (at_most is None or ratio <= at_most) and (at_least is None or ratio >= at_least)
    return Verdict(name, goal, mine, theirs, unit, round(ratio, 3), passed)


def absolute(name: str, ours: Any, limit: float, unit: str, *, goal: str, reference: Any = None) -> Verdict:
    """ours must be below limit; reference (e.g. stock's figure) is shown, not judged."""
    mine = _number(ours)
    if mine is None:
        return Verdict(name, goal, None, _number(reference), unit, None, None, "not measured")
    theirs = _number(reference)
    ratio = round(mine / theirs, 3) if theirs else None
    return Verdict(name, goal, mine, theirs, unit, ratio, mine < limit)


def both(name: str, goal: str, parts: Sequence[Verdict], note: str = "") -> Verdict:
    """One row for a target made of several conditions; figures and ratio from the first part."""
    first = parts[0]
    if any(part.passed is None for part in parts):
        passed: Optional[bool] = None
    else:
        passed = all(part.passed for part in parts)
    return Verdict(name, goal, first.ours, first.reference, first.unit, first.ratio, passed, note)


def _get(data: Mapping[str, Any], *path: str) -> Any:
    current: Any = data
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return None
        current = current[key]
    return current


def _cpu_note(ours: Any, reference: Any, per: str) -> str:
    mine, theirs = _number(ours), _number(reference)
    return f"server CPU {mine:.1f} vs {theirs:.1f} ms/{per}" if mine is not None and theirs is not None else ""


def _twenty_concurrent(name: str, bot: Mapping[str, Any], stock: Mapping[str, Any]) -> Verdict:
    """At 20 concurrent conversations: ≥ 3× stock's throughput, and our p95 under 500 ms."""
    p95 = _get(bot, "load", "c20", "p95_ms")
    throughput = relative(
        f"{name}: throughput",
        _get(bot, "load", "c20", "rate_per_s"),
        _get(stock, "load", "c20", "rate_per_s"),
        "msg/s",
        at_least=3.0,
        goal="≥ 3× stock",
    )
    latency = absolute(f"{name}: p95", p95, 500.0, "ms", goal="< 500 ms")
    note = f"our p95 {p95:.0f} ms" if latency.ours is not None else ""
    return both(name, "≥ 3× stock, p95 < 500 ms", [throughput, latency], note)


def _sequential(name: str, bot: Mapping[str, Any], stock: Mapping[str, Any], figure: str, at_most: float,
                goal: str) -> Verdict:
    """One figure of the sequential load (ms per message), ours against stock's."""
    return relative(name, _get(bot, "load", "sequential", figure), _get(stock, "load", "sequential", figure), "ms",
                    at_most=at_most, goal=goal)


def _gateway_targets(gateway: Mapping[str, Any], ours: Mapping[str, Any], stock: Mapping[str, Any]) -> List[Verdict]:
    """The user's path (gateway, 2 replicas): p50 and server CPU at most 1/2 of stock's REST figures; and what
    the gateway adds, its path's server CPU per message less the REST path's, at most 3 ms: measured
    interleaved when the run did (`front`), else the difference of the two separate runs (older results)."""
    latency = _sequential("gateway path: per-message p50, sequential", gateway, stock, "p50_ms", 0.5, "≤ 1/2 of stock")
    cpu = _sequential("gateway path: server CPU per message", gateway, stock, "server_cpu_ms_per_msg", 0.5,
                      "≤ 1/2 of stock")
    rest = _number(_get(ours, "load", "sequential", "server_cpu_ms_per_msg"))
    interleaved = _number(_get(gateway, "front", "added_cpu_ms_per_msg"))
    if interleaved is not None:
        figure, note = interleaved, (f"interleaved: {_get(gateway, 'front', 'front_cpu_ms_per_msg')} vs "
                                     f"{_get(gateway, 'front', 'direct_cpu_ms_per_msg')} ms/msg")
    else:
        figure, note = (None if cpu.ours is None or rest is None else round(cpu.ours - rest, 2)), ""
    added = absolute("gateway's own CPU per message (gateway path − REST path)", figure, 3.0, "ms", goal="≤ 3 ms")
    if note:
        added = replace(added, note=note)
    return [
        both(latency.name, "p50 and CPU ≤ 1/2 of stock", [latency, cpu],
             f"server CPU {cpu.ours:.1f} vs {cpu.reference:.1f} ms/msg ({cpu.ratio:.2f}×)" if cpu.ratio is not None else ""),
        added,
    ]


def evaluate(results: Mapping[str, Any]) -> List[Verdict]:
    """The targets, from a results dict shaped like results/bench.json."""
    ours = _get(results, "bots", "ours") or {}
    stock = _get(results, "bots", "stock") or {}
    gateway = _get(results, "bots", "ours_gateway")  # the layout `make run` starts: gateway + 2 replicas
    intake = _get(results, "intake") or {}
    sequential = _sequential("per-message p50, sequential", ours, stock, "p50_ms", 1 / 3, "≤ 1/3 of stock")
    rate_pg = relative(
        "intake rate on PostgreSQL",
        _get(intake, "intake_postgres", "rate_per_s"),
        _get(intake, "bare", "rate_per_s"),
        "req/s",
        at_least=0.5,
        goal="≥ 1/2 of a bare endpoint",
    )
    rate = relative(
        "intake rate (POST /api/leads)",
        _get(intake, "intake", "rate_per_s"),
        _get(intake, "bare", "rate_per_s"),
        "req/s",
        at_least=0.5,
        goal="≥ 1/2 of a bare endpoint",
    )
    return [
        both(
            sequential.name,
            sequential.goal,
            [sequential],
            _cpu_note(
                _get(ours, "load", "sequential", "server_cpu_ms_per_msg"),
                _get(stock, "load", "sequential", "server_cpu_ms_per_msg"),
                "msg",
            ),
        ),
        _twenty_concurrent("20 concurrent: throughput, and our p95", ours, stock),
        *(_gateway_targets(gateway, ours, stock) if gateway else []),
        *([_twenty_concurrent("20 concurrent via the gateway, 2 replicas (make run)", gateway, stock)] if gateway else []),
        relative(
            "start to first answer",
            _get(ours, "startup", "first_answer_s"),
            _get(stock, "startup", "first_answer_s"),
            "s",
            at_most=0.5,
            goal="≤ 1/2 of stock",
        ),
        absolute(
            "Rasa resident memory after load",
            _get(ours, "memory", "rasa_rss_mb"),
            GIB_MB,
            "MiB",
            goal="< 1 GiB",
            reference=_get(stock, "memory", "rasa_rss_mb"),
        ),
        absolute(
            "unchanged retrain (make model)",
            _get(ours, "training", "retrain_make_model_s"),
            15.0,
            "s",
            goal="< 15 s",
            reference=_get(stock, "training", "retrain_rasa_cache_s"),
        ),
        *[
            relative(
                f"long conversation ({label}): last 20 turns vs first 20, p50",
                _get(bot, "long", "single", "last20_p50_ms"),
                _get(bot, "long", "single", "first20_p50_ms"),
                "ms",
                at_most=1.2,
                goal="≤ 1.2×",
            )
            for label, bot in (("ours, REST", ours), ("gateway, 2 replicas", gateway or {}))
            if _get(bot, "long", "single")
        ],
        rate_pg,
        both(
            rate.name,
            rate.goal,
            [rate],
            _cpu_note(
                _get(intake, "intake", "server_cpu_ms_per_request"), _get(intake, "bare", "server_cpu_ms_per_request"), "request"
            ),
        ),
    ]
