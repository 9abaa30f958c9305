"""Charts as inline SVG drawn on the server: no script and no style attribute, so they stay within the console's
Content-Security-Policy (script-src 'self', style-src 'self'); colours are presentation attributes. Every text is
escaped. Each chart comes with a table of the same numbers on the page (the accessible reading)."""

from __future__ import annotations

import math
from html import escape
from typing import Callable, Dict, List, Optional, Sequence

COLORS = ("#1f6feb", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#5c940d", "#0b7285", "#e67700")
Series = Dict[str, Sequence[Optional[float]]]


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _wrap(label: str, width: float) -> List[str]:
    """A label on one line, or two split at the space nearest the middle when it is wider than its band
    (about 6.5 px per Latin character at 11 px, 11 px per Chinese one)."""
    size = sum(11 if ord(c) > 0x2E80 else 6.5 for c in label)
    if size <= width - 4 or " " not in label:
        return [label]
    middle = len(label) / 2
    cut = min((i for i, c in enumerate(label) if c == " "), key=lambda i: abs(i - middle))
    return [label[:cut], label[cut + 1:]]


def _peak(highest: float) -> float:
    """A top for the axis: a multiple of 4 (five gridlines on round numbers), at least 4."""
    return max(4.0, -(-highest // 4) * 4) if highest > 4 else 4.0


class _Canvas:
    def __init__(self, title: str, labels: Sequence[str], series_names: Sequence[str], width: int, height: int) -> None:
        self.left, self.right, self.top, self.bottom = 52, 12, 28, 56
        self.width, self.height = width, height
        self.plot_w, self.plot_h = width - self.left - self.right, height - self.top - self.bottom
        self.labels, self.names = list(labels), list(series_names)
        self.legend_rows = (len(self.names) + 3) // 4
        self.parts: List[str] = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 22 * self.legend_rows}" '
            f'role="img" aria-label="{escape(title)}" class="chart">',
            f"<title>{escape(title)}</title>",
        ]

    def axis(self, peak: float, fmt: Callable[[float], str]) -> None:
        base = self.top + self.plot_h
        self.parts.append(f'<line x1="{self.left}" y1="{base}" x2="{self.width - self.right}" y2="{base}" stroke="#888"/>')
        for tick in range(5):
            value = peak * tick / 4
            y = base - self.plot_h * tick / 4
            self.parts.append(f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.width - self.right}" y2="{y:.1f}" '
                              f'stroke="#e5e5e5"/>')
            self.parts.append(f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                              f'fill="#555">{escape(fmt(value))}</text>')

    def band(self) -> float:
        return self.plot_w / max(1, len(self.labels))

    def y(self, value: float, peak: float) -> float:
        return self.top + self.plot_h - self.plot_h * value / peak

    def x_labels(self) -> None:
        band = self.band()
        step = max(1, math.ceil(len(self.labels) / 13))
        for i, label in enumerate(self.labels):
            if i % step:
                continue  # many weeks: every other label, so they do not overlap
            x, y = self.left + band * i + band / 2, self.top + self.plot_h + 16
            lines = _wrap(label, band)
            spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if n == 0 else 13}">{escape(line)}</tspan>'
                            for n, line in enumerate(lines))
            self.parts.append(f'<text x="{x:.1f}" y="{y}" text-anchor="middle" font-size="11" fill="#222">{spans}</text>')

    def legend(self) -> None:
        for j, name in enumerate(self.names):
            lx, ly = self.left + (j % 4) * 180, self.height - 14 + 22 * (j // 4)
            self.parts.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{COLORS[j % len(COLORS)]}"/>')
            self.parts.append(f'<text x="{lx + 18}" y="{ly}" font-size="12" fill="#222">{escape(name)}</text>')

    def done(self) -> str:
        self.parts.append("</svg>")
        return "".join(self.parts)


def bar_chart(title: str, series: Series, labels: Sequence[str], width: int = 760, height: int = 280) -> str:
    """Grouped bars: one group per label, one bar per series (a missing value draws nothing)."""
    canvas = _Canvas(title, labels, list(series), width, height)
    highest = max([v for values in series.values() for v in values if v is not None] + [0])
    peak = _peak(highest)
    canvas.axis(peak, _number)
    band = canvas.band()
    bar = max(4.0, (band - 16) / max(1, len(series)))
    for i, label in enumerate(labels):
        x0 = canvas.left + band * i + 8
        for j, (name, values) in enumerate(series.items()):
            value = values[i] if i < len(values) else None
            if value is None:
                continue
            y = canvas.y(value, peak)
            x = x0 + bar * j
            canvas.parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{canvas.top + canvas.plot_h - y:.1f}" '
                f'fill="{COLORS[j % len(COLORS)]}"><title>{escape(name)} · {escape(label)}: {_number(value)}</title></rect>')
            if value:
                canvas.parts.append(f'<text x="{x + (bar - 2) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="10" '
                                    f'fill="#333">{_number(value)}</text>')
    canvas.x_labels()
    canvas.legend()
    return canvas.done()


def stacked_chart(title: str, series: Series, labels: Sequence[str], width: int = 760, height: int = 280) -> str:
    """Stacked bars: one bar per label, one segment per series (e.g. leads per week by category)."""
    canvas = _Canvas(title, labels, list(series), width, height)
    totals = [sum((values[i] or 0) for values in series.values() if i < len(values)) for i in range(len(labels))]
    peak = _peak(max(totals + [0]))
    canvas.axis(peak, _number)
    band = canvas.band()
    bar = max(4.0, min(48.0, band - 8))
    for i, label in enumerate(labels):
        x = canvas.left + band * i + (band - bar) / 2
        stacked = 0.0
        for j, (name, values) in enumerate(series.items()):
            value = (values[i] if i < len(values) else None) or 0
            if not value:
                continue
            y_top, y_bottom = canvas.y(stacked + value, peak), canvas.y(stacked, peak)
            canvas.parts.append(
                f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{bar:.1f}" height="{y_bottom - y_top:.1f}" '
                f'fill="{COLORS[j % len(COLORS)]}"><title>{escape(name)} · {escape(label)}: {_number(value)}</title></rect>')
            stacked += value
        if stacked:
            canvas.parts.append(f'<text x="{x + bar / 2:.1f}" y="{canvas.y(stacked, peak) - 3:.1f}" text-anchor="middle" '
                                f'font-size="10" fill="#333">{_number(stacked)}</text>')
    canvas.x_labels()
    canvas.legend()
    return canvas.done()


def line_chart(title: str, series: Series, labels: Sequence[str], unit: str = "", top: Optional[float] = None,
               width: int = 760, height: int = 260) -> str:
    """Lines with dots (e.g. the qualification rate per week); a missing value breaks the line."""
    canvas = _Canvas(title, labels, list(series), width, height)
    highest = max([v for values in series.values() for v in values if v is not None] + [0])
    peak = top if top is not None else _peak(highest)
    canvas.axis(peak, lambda v: _number(v) + unit)
    band = canvas.band()
    for j, (name, values) in enumerate(series.items()):
        color = COLORS[j % len(COLORS)]
        run: List[str] = []
        for i, label in enumerate(labels):
            value = values[i] if i < len(values) else None
            if value is None:
                if len(run) > 1:
                    canvas.parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2"/>')
                run = []
                continue
            x, y = canvas.left + band * i + band / 2, canvas.y(value, peak)
            run.append(f"{x:.1f},{y:.1f}")
            canvas.parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{escape(name)} · '
                                f'{escape(label)}: {_number(value)}{escape(unit)}</title></circle>')
        if len(run) > 1:
            canvas.parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2"/>')
    canvas.x_labels()
    canvas.legend()
    return canvas.done()
