"""results/bench.png: the comparison at a glance (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from scripts.bench.report import LEVEL_ORDER  # noqa: E402

COLOURS = {"stock": "#9e9e9e", "ours": "#c62828", "ours_gateway": "#1565c0"}
EXTRA_COLOURS = ["#2e7d32", "#6a1b9a", "#ef6c00"]
LABELS = {"stock": "stock rasa init", "ours": "ours (REST)", "ours_gateway": "ours via gateway, 2 replicas"}
Series = Dict[str, List[Optional[float]]]


def _value(data: Any, *path: str) -> Optional[float]:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return float(data) if isinstance(data, (int, float)) and not isinstance(data, bool) else None


def _label(value: Optional[float], fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def _grouped(
    ax: Axes,
    groups: Sequence[str],
    series: Series,
    colours: Mapping[str, str],
    fmt: str = "{:.0f}",
    whiskers: Optional[Series] = None,
) -> None:
    """Bars per group, one per series, each labelled with its value; series without any value are left out
    ("not measured" when none is left). whiskers: a second value per bar (p95) drawn as a line above it."""
    series = {name: values for name, values in series.items() if any(v is not None for v in values)}
    if not series:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="#757575")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    width = 0.8 / len(series)
    for index, (name, values) in enumerate(series.items()):
        xs = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, [v or 0.0 for v in values], width * 0.92, color=colours.get(name))
        tops = (whiskers or {}).get(name) or [None] * len(values)
        for x, value, top in zip(xs, values, tops, strict=True):
            if value is not None and top is not None and top > value:
                ax.vlines(x, value, top, color="#212121", linewidth=1)
                ax.hlines(top, x - width * 0.2, x + width * 0.2, color="#212121", linewidth=1)
        for bar, value, top in zip(bars, values, tops, strict=True):
            ax.annotate(
                _label(value, fmt),
                (bar.get_x() + bar.get_width() / 2, max(bar.get_height(), top or 0.0)),
                ha="center",
                va="bottom",
                fontsize=6.5,
                xytext=(0, 1),
                textcoords="offset points",
            )
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)


def _colours(keys: Sequence[str]) -> Dict[str, str]:
    extra = iter(EXTRA_COLOURS)
    return {key: COLOURS.get(key) or next(extra, "#000000") for key in keys}


def render(results: Mapping[str, Any], path: Path) -> None:
    bots: Mapping[str, Mapping[str, Any]] = results.get("bots", {})
    keys = list(bots)
    colours = _colours(keys)
    fig, axes = plt.subplots(3, 3, figsize=(17, 14))
    started = results.get("meta", {}).get("started", "")
    fig.suptitle(f"This assistant vs a stock `rasa init` bot — one run, one machine, one bot at a time ({started})", fontsize=13)

    levels = [level for level in LEVEL_ORDER if any(level in bot.get("load", {}) for bot in bots.values())]
    names = ["sequential" if level == "sequential" else f"{level[1:]} at once" for level in levels]

    def per_level(key: str, field: str) -> List[Optional[float]]:
        return [_value(bots[key], "load", level, field) for level in levels]

    ax = axes[0][0]
    p50 = {key: [*per_level(key, "p50_ms"), _value(bots[key], "parse", "p50_ms")] for key in keys}
    p95 = {key: [*per_level(key, "p95_ms"), _value(bots[key], "parse", "p95_ms")] for key in keys}
    _grouped(ax, [*names, "/model/parse\n(NLU only)"], p50, colours, whiskers=p95)
    ax.set_yscale("log")
    ax.set_title("Per-message latency (ms, log scale): bar p50, whisker p95", fontsize=10)

    ax = axes[0][1]
    _grouped(ax, names, {key: per_level(key, "rate_per_s") for key in keys}, colours)
    ax.set_title("Throughput (messages/s; conversations at once)", fontsize=10)

    ax = axes[0][2]
    startup = {key: [_value(bots[key], "startup", "http_up_s"), _value(bots[key], "startup", "first_answer_s")] for key in keys}
    _grouped(ax, ["spawn → Rasa answers HTTP", "spawn → first answer"], startup, colours, fmt="{:.1f}")
    ax.set_title("Start-up (s)", fontsize=10)

    ax = axes[1][0]
    training = {
        key: [
            _value(bots[key], "training", "full_s"),
            _value(bots[key], "training", "retrain_rasa_cache_s"),
            _value(bots[key], "training", "retrain_make_model_s"),
        ]
        for key in keys
    }
    _grouped(ax, ["full (rasa train --force)", "unchanged: rasa train", "unchanged: make model"], training, colours, "{:.1f}")
    ax.axhline(15, color="#ef6c00", linestyle="--", linewidth=1)
    ax.annotate("15 s target (unchanged)", (2.45, 15), fontsize=7, color="#ef6c00", va="bottom", ha="right")
    ax.set_title("Training time (s)", fontsize=10)

    ax = axes[1][1]
    memory = {key: [_value(bots[key], "memory", "rasa_rss_mb"), _value(bots[key], "memory", "others_rss_mb")] for key in keys}
    _grouped(ax, ["Rasa server(s)", "other processes\n(action server, gateway)"], memory, colours)
    ax.axhline(1024, color="#ef6c00", linestyle="--", linewidth=1)
    ax.annotate("1 GiB target (one Rasa server)", (1.45, 1024), fontsize=7, color="#ef6c00", va="bottom", ha="right")
    ax.set_title("Resident memory after the load test (MiB)", fontsize=10)

    ax = axes[1][2]
    intake = results.get("intake", {})
    rates = {"intake": [_value(intake, "intake", "rate_per_s"), _value(intake, "intake_postgres", "rate_per_s"),
                        _value(intake, "bare", "rate_per_s")]}
    _grouped(ax, ["our intake (SQLite)", "our intake (PostgreSQL)", "bare FastAPI endpoint"], rates, {"intake": "#00838f"})
    ax.set_title(f"POST /api/leads, {intake.get('concurrency', '?')} concurrent clients (requests/s)", fontsize=10)

    for column, (label, title) in enumerate((("single", "one sender"), ("concurrent", "several senders at once"))):
        ax = axes[2][column]
        for key in keys:
            long = bots[key].get("long", {}).get(label) or {}
            series = long.get("p50_ms_by_turn") or []
            points = [(n + 1, v) for n, v in enumerate(series) if v is not None]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], color=colours[key], linewidth=0.9,
                        label=f"{LABELS.get(key, key)} (x{long.get('growth')})")
        ax.set_xlabel("turn number in the conversation", fontsize=8)
        ax.set_ylabel("p50 latency (ms)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_title(f"Long conversations, {title}: latency by turn (last 20 / first 20)", fontsize=10)
        if ax.lines:
            ax.legend(fontsize=7)
    axes[2][2].axis("off")

    handles = [Patch(color=colours[key], label=LABELS.get(key, key)) for key in keys]
    fig.legend(handles=handles, loc="upper center", ncol=max(len(handles), 1), bbox_to_anchor=(0.5, 0.955), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
