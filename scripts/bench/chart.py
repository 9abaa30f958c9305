"""results/bench.png: the comparison at a glance (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from scripts.bench.report import LEVEL_ORDER  # noqa: E402

COLOURS = {"stock": "#9e9e9e", "ours": "#c62828"}
EXTRA_COLOURS = ["#1565c0", "#2e7d32", "#6a1b9a"]


def _value(data: Any, *path: str) -> Optional[float]:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return float(data) if isinstance(data, (int, float)) and not isinstance(data, bool) else None


def _grouped(
    ax: Axes,
    groups: Sequence[str],
    series: Mapping[str, Sequence[Optional[float]]],
    colours: Mapping[str, str],
    fmt: str = "{:.0f}",
) -> None:
    """Bars per group, one per series, each labelled with its value ('n/a' when missing)."""
    width = 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series.items()):
        xs = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        heights = [v or 0.0 for v in values]
        bars = ax.bar(xs, heights, width, label=name, color=colours.get(name))
        for bar, value in zip(bars, values, strict=True):
            label = "n/a" if value is None else fmt.format(value)
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 1),
                textcoords="offset points",
            )
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)


def _colours(keys: Sequence[str]) -> dict:
    extra = iter(EXTRA_COLOURS)
    return {key: COLOURS.get(key) or next(extra, "#000000") for key in keys}


def render(results: Mapping[str, Any], path: Path) -> None:
    bots: Mapping[str, Mapping[str, Any]] = results.get("bots", {})
    keys = list(bots)
    colours = _colours(keys)
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    fig.suptitle("This assistant vs a stock `rasa init` bot (same machine, same run)", fontsize=13)

    levels = [level for level in LEVEL_ORDER if any(level in bot.get("load", {}) for bot in bots.values())]
    names = ["sequential" if level == "sequential" else f"{level[1:]} at once" for level in levels]

    ax = axes[0][0]
    series = {}
    for key in keys:
        series[f"{key} p50"] = [_value(bots[key], "load", level, "p50_ms") for level in levels]
        series[f"{key} p50"].append(_value(bots[key], "parse", "p50_ms"))
        series[f"{key} p95"] = [_value(bots[key], "load", level, "p95_ms") for level in levels]
        series[f"{key} p95"].append(_value(bots[key], "parse", "p95_ms"))
    shade = {f"{key} p50": colours[key] for key in keys} | {f"{key} p95": colours[key] for key in keys}
    _grouped(ax, [*names, "/model/parse\n(NLU only, seq.)"], series, shade)
    for patch_group, name in zip(ax.containers, series, strict=True):
        if name.endswith("p95"):
            for patch in patch_group:
                patch.set_alpha(0.45)
    ax.set_title("Per-message latency, REST webhook (ms; solid p50, light p95)", fontsize=10)
    ax.set_yscale("log")
    ax.legend(fontsize=7)

    ax = axes[0][1]
    _grouped(ax, names, {key: [_value(bots[key], "load", level, "rate_per_s") for level in levels] for key in keys}, colours)
    ax.set_title("Throughput (messages/s)", fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[0][2]
    groups = ["spawn → Rasa answers HTTP", "spawn → first answer"]
    startup = {key: [_value(bots[key], "startup", "http_up_s"), _value(bots[key], "startup", "first_answer_s")] for key in keys}
    _grouped(ax, groups, startup, colours, fmt="{:.1f}")
    ax.set_title("Start-up (s)", fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[1][0]
    groups = ["full (--force)", "unchanged: rasa train", "unchanged: make model"]
    training = {
        key: [
            _value(bots[key], "training", "full_s"),
            _value(bots[key], "training", "retrain_rasa_cache_s"),
            _value(bots[key], "training", "retrain_make_model_s"),
        ]
        for key in keys
    }
    _grouped(ax, groups, training, colours, fmt="{:.1f}")
    ax.set_title("Training time (s; make model: ours only)", fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[1][1]
    memory = {key: [_value(bots[key], "memory", "rasa_rss_mb"), _value(bots[key], "memory", "actions_rss_mb")] for key in keys}
    _grouped(ax, ["Rasa server", "action server"], memory, colours)
    ax.axhline(1024, color="#ef6c00", linestyle="--", linewidth=1)
    ax.annotate("1 GiB target", (1.3, 1024), fontsize=7, color="#ef6c00", va="bottom", ha="right")
    ax.set_title("Resident memory after the load test (MiB)", fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[1][2]
    intake = results.get("intake", {})
    rates: List[Optional[float]] = [_value(intake, "intake", "rate_per_s"), _value(intake, "bare", "rate_per_s")]
    _grouped(ax, ["our intake", "bare FastAPI"], {"req/s": rates}, {"req/s": "#1565c0"})
    ax.set_title(f"POST /api/leads, {intake.get('concurrency', '?')} concurrent clients (req/s)", fontsize=10)

    fig.tight_layout(rect=(0, 0, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
