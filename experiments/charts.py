"""Small inline SVG charts for the results page, drawn here so the page needs no script and
no third-party library: lines over time, and a shaded band for an interval."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 560, 180, 36
COLOURS = ("#2f6fb0", "#c2571a", "#2e8b57", "#8a3ffc", "#b8860b", "#d12771", "#555")


def _scale(values: Sequence[float], lo_pad=0.0) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min([*finite, lo_pad]), max([*finite, lo_pad])
    if hi == lo:
        hi = lo + 1.0
    margin = (hi - lo) * 0.08
    return lo - margin, hi + margin


def _xy(i, n, v, lo, hi) -> tuple[float, float]:
    x = PAD + (WIDTH - 2 * PAD) * (i / max(n - 1, 1))
    y = HEIGHT - PAD + (PAD * 2 - HEIGHT) * (v - lo) / (hi - lo)
    return round(x, 1), round(y, 1)


def _frame(title: str, lo: float, hi: float, fmt, body: str, legend: str, xlabels) -> SafeString:
    zero = ""
    if lo < 0 < hi:
        _, y = _xy(0, 2, 0.0, lo, hi)
        zero = (
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y}" y2="{y}" stroke="#888" '
            'stroke-dasharray="4 3"/>'
        )
    # Safe: every text in the chart (titles, names, labels) went through escape() above or
    # here, and everything else is numbers this module formatted.
    return mark_safe(  # noqa: S308
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" class="chart" '
        'role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<text x="4" y="{PAD - 8}" font-size="11" fill="#555">{escape(fmt(hi))}</text>'
        f'<text x="4" y="{HEIGHT - PAD + 4}" font-size="11" fill="#555">{escape(fmt(lo))}</text>'
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11" fill="#555">{escape(xlabels[0])}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end" font-size="11" fill="#555">'
        f"{escape(xlabels[1])}</text>"
        f'<rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" height="{HEIGHT - 2 * PAD}" '
        f'fill="none" stroke="#ddd"/>{zero}{body}{legend}</svg>'
    )


def _legend(names: Sequence[str]) -> str:
    parts = []
    for i, name in enumerate(names):
        x = PAD + 110 * i
        parts.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>'
            f'<text x="{x + 14}" y="15" font-size="11" fill="#555">{escape(name)}</text>'
        )
    return "".join(parts)


def lines(title: str, series: dict[str, list[float | None]], fmt, xlabels=("", "")) -> SafeString:
    """One line per series over the same sample positions."""
    values = [v for s in series.values() for v in s if v is not None]
    lo, hi = _scale(values)
    body = []
    for i, (name, points) in enumerate(series.items()):
        n = len(points)
        path = " ".join(
            "{},{}".format(*_xy(j, n, v, lo, hi))
            for j, v in enumerate(points)
            if v is not None and math.isfinite(v)
        )
        colour = COLOURS[i % len(COLOURS)]
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2">'
            f"<title>{escape(name)}</title></polyline>"
        )
    return _frame(title, lo, hi, fmt, "".join(body), _legend(list(series)), xlabels)


def band(
    title: str,
    estimate: list[float | None],
    lower: list[float | None],
    upper: list[float | None],
    fmt,
    xlabels=("", ""),
) -> SafeString:
    """An estimate over time with its interval shaded around it, and the zero line."""
    lo, hi = _scale([v for v in lower + upper + estimate if v is not None], lo_pad=0.0)
    n = len(estimate)
    keep = [j for j in range(n) if None not in (estimate[j], lower[j], upper[j])]
    top = [_xy(j, n, upper[j], lo, hi) for j in keep]
    bottom = [_xy(j, n, lower[j], lo, hi) for j in reversed(keep)]
    polygon = " ".join(f"{x},{y}" for x, y in top + bottom)
    line = " ".join("{},{}".format(*_xy(j, n, estimate[j], lo, hi)) for j in keep)
    body = (
        f'<polygon points="{polygon}" fill="#2f6fb0" fill-opacity="0.18">'
        "<title>95% interval</title></polygon>"
        f'<polyline points="{line}" fill="none" stroke="{COLOURS[0]}" stroke-width="2">'
        "<title>estimate</title></polyline>"
    )
    return _frame(title, lo, hi, fmt, body, "", xlabels)
