"""Server-rendered SVG bar charts for the finance page (no script, no CDN).

Guarantees: bar lengths come from int fen with integer arithmetic; axis
ticks are whole-yuan 1/2/5 × 10ⁿ steps; every label is XML-escaped; the SVG
carries a <title> per bar so the exact amount shows on hover and is read by
screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from markupsafe import Markup

from app.money import format_money

BAR = "#0b6e4f"
BAR_LIGHT = "#b5dcc9"
GRID = "#d6dde5"
INK = "#1d2733"
MUTED = "#5b6775"
FONT = "font-family='Microsoft YaHei,PingFang SC,WenQuanYi Micro Hei,sans-serif'"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int  # fen
    reference: int | None = None  # e.g. the amount due, drawn as a light bar behind


def tick_step(largest_fen: int, ticks: int = 4) -> int:
    """A 1/2/5 × 10ⁿ whole-yuan step (in fen) giving about ``ticks`` ticks."""
    per_tick = max(1, -(-largest_fen // (ticks * 100)))
    magnitude = 1
    while magnitude * 10 <= per_tick:
        magnitude *= 10
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= per_tick:
            return multiple * magnitude * 100
    raise AssertionError("unreachable")


def _yuan_label(fen: int) -> str:
    return f"{fen // 100:,}"


def _scale(value: int, top: int, length: int) -> int:
    return value * length // top if top else 0


def column_chart(bars: Sequence[Bar], title: str, width: int = 640, height: int = 240) -> Markup:
    """Vertical bars, one per label (months)."""
    left, right, top_pad, bottom = 64, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    largest = max([b.value for b in bars] + [b.reference or 0 for b in bars] + [0])
    step = tick_step(largest)
    top = max(step, -(-largest // step) * step)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' viewBox='0 0 {width} {height}' "
        f"width='100%' {FONT} font-size='12'>",
        f"<title>{escape(title)}</title>",
        f"<text x='{left}' y='16' fill='{INK}' font-size='14' font-weight='bold'>"
        f"{escape(title)}</text>",
    ]
    for tick in range(0, top + 1, step):
        y = top_pad + plot_h - _scale(tick, top, plot_h)
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y}' y2='{y}' stroke='{GRID}'/>"
            f"<text x='{left - 6}' y='{y + 4}' text-anchor='end' fill='{MUTED}'>"
            f"{_yuan_label(tick)}</text>"
        )
    slot = plot_w // max(1, len(bars))
    bar_w = max(4, slot * 3 // 5)
    for i, bar in enumerate(bars):
        x = left + i * slot + (slot - bar_w) // 2
        h = _scale(bar.value, top, plot_h)
        y = top_pad + plot_h - h
        parts.append(
            f"<rect x='{x}' y='{y}' width='{bar_w}' height='{h}' fill='{BAR}'>"
            f"<title>{escape(bar.label)}: {format_money(bar.value)}</title></rect>"
            f"<text x='{x + bar_w // 2}' y='{height - bottom + 16}' text-anchor='middle' "
            f"fill='{INK}'>{escape(bar.label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(bars: Sequence[Bar], title: str, width: int = 640) -> Markup:
    """Horizontal bars, one row per label (clinics); a light bar shows the reference."""
    left, right, top_pad, row_h = 170, 90, 30, 22
    height = top_pad + row_h * max(1, len(bars)) + 24
    plot_w = width - left - right
    largest = max([b.value for b in bars] + [b.reference or 0 for b in bars] + [0])
    step = tick_step(largest)
    top = max(step, -(-largest // step) * step)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' viewBox='0 0 {width} {height}' "
        f"width='100%' {FONT} font-size='12'>",
        f"<title>{escape(title)}</title>",
        f"<text x='0' y='16' fill='{INK}' font-size='14' font-weight='bold'>{escape(title)}</text>",
    ]
    axis_y = top_pad + row_h * max(1, len(bars))
    for tick in range(0, top + 1, step):
        x = left + _scale(tick, top, plot_w)
        parts.append(
            f"<line x1='{x}' x2='{x}' y1='{top_pad}' y2='{axis_y}' stroke='{GRID}'/>"
            f"<text x='{x}' y='{axis_y + 16}' text-anchor='middle' fill='{MUTED}'>"
            f"{_yuan_label(tick)}</text>"
        )
    for i, bar in enumerate(bars):
        y = top_pad + i * row_h + 4
        if bar.reference:
            parts.append(
                f"<rect x='{left}' y='{y}' width='{_scale(bar.reference, top, plot_w)}' "
                f"height='{row_h - 8}' fill='{BAR_LIGHT}'/>"
            )
        w = _scale(bar.value, top, plot_w)
        shown = format_money(bar.value)
        parts.append(
            f"<text x='{left - 6}' y='{y + row_h // 2 + 2}' text-anchor='end' fill='{INK}'>"
            f"{escape(bar.label)}</text>"
            f"<rect x='{left}' y='{y}' width='{w}' height='{row_h - 8}' fill='{BAR}'>"
            f"<title>{escape(bar.label)}: {shown}</title></rect>"
            f"<text x='{left + max(w, _scale(bar.reference or 0, top, plot_w)) + 4}' "
            f"y='{y + row_h // 2 + 2}' fill='{MUTED}'>{shown}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
