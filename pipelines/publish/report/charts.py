"""Hand-built SVG charts: small, offline, and accessible.

Hand-built rather than Vega-Lite so each chart can carry an SVG <title>/<desc>, draw
series with shapes and dash patterns (never colour alone) and label values directly.
Every chart is paired in the page with a data table as its text alternative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 680
INK = "#0b0c0c"
MUTED = "#505a5f"
GRID = "#b1b4b6"
# Two hues with ≥ 3:1 contrast on white (WCAG 1.4.11); series also differ by shape/dash.
SEN_BLUE = "#1d4e89"
NOSEN_GREY = "#3d3d3d"


@dataclass(frozen=True)
class Style:
    short: str
    shape: str  # circle | diamond | square | triangle | ring
    dash: str
    colour: str


STYLES: dict[str, Style] = {
    "All pupils": Style("All pupils", "circle", "", INK),
    "All SEN provision": Style("All SEN", "diamond", "", SEN_BLUE),
    "Education, health and care plan": Style("EHC plan", "square", "7 4", SEN_BLUE),
    "SEN support / SEN without an EHC plan": Style("SEN support", "triangle", "2 3", SEN_BLUE),
    "No SEN provision": Style("No SEN", "ring", "10 3 2 3", NOSEN_GREY),
}


@dataclass(frozen=True)
class Point:
    value: float | None
    lower: float | None = None
    upper: float | None = None
    note: str = ""  # shown instead of a value when hidden


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def marker(shape: str, x: float, y: float, colour: str, size: float = 6) -> str:
    s = size
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s}" fill="{colour}"/>'
    if shape == "ring":
        return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s - 1}" fill="#fff" '
                f'stroke="{colour}" stroke-width="2.5"/>')
    if shape == "square":
        return (f'<rect x="{x - s + 1:.1f}" y="{y - s + 1:.1f}" width="{2 * s - 2}" '
                f'height="{2 * s - 2}" fill="{colour}"/>')
    if shape == "diamond":
        return (f'<path d="M{x:.1f} {y - s - 1:.1f}L{x + s + 1:.1f} {y:.1f}L{x:.1f} '
                f'{y + s + 1:.1f}L{x - s - 1:.1f} {y:.1f}Z" fill="{colour}"/>')
    return (f'<path d="M{x:.1f} {y - s:.1f}L{x + s:.1f} {y + s - 1:.1f}L{x - s:.1f} '
            f'{y + s - 1:.1f}Z" fill="{colour}"/>')


def nice_domain(values: Sequence[float], pad: float = 5) -> tuple[float, float]:
    """A 0-100 percentage axis, zoomed to tens around the data when it is bunched up."""
    if not values:
        return 0.0, 100.0
    lo = max(0.0, math.floor((min(values) - pad) / 10) * 10)
    hi = min(100.0, math.ceil((max(values) + pad) / 10) * 10)
    if hi - lo < 20:
        lo, hi = max(0.0, hi - 20), max(hi, 20.0)
    return lo, hi


def _open(chart_id: str, height: int, title: str, desc: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="13">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>'
    )


def gap_chart(
    chart_id: str, title: str, desc: str, rows: Sequence[tuple[str, Point]]
) -> Markup:
    """Dots with 95% interval whiskers, one row per SEN breakdown, No SEN as reference."""
    left, right, top, row_h = 150, WIDTH - 150, 34, 34
    height = top + row_h * len(rows) + 34
    shown = [v for _, p in rows for v in (p.value, p.lower, p.upper) if v is not None]
    lo, hi = nice_domain(shown)

    def sx(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    parts = [_open(chart_id, height, title, desc)]
    step = 10 if hi - lo <= 50 else 20
    tick = lo
    while tick <= hi + 1e-9:
        x = sx(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 8}" '
                     f'y2="{height - 28}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" '
                     f'fill="{MUTED}">{_num(tick)}%</text>')
        tick += step
    if lo > 0:
        parts.append(f'<text x="{left}" y="{top - 14}" fill="{MUTED}" font-size="12">'
                     f'Axis starts at {_num(lo)}%</text>')
    reference = dict(rows).get("No SEN provision")
    if reference and reference.value is not None:
        x = sx(reference.value)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 8}" y2="{height - 28}" '
                     f'stroke="{NOSEN_GREY}" stroke-width="1.5" stroke-dasharray="4 3"/>')
    for i, (label, point) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        style = STYLES.get(label, STYLES["All pupils"])
        parts.append(f'<text x="{left - 12}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="{INK}">{escape(style.short)}</text>')
        if point.value is None:
            # A white halo keeps the words readable where they cross the reference line.
            parts.append(f'<text x="{left + 4}" y="{y + 4:.1f}" fill="{MUTED}" '
                         f'font-style="italic" stroke="#fff" stroke-width="4" '
                         f'paint-order="stroke">{escape(point.note or "not available")}</text>')
            continue
        if point.lower is not None and point.upper is not None:
            x1, x2 = sx(point.lower), sx(point.upper)
            parts.append(f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="{style.colour}" stroke-width="2"/>')
            for xe in (x1, x2):
                parts.append(f'<line x1="{xe:.1f}" x2="{xe:.1f}" y1="{y - 6:.1f}" '
                             f'y2="{y + 6:.1f}" stroke="{style.colour}" stroke-width="2"/>')
        parts.append(marker(style.shape, sx(point.value), y, style.colour))
        # Values keep the one decimal place they are published with.
        text = f"{point.value:.1f}%"
        if point.lower is not None and point.upper is not None:
            text += f" ({point.lower:.1f} to {point.upper:.1f})"
        parts.append(f'<text x="{right + 12}" y="{y + 4:.1f}" fill="{INK}">{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_chart(
    chart_id: str,
    title: str,
    desc: str,
    years: Sequence[str],
    series: Sequence[tuple[str, Sequence[Point]]],
) -> Markup:
    """One line per SEN breakdown across years, with 95% whiskers dodged apart."""
    left, right, top, bottom = 56, WIDTH - 24, 58, 262
    height = bottom + 34
    shown = [v for _, pts in series for p in pts for v in (p.value, p.lower, p.upper)
             if v is not None]
    lo, hi = nice_domain(shown)

    def sy(v: float) -> float:
        return bottom - (v - lo) / (hi - lo) * (bottom - top)

    n = max(len(years), 1)
    xs = [left + 40 + (right - left - 80) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
    parts = [_open(chart_id, height, title, desc)]
    # Legend: line sample + marker + words, so no series relies on colour.
    lx = left
    for label, _ in series:
        style = STYLES.get(label, STYLES["All pupils"])
        parts.append(f'<line x1="{lx}" x2="{lx + 30}" y1="14" y2="14" stroke="{style.colour}" '
                     f'stroke-width="2.5" stroke-dasharray="{style.dash}"/>')
        parts.append(marker(style.shape, lx + 15, 14, style.colour, 5))
        parts.append(f'<text x="{lx + 36}" y="18" fill="{INK}">{escape(style.short)}</text>')
        lx += 36 + 8 * len(style.short) + 28
    step = 10 if hi - lo <= 50 else 20
    tick = lo
    while tick <= hi + 1e-9:
        y = sy(tick)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="{MUTED}">{_num(tick)}%</text>')
        tick += step
    if lo > 0:
        parts.append(f'<text x="{left}" y="{top - 14}" fill="{MUTED}" font-size="12">'
                     f'Axis starts at {_num(lo)}%</text>')
    for x, year in zip(xs, years, strict=True):
        parts.append(f'<text x="{x:.1f}" y="{bottom + 22}" text-anchor="middle" '
                     f'fill="{INK}">{escape(year)}</text>')
    k = len(series)
    for s, (label, points) in enumerate(series):
        style = STYLES.get(label, STYLES["All pupils"])
        dx = (s - (k - 1) / 2) * 7  # dodge so whiskers of different series do not overlap
        segment: list[str] = []
        paths: list[list[str]] = []
        for x, p in zip(xs, points, strict=True):
            if p.value is None:
                if segment:
                    paths.append(segment)
                segment = []
                continue
            segment.append(f"{x + dx:.1f} {sy(p.value):.1f}")
        if segment:
            paths.append(segment)
        for seg in paths:
            if len(seg) > 1:
                parts.append(f'<path d="M{"L".join(seg)}" fill="none" stroke="{style.colour}" '
                             f'stroke-width="2.5" stroke-dasharray="{style.dash}"/>')
        for x, p in zip(xs, points, strict=True):
            if p.value is None:
                continue
            if p.lower is not None and p.upper is not None:
                parts.append(f'<line x1="{x + dx:.1f}" x2="{x + dx:.1f}" '
                             f'y1="{sy(p.lower):.1f}" y2="{sy(p.upper):.1f}" '
                             f'stroke="{style.colour}" stroke-width="1.5"/>')
            parts.append(marker(style.shape, x + dx, sy(p.value), style.colour, 5))
    parts.append("</svg>")
    return Markup("".join(parts))
